"""The rollback windows' evidence of every replica, so a window trigger judges the cluster's.

Each replica publishes its own window totals per route group every `TICK_S` (the hash
`win:<group>`, one field per replica: the counts and when they were taken) and reads the other
replicas' back. A trigger then judges its own comparisons plus the others' totals, so evidence
split across replicas fires although no replica alone has enough. An entry older than the window
(a replica that stopped) no longer counts. The hash expires two windows after the last write.
With the store unreachable the others' totals are forgotten at once: each replica judges its own
evidence alone, as a single replica would, rather than on totals that may be stale.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import redis.asyncio as aioredis

from shadowproxy.errors import StoreUnavailable
from shadowproxy.store.client import Store, raise_if_cancelled

TICK_S = 0.25

Totals = Mapping[str, int]  # a window's counts by name (rollback.windows.Counts' fields)


class SharedTallies:
    def __init__(
        self,
        store: Store,
        *,
        groups: tuple[str, ...],
        window_s: float,
        own: Callable[[str], Totals],
        kind: str = "win",
        tick_s: float = TICK_S,
    ) -> None:
        """`kind` names the hashes (`<kind>:<group>`): the rollback windows' and the noise
        table's totals are two sets of tallies on one store; `tick_s` is how often they go."""
        self._store = store
        self._kind = kind
        self._tick = tick_s
        self._groups = groups
        self._window = window_s
        self._own = own
        self._others: dict[str, dict[str, int]] = {}

    def start(self) -> None:
        self._store.tasks.spawn(self._work(), name="shared tallies")

    def others(self, group: str) -> Totals:
        """The other replicas' current totals for `group` (empty when none or unknown)."""
        return self._others.get(group, {})

    async def tick(self) -> None:
        """Publish this replica's totals and read the others' (one pipeline)."""
        now, replica = time.time(), self._store.replica
        keys = {group: self._store.key(self._kind, group) for group in self._groups}
        mine = {
            group: json.dumps({"at": now, **self._own(group)}, sort_keys=True)
            for group in self._groups
        }
        expire = max(1, int(self._window * 2))

        async def exchange(redis: aioredis.Redis) -> list[Any]:
            pipe = redis.pipeline(transaction=False)
            for group, key in keys.items():
                pipe.hset(key, replica, mine[group])
                pipe.expire(key, expire)
                pipe.hgetall(key)
            return await pipe.execute()

        results = await self._store.call(exchange)
        others: dict[str, dict[str, int]] = {}
        for index, group in enumerate(keys):
            entries = results[index * 3 + 2]
            others[group] = _summed(entries, replica, now - self._window)
        self._others = others

    async def _work(self) -> None:
        while True:
            raise_if_cancelled()
            try:
                await self.tick()
            except StoreUnavailable:
                self._others = {}
            await asyncio.sleep(self._tick)


def _summed(entries: Mapping[bytes, bytes], replica: str, oldest: float) -> dict[str, int]:
    total: dict[str, int] = {}
    for name, raw in entries.items():
        if name.decode() == replica:
            continue
        try:
            counts = json.loads(raw)
            if float(counts.pop("at")) < oldest:
                continue
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
        for field, value in counts.items():
            if isinstance(value, int):
                total[field] = total.get(field, 0) + value
    return total
