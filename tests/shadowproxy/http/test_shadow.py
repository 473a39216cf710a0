"""Shadowing: bounded, sampled, policy-aware, correlated, isolated, off the client's clock."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from shadowproxy.diff.config import ConfigRoute, DiffConfig
from shadowproxy.types import Comparison, DiffLogStats, Outcome, RouteGroup, RouteSpec, SkipReason

from ..factories import ProxyFactory
from ..ws_fakes import until

DIVERGING = DiffConfig(
    routes=(
        ConfigRoute(
            RouteSpec(RouteGroup.REPORTS, "/echo/{name}", frozenset({"GET"}), "json_fields"),
            key_fields=("side", "method"),
        ),
    )
)


def _paths(comparisons: list[Comparison]) -> Counter[str]:
    return Counter(c.exchange.path for c in comparisons)


async def test_full_shadow_capacity_drops_and_counts_queue_full(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy(
        {"SHADOWPROXY_MAX_INFLIGHT_SHADOWS": "1", "SHADOWPROXY_SHUTDOWN_GRACE_S": "0"}
    )
    proxy.app.delays["/echo"] = 30
    for _ in range(3):
        assert (await proxy.client.get("/echo")).status == 200
    assert len(proxy.legacy.seen) == 3
    assert len(proxy.app.seen) == 1
    assert proxy.metric("shadowproxy_shadow_inflight") == 1
    skipped = proxy.metric(
        "shadowproxy_shadow_skipped_total", route_group="system", reason="queue_full"
    )
    assert skipped == 2


async def test_sampling_is_consistent_per_correlated_id(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy({"SHADOWPROXY_SAMPLE_RATE": "0.5"})
    ids = [f"AAPL_20260413_1200{n:02d}_abcdef" for n in range(20)]
    for _ in range(3):
        for task_id in ids:
            assert (await proxy.client.get(f"/api/analysis/status/{task_id}")).status == 200
    sampled_out = proxy.metric(
        "shadowproxy_shadow_skipped_total", route_group="analysis", reason="sampled_out"
    )
    comparisons = await proxy.sink.wait_for(60 - int(sampled_out))
    per_id = _paths(comparisons)
    assert set(per_id.values()) == {3}  # every poll of a shadowed id, none of the others
    assert 0 < len(per_id) < len(ids)


async def test_unknown_writes_are_not_mirrored_but_tradingagents_writes_are(
    make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy()
    assert (await proxy.client.post("/not/a/known/route", data=b"x")).status == 200
    assert (
        await proxy.client.post("/api/portfolio/watchlist", json={"ticker": "AAPL"})
    ).status == 200
    await proxy.sink.wait_for(1)
    assert [seen.raw_path for seen in proxy.app.seen] == ["/api/portfolio/watchlist"]
    assert proxy.app.seen[0].headers["X-Shadow-Request"] == "1"
    policy = proxy.metric(
        "shadowproxy_shadow_skipped_total", route_group="system", reason="side_effect_policy"
    )
    assert policy == 1


async def test_shadow_off_skips_every_shadow(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy({"SHADOWPROXY_SHADOW": "off"})
    assert (await proxy.client.get("/echo")).status == 200
    assert proxy.app.seen == []
    assert (
        proxy.metric("shadowproxy_shadow_skipped_total", route_group="system", reason="shadow_off")
        == 1
    )


async def test_ids_are_rewritten_for_the_shadow_and_after_a_flip_for_the_authoritative(
    make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy()
    created = await (await proxy.client.post("/api/analysis/start", json={"ticker": "AAPL"})).json()
    assert created == {"task_id": "legacy-task-1"}
    await proxy.sink.wait_for(1)

    await proxy.client.get("/api/analysis/status/legacy-task-1")
    await proxy.sink.wait_for(2)
    assert proxy.legacy.paths()[-1] == "/api/analysis/status/legacy-task-1"
    assert proxy.app.paths()[-1] == "/api/analysis/status/app-task-1"

    flip = await proxy.admin.put("/flags/analysis", json={"side": "app", "reason": "canary"})
    assert flip.status == 200
    response = await proxy.client.get("/api/analysis/status/legacy-task-1")
    assert response.headers["X-Shadowproxy-Authoritative"] == "app"
    assert (await response.json())["task_id"] == "app-task-1"
    await proxy.sink.wait_for(3)
    assert proxy.legacy.paths()[-1] == "/api/analysis/status/legacy-task-1"


async def test_query_parameter_ids_are_rewritten(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy()
    await proxy.client.post("/api/portfolio/positions", json={"ticker": "AAPL"})
    await proxy.sink.wait_for(1)
    target = "/api/portfolio/positions/AAPL?account=main&position_id=legacy-pos-1&x=%20"
    await proxy.client.delete(target)
    await proxy.sink.wait_for(2)
    assert proxy.legacy.paths()[-1] == target
    assert proxy.app.paths()[-1] == (
        "/api/portfolio/positions/AAPL?account=main&position_id=app-pos-1&x=%20"
    )


async def test_a_poll_waits_for_the_twin_still_being_created(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy()
    proxy.app.delays["/api/analysis/start"] = 0.5
    created = await (await proxy.client.post("/api/analysis/start", json={})).json()
    assert proxy.app.paths() == ["/api/analysis/start"]  # the shadow create is still running
    status = await proxy.client.get(f"/api/analysis/status/{created['task_id']}")
    assert status.status == 200
    comparisons = await proxy.sink.wait_for(2)
    assert proxy.app.paths() == ["/api/analysis/start", "/api/analysis/status/app-task-1"]
    assert all(c.outcome is not Outcome.SKIPPED for c in comparisons)


async def test_an_id_without_a_twin_is_skipped_uncorrelated(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy()
    assert (await proxy.client.get("/api/analysis/status/never-created")).status == 200
    [comparison] = await proxy.sink.wait_for(1)
    assert comparison.outcome is Outcome.SKIPPED
    assert comparison.reason == SkipReason.UNCORRELATED
    assert proxy.app.seen == []


async def test_comparisons_are_published_and_counted(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy(config=DIVERGING)
    assert (await proxy.client.get("/echo/one")).status == 200
    [comparison] = await proxy.sink.wait_for(1)
    assert comparison.outcome is Outcome.MISMATCH
    assert [d.field for d in comparison.differences] == ["side"]
    route = {"route_group": "reports", "route": "/echo/{name}"}
    assert proxy.metric("shadowproxy_comparisons_total", **route, outcome="mismatch") == 1
    assert (
        proxy.metric("shadowproxy_field_mismatches_total", route_group="reports", field="side") == 1
    )


async def test_a_shadow_that_is_down_is_a_shadow_error_not_a_client_error(
    make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy()
    assert proxy.app.server is not None
    await proxy.app.server.close()
    response = await proxy.client.get("/echo")
    assert response.status == 200
    [comparison] = await proxy.sink.wait_for(1)
    assert comparison.outcome is Outcome.SHADOW_ERROR


class _BrokenSink:
    def __init__(self) -> None:
        self.calls = 0

    def publish(self, comparison: Comparison) -> None:
        self.calls += 1
        raise RuntimeError("disk full")

    @property
    def stats(self) -> DiffLogStats:
        return DiffLogStats(failed=self.calls)

    async def aclose(self) -> None:
        return None


async def test_every_shadow_failure_is_counted_and_never_reaches_the_client(
    make_proxy: ProxyFactory,
) -> None:
    broken_profile = DiffConfig(
        routes=(
            ConfigRoute(
                RouteSpec(RouteGroup.SYSTEM, "/broken", frozenset({"GET"}), "no_such_profile")
            ),
        )
    )
    proxy = await make_proxy(config=broken_profile)
    response = await proxy.client.get("/broken")
    assert response.status == 200
    assert (await response.json())["side"] == "legacy"
    await proxy.wait_idle()
    assert proxy.metric("shadowproxy_shadow_failures_total", stage="diff") == 1
    assert proxy.sink.comparisons == []


async def test_a_failing_sink_is_counted_as_a_publish_failure(make_proxy: ProxyFactory) -> None:
    sink = _BrokenSink()
    proxy = await make_proxy(sink=sink)
    assert (await proxy.client.get("/echo")).status == 200
    await proxy.wait_idle()
    assert sink.calls == 1
    assert proxy.metric("shadowproxy_shadow_failures_total", stage="publish") == 1


async def test_clients_are_answered_while_their_shadows_are_still_waiting(
    make_proxy: ProxyFactory,
) -> None:
    """Causal, not timed: every client answer arrives while its shadow call is still pending.

    How much latency a slow shadow adds is measured in `make bench` (ratios in one run).
    """
    proxy = await make_proxy({"SHADOWPROXY_SHUTDOWN_GRACE_S": "0"})
    proxy.app.delays["/echo"] = 60.0  # far beyond the test: the shadows never answer in it
    for _ in range(7):
        response = await proxy.client.get("/echo")
        assert response.status == 200
        assert (await response.json())["side"] == "legacy"
    await until(lambda: len(proxy.app.seen) == 7)  # each shadow call reaches the app ...
    assert proxy.metric("shadowproxy_shadow_inflight") == 7  # ... and none has come back
    assert proxy.sink.comparisons == []


@pytest.mark.parametrize("rate", [pytest.param("0", id="never"), pytest.param("1", id="always")])
async def test_sample_rate_bounds(make_proxy: ProxyFactory, rate: str) -> None:
    proxy = await make_proxy({"SHADOWPROXY_SAMPLE_RATE": rate})
    for _ in range(5):
        await proxy.client.get("/echo")
    if rate == "1":
        await proxy.sink.wait_for(5)
    assert len(proxy.app.seen) == (5 if rate == "1" else 0)


async def test_shadow_calls_keep_the_clients_order_around_writes(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy()
    proxy.app.delays["/api/portfolio/watchlist"] = 0.5  # the shadow's POST is answered late
    await proxy.client.post("/api/portfolio/watchlist", json={"ticker": "AAPL"})
    await proxy.client.delete("/api/portfolio/watchlist/AAPL")
    await proxy.client.get("/api/portfolio/accounts")
    assert proxy.legacy.paths()[-1] == "/api/portfolio/accounts"
    assert proxy.app.paths() == ["/api/portfolio/watchlist"]  # the rest wait for that write
    await proxy.wait_idle()
    assert proxy.app.paths() == [
        "/api/portfolio/watchlist",
        "/api/portfolio/watchlist/AAPL",
        "/api/portfolio/accounts",
    ]


async def test_shadow_reads_between_writes_stay_concurrent(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy()
    proxy.app.delays["/api/portfolio/accounts"] = 1.5
    await proxy.client.get("/api/portfolio/accounts")
    await proxy.client.get("/api/portfolio/positions")
    async with asyncio.timeout(1):  # the second read does not wait for the first one's answer
        while "/api/portfolio/positions" not in proxy.app.paths():
            proxy.app.arrived.clear()
            await proxy.app.arrived.wait()
    await proxy.client.post("/api/portfolio/watchlist", json={"ticker": "AAPL"})
    assert "/api/portfolio/watchlist" not in proxy.app.paths()  # a write waits for both reads
    await proxy.wait_idle()
    assert proxy.app.paths()[-1] == "/api/portfolio/watchlist"
