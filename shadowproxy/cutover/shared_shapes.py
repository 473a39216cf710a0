"""The drift learner's shapes in the shared store of a scale-out.

A replica's state dir may not outlive it (an `emptyDir` in Kubernetes), so a new replica after a
deploy would relearn every shape from scratch. With the Redis store each replica also saves its
snapshot into the hash `shapes` (one field per replica, kept `KEEP_S`), and a replica that
starts with nothing learned restores the snapshot that learned the most answers. Learning itself
stays per replica: each judges drift on what it has seen, from that common start.
"""

from __future__ import annotations

import json
from typing import Any

import redis.asyncio as aioredis

from shadowproxy.contracts.drift import ShapeLearner
from shadowproxy.store.client import Store

KEEP_S = 7 * 24 * 3600


class SharedShapes:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._key = store.key("shapes")

    async def save(self, snapshot: dict[str, Any]) -> None:
        """This replica's snapshot; raises StoreUnavailable."""
        text = json.dumps(snapshot, sort_keys=True)

        async def write(redis: aioredis.Redis) -> None:
            pipe = redis.pipeline(transaction=False)
            pipe.hset(self._key, self._store.replica, text)
            pipe.expire(self._key, KEEP_S)
            await pipe.execute()

        await self._store.call(write)

    async def restore(self, learner: ShapeLearner) -> str | None:
        """Restore the most learned replica's snapshot into `learner`; which replica's, if any.
        Raises StoreUnavailable."""

        async def read(redis: aioredis.Redis) -> dict[Any, Any]:
            return dict(await redis.hgetall(self._key))

        best: tuple[int, str, dict[str, Any]] | None = None
        for replica, raw in (await self._store.call(read)).items():
            try:
                snapshot = json.loads(raw)
                learned = sum(int(route["responses"]) for route in snapshot["routes"].values())
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
            if best is None or learned > best[0]:
                best = (learned, bytes(replica).decode(), snapshot)
        if best is None:
            return None
        try:
            learner.restore(best[2])
        except ValueError:
            return None
        return best[1]
