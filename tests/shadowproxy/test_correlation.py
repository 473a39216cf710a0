"""The correlation map: pairs both ways, LRU and TTL bounds, restart survival, id rewriting."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from shadowproxy.correlation import CORRELATION_FILE, CorrelationMap, id_in_request, rewrite_id
from shadowproxy.types import RouteGroup, RouteSpec, Side

from .factories import Clock


def test_twins_resolve_from_either_side() -> None:
    correlation = CorrelationMap()
    correlation.learn("L1", "A1")
    assert correlation.twin("L1", Side.APP) == "A1"
    assert correlation.twin("A1", Side.LEGACY) == "L1"
    assert correlation.twin("A1", Side.APP) == "A1"
    assert correlation.twin("L1", Side.LEGACY) == "L1"
    assert correlation.twin("unknown", Side.APP) is None
    aliases = correlation.aliases
    assert aliases["A1"] == "L1"
    assert "A1" in aliases
    assert "L1" not in aliases
    assert aliases.get("nope") is None
    with pytest.raises(KeyError):
        aliases["nope"]


def test_lru_bound_evicts_the_least_recently_used() -> None:
    correlation = CorrelationMap(max_entries=2)
    correlation.learn("L1", "A1")
    correlation.learn("L2", "A2")
    assert correlation.twin("L1", Side.APP) == "A1"  # L1 is now the most recent
    correlation.learn("L3", "A3")
    assert len(correlation) == 2
    assert correlation.twin("L2", Side.APP) is None
    assert correlation.twin("A2", Side.LEGACY) is None
    assert correlation.twin("L1", Side.APP) == "A1"


def test_ttl_expires_pairs() -> None:
    clock = Clock()
    correlation = CorrelationMap(ttl_s=60, clock=clock)
    correlation.learn("L1", "A1")
    clock.now += 61
    assert correlation.twin("L1", Side.APP) is None
    assert len(correlation) == 0


def test_pairs_survive_a_restart_and_the_log_is_compacted(tmp_path: Path) -> None:
    clock = Clock()
    first = CorrelationMap(tmp_path, ttl_s=100, clock=clock)
    first.learn("old", "old-app")
    clock.now += 50
    first.learn("L1", "A1")
    first.learn("L1", "A1-again")  # a re-learned id replaces its pair
    first.close()
    with (tmp_path / CORRELATION_FILE).open("a") as log:
        log.write('{"legacy": "torn')  # a crash mid-write
    clock.now += 60  # "old" is past its TTL now
    second = CorrelationMap(tmp_path, ttl_s=100, clock=clock)
    assert second.twin("L1", Side.APP) == "A1-again"
    assert second.twin("old", Side.APP) is None
    assert len((tmp_path / CORRELATION_FILE).read_text().splitlines()) == 1
    second.learn("L2", "A2")
    second.close()
    third = CorrelationMap(tmp_path, clock=clock)
    assert third.twin("A2", Side.LEGACY) == "L2"
    third.close()


async def test_resolve_waits_for_a_create_in_flight_bounded() -> None:
    correlation = CorrelationMap()
    creating = correlation.begin_create()

    async def finish_create() -> None:
        await asyncio.sleep(0)
        correlation.learn("L1", "A1")
        correlation.end_create(creating)

    waiter = asyncio.ensure_future(correlation.resolve("L1", Side.APP, timeout_s=10))
    await finish_create()
    assert await waiter == "A1"
    assert await correlation.resolve("L9", Side.APP, timeout_s=10) is None  # nothing in flight

    stuck = correlation.begin_create()
    assert await correlation.resolve("L9", Side.APP, timeout_s=0.05) is None
    correlation.end_create(stuck)


STATUS = RouteSpec(
    RouteGroup.ANALYSIS, "/status/{task_id}", frozenset({"GET"}), "p", id_param="task_id"
)
BY_QUERY = RouteSpec(
    RouteGroup.PORTFOLIO, "/positions/{ticker}", frozenset({"DELETE"}), "p", id_param="position_id"
)


@pytest.mark.parametrize(
    ("spec", "params", "target", "expected_id", "rewritten"),
    [
        pytest.param(
            STATUS, {"task_id": "L1"}, "/status/L1?x=L1", "L1", "/status/A%2F1?x=L1", id="path"
        ),
        pytest.param(
            BY_QUERY,
            {"ticker": "L1"},
            "/positions/L1?a=%20&position_id=L1&b=1&b=2",
            "L1",
            "/positions/L1?a=%20&position_id=A%2F1&b=1&b=2",
            id="query",
        ),
        pytest.param(BY_QUERY, {"ticker": "X"}, "/positions/X?a=1", None, None, id="absent"),
    ],
)
def test_ids_are_found_and_rewritten_leaving_every_other_byte(
    spec: RouteSpec,
    params: dict[str, str],
    target: str,
    expected_id: str | None,
    rewritten: str | None,
) -> None:
    found = id_in_request(spec, params, target)
    assert found == expected_id
    if found is not None:
        assert rewrite_id(spec, target, found, "A/1") == rewritten


async def test_resolve_waits_only_for_creates_begun_before_the_lookup() -> None:
    """A busy proxy always has a create in flight: later ones cannot have minted the id the
    client holds, so an uncorrelated id is not held for the whole timeout behind them."""
    correlation = CorrelationMap()
    earlier = correlation.begin_create()
    waiter = asyncio.ensure_future(correlation.resolve("L9", Side.APP, timeout_s=30))
    await asyncio.sleep(0)
    later = correlation.begin_create()  # started after the lookup, and never ends here
    correlation.end_create(earlier)
    # settled as soon as the earlier create ended: far below the 30 s timeout
    assert await asyncio.wait_for(waiter, 1) is None
    correlation.end_create(later)
