"""What the shared store adds on the shadow path, in microseconds: the correlation map's lookups
and creates with the Redis store against the local one, in this process, on a real Redis.

Two replicas' correlation maps (`CorrelationMap` shared through `SharedPairs`, each on its own
`Store`) on the bench's `redis-server`, and a local map beside them; each map keeps its file in
a state dir, as the proxy's does. Replica B hears A's announcements but does not take the pairs
into its map, so each of its lookups of a pair A learned goes to the store: what a shadow on B
pays when it runs before the announcement arrived (a create just answered through A).

- `local_hit`, `shared_hit`: `resolve` of a pair the map holds, local store / Redis store (no
  round trip: the map is asked first);
- `store_get`: `resolve` on B of a pair learned on A: the creates in flight anywhere (one
  pipelined ZREMRANGEBYSCORE + ZRANGE) and the pair's two keys (MGET), two round trips;
- `store_miss`: `resolve` on B of an id nobody minted, no create in flight: the same two;
- `create_local`, `create_shared`: a create exchange's map calls (`begin_create`, `learn`,
  `end_create`) on the request path, local store / Redis store (its writes are queued, not sent);
- `visible`: from `learn` on A to B hearing the pair (the queued writes sent in one pipeline,
  the announcement delivered by pub/sub), one pair at a time.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from shadowproxy.correlation import CorrelationMap
from shadowproxy.store.client import Store
from shadowproxy.store.pairs import OnPair, SharedPairs
from shadowproxy.types import Side

CALLS_MAX = 2000  # per figure: the store's figures are round trips, bounded whatever asked
VISIBLE_MAX = 500
WAIT_S = 5.0  # for a queue to drain or an announcement to arrive


@dataclass(frozen=True, slots=True)
class Timings:
    """One operation's cost in microseconds over `count` calls."""

    count: int
    mean_us: float
    p50_us: float
    p99_us: float

    @classmethod
    def of(cls, seconds: list[float]) -> Timings:
        ordered = sorted(seconds)
        p99 = ordered[min(len(ordered) - 1, -(-len(ordered) * 99 // 100) - 1)]
        return cls(
            len(ordered),
            round(statistics.fmean(ordered) * 1e6, 1),
            round(statistics.median(ordered) * 1e6, 1),
            round(p99 * 1e6, 1),
        )


@dataclass(frozen=True, slots=True)
class LookupCost:
    local_hit: Timings
    shared_hit: Timings
    store_get: Timings
    store_miss: Timings
    create_local: Timings
    create_shared: Timings
    visible: Timings

    def report(self) -> dict[str, dict[str, Any]]:
        return {name: asdict(getattr(self, name)) for name in self.__dataclass_fields__}


@asynccontextmanager
async def _replica(
    name: str, url: str, state_dir: Path, on_pair: OnPair | None = None
) -> AsyncIterator[tuple[CorrelationMap, SharedPairs]]:
    correlation = CorrelationMap(state_dir)
    store = Store(url, replica=name)
    shared = SharedPairs(store, ttl_s=correlation.ttl_s, on_pair=on_pair or correlation.remote)
    correlation.share(shared)
    shared.start()
    await store.start()
    try:
        if not store.available:
            raise RuntimeError(f"the store {store.where} did not answer")
        yield correlation, shared
    finally:
        await store.close()
        correlation.close()


async def _drained(pairs: SharedPairs) -> None:
    async with asyncio.timeout(WAIT_S):
        while True:
            if not pairs.pending:
                return
            await asyncio.sleep(0.001)


async def _creates(correlation: CorrelationMap, prefix: str, count: int) -> list[float]:
    """`count` create exchanges' map calls, each timed: begin, learn the pair, end. The loop
    turns between two, as between two requests, so the store's writer sends as they come."""
    spent = []
    for index in range(count):
        started = time.perf_counter()
        token = correlation.begin_create()
        correlation.learn(f"{prefix}-legacy-{index}", f"{prefix}-app-{index}")
        correlation.end_create(token)
        spent.append(time.perf_counter() - started)
        await asyncio.sleep(0)
    return spent


async def _timed(count: int, call: Callable[[int], Awaitable[None]]) -> list[float]:
    spent = []
    for index in range(count):
        started = time.perf_counter()
        await call(index)
        spent.append(time.perf_counter() - started)
    return spent


async def measure(url: str, *, iterations: int, workdir: Path) -> LookupCost:
    """Every figure above, `iterations` calls each (at most CALLS_MAX; `visible` VISIBLE_MAX)."""
    count = max(20, min(iterations, CALLS_MAX))
    heard: dict[str, asyncio.Event] = {}

    def hear(legacy_id: str, app_id: str, at: float) -> None:  # B: noted, not taken into its map
        heard.setdefault(legacy_id, asyncio.Event()).set()

    local = CorrelationMap(workdir / "local")
    try:
        async with (
            _replica("bench-a", url, workdir / "a") as (a, a_pairs),
            _replica("bench-b", url, workdir / "b", on_pair=hear) as (b, _),
        ):
            create_local = await _creates(local, "local", count)
            create_shared = await _creates(a, "shared", count)
            await _drained(a_pairs)
            if a_pairs.dropped:
                raise RuntimeError(f"replica A dropped {a_pairs.dropped} writes for the store")

            async def local_hit(index: int) -> None:
                if await local.resolve(f"local-legacy-{index}", Side.APP, timeout_s=1.0) is None:
                    raise RuntimeError("the local map lost a pair")

            async def shared_hit(index: int) -> None:
                if await a.resolve(f"shared-legacy-{index}", Side.APP, timeout_s=1.0) is None:
                    raise RuntimeError("replica A's map lost a pair")

            async def store_get(index: int) -> None:
                found = await b.resolve(f"shared-legacy-{index}", Side.APP, timeout_s=1.0)
                if found != f"shared-app-{index}":
                    raise RuntimeError(f"replica B found {found!r} for a pair A learned")

            async def store_miss(index: int) -> None:
                if await b.resolve(f"nobody-{index}", Side.APP, timeout_s=1.0) is not None:
                    raise RuntimeError("replica B found a twin nobody minted")

            async def visible(index: int) -> None:
                legacy_id = f"visible-legacy-{index}"
                arrived = heard.setdefault(legacy_id, asyncio.Event())
                a.learn(legacy_id, f"visible-app-{index}")
                async with asyncio.timeout(WAIT_S):
                    await arrived.wait()

            return LookupCost(
                local_hit=Timings.of(await _timed(count, local_hit)),
                shared_hit=Timings.of(await _timed(count, shared_hit)),
                store_get=Timings.of(await _timed(count, store_get)),
                store_miss=Timings.of(await _timed(count, store_miss)),
                create_local=Timings.of(create_local),
                create_shared=Timings.of(create_shared),
                visible=Timings.of(await _timed(min(count, VISIBLE_MAX), visible)),
            )
    finally:
        local.close()
