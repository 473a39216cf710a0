"""Window triggers judged on every replica's evidence through a real Redis: comparisons split
across two replicas, neither with enough alone, fire one rollback, once, recorded once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry

from shadowproxy.errors import StoreUnavailable
from shadowproxy.metrics import ProxyMetrics
from shadowproxy.rollback.flags import Flags
from shadowproxy.rollback.guard import RollbackGuard
from shadowproxy.rollback.shared_flags import SharedFlags
from shadowproxy.rollback.windows import WindowSettings
from shadowproxy.store.client import Store
from shadowproxy.store.stream import SharedEvents
from shadowproxy.store.tallies import SharedTallies
from shadowproxy.types import Outcome, RouteGroup, Side
from tests.shadowproxy.factories import metric
from tests.shadowproxy.redis_server import RedisServer, until
from tests.shadowproxy.rollback.test_guard_windows import good, seen

ANALYSIS = RouteGroup.ANALYSIS
PARITY = "parity_below_threshold"


@dataclass
class Replica:
    flags: Flags
    shared: SharedFlags
    guard: RollbackGuard
    tallies: SharedTallies
    events: SharedEvents
    registry: CollectorRegistry


@asynccontextmanager
async def replica(name: str, url: str, state: Path) -> AsyncIterator[Replica]:
    registry = CollectorRegistry()
    metrics = ProxyMetrics(registry)
    flags = Flags(
        dict.fromkeys(RouteGroup, Side.APP), state / name, on_rollback=metrics.rolled_back
    )
    store = Store(url, replica=name)
    shared = SharedFlags(flags, store)
    events = SharedEvents(store)
    flags.events.share(name, events.append)
    guard = RollbackGuard(flags, metrics, enabled=True, after=1, windows=WindowSettings())
    tallies = SharedTallies(
        store, groups=tuple(g.value for g in RouteGroup), window_s=300.0, own=guard.totals
    )
    guard.share(tallies.others)
    for part in (shared, events, tallies):
        part.start()
    await store.start()
    try:
        yield Replica(flags, shared, guard, tallies, events, registry)
    finally:
        await store.close()


def rollbacks(one: Replica) -> float:
    labels = {"route_group": ANALYSIS.value, "trigger": PARITY, "mode": "auto"}
    return metric(one.registry, "shadowproxy_rollbacks_total", **labels)


async def test_evidence_split_across_two_replicas_fires_one_rollback_once(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    async with (
        replica("a", redis_server.url, tmp_path) as a,
        replica("b", redis_server.url, tmp_path) as b,
    ):
        # 12 compared on each, 2 of them mismatches: 20 are needed before a ratio is judged
        a_share = [*good(0, 10), seen(10, Outcome.MISMATCH), seen(11, Outcome.MISMATCH)]
        for one in a_share:
            a.guard.publish(one)
        assert a.flags.authoritative(ANALYSIS) is Side.APP  # 12 alone: not judged
        await until(lambda: b.tallies.others(ANALYSIS.value).get("compared") == 12)

        b_share = [*good(100, 10), seen(110, Outcome.MISMATCH), seen(111, Outcome.MISMATCH)]
        for one in b_share:
            b.guard.publish(one)
        # B fired at its 8th: 12 + 8 = 20 compared with 2 mismatched, 10% > 5%
        assert b.flags.authoritative(ANALYSIS) is Side.LEGACY

        assert await b.shared.settled(2.0)
        await until(lambda: a.flags.authoritative(ANALYSIS) is Side.LEGACY)
        for one in good(200, 30):  # more evidence on A after the rollback: nothing more fires
            a.guard.publish(one)
        assert await a.shared.settled(2.0)
        assert rollbacks(a) + rollbacks(b) == 1
        await until(lambda: a.events.pending == 0 and b.events.pending == 0)
        trail = await a.events.read(since=None, limit=100)
        assert [(e["action"], e["actor"], e["replica"]) for e in trail] == [
            ("rollback", f"auto:{PARITY}", "b")
        ]


async def test_a_cancellation_lost_inside_a_call_still_ends_the_loop() -> None:
    """redis-py can turn a cancellation that reaches it mid-read into a connection error; the
    loop waited that out as an outage and went on for ever (a CI teardown hung on it)."""
    store = Store("redis://127.0.0.1:9/0", replica="a")
    tallies = SharedTallies(store, groups=("analysis",), window_s=60.0, own=lambda _: {})
    entered = asyncio.Event()

    async def tick() -> None:  # what the store call did with the cancellation
        entered.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise StoreUnavailable("the shared store did not answer") from None

    tallies.tick = tick  # type: ignore[method-assign]
    task = asyncio.create_task(tallies._work())
    await entered.wait()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert done == {task}, "the loop went on after its cancellation"
    assert task.cancelled()
