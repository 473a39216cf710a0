"""The correlation pairs of every replica, and the creates in flight anywhere.

A pair is two keys with the correlation TTL (`corr:legacy:<id>` -> app id, `corr:app:<id>` ->
legacy id) and an announcement on `corr:pairs`, so every replica's in-memory map learns it at
once and the authoritative call, which never waits, finds it locally. Writes are queued and sent
by one task in pipelines (`store/queue.py`): a client's answer never waits for Redis.

A create in flight is a member of the sorted set `corr:creating` (scored by its start, epoch
seconds) from before its authoritative call until its comparison ended. A replica whose shadow
needs a twin it cannot find waits (bounded) only while creates that were in flight anywhere when
it looked are still running — the rule of the one-process map, across replicas. Members older
than `STALE_S` (a replica that died mid-create) are swept at each look.

A flow whose create was sampled out is marked (`corr:out:<id>`, same TTL), so a replica that
gets one of its later requests samples it out too instead of calling it uncorrelated.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import redis.asyncio as aioredis
import structlog

from shadowproxy.store.client import Store
from shadowproxy.store.queue import WriteQueue

MAX_QUEUED = 10_000
STALE_S = 120.0

log = structlog.get_logger(__name__)

OnPair = Callable[[str, str, float], None]
_Write = tuple[str, tuple[Any, ...]]  # a redis-py pipeline method and its arguments


class SharedPairs:
    def __init__(self, store: Store, *, ttl_s: float, on_pair: OnPair) -> None:
        self._store = store
        self._ttl = max(1, int(ttl_s))
        self._on_pair = on_pair
        self._channel = store.key("corr", "pairs")
        self._creating = store.key("corr", "creating")
        self._writes: WriteQueue[_Write] = WriteQueue(store, "pairs", _write, limit=MAX_QUEUED)
        self._sequence = 0
        store.subscribe(self._channel, self._announced)

    @property
    def pending(self) -> int:
        return self._writes.pending

    @property
    def dropped(self) -> int:
        return self._writes.dropped

    def start(self) -> None:
        self._writes.start()

    # ------------------------------------------------------------------ writes (queued)

    def put(self, legacy_id: str, app_id: str, at: float) -> None:
        announcement = json.dumps({"legacy": legacy_id, "app": app_id, "at": at})
        self._writes.push(
            ("set", (self._store.key("corr", "legacy", legacy_id), app_id, self._ttl))
        )
        self._writes.push(("set", (self._store.key("corr", "app", app_id), legacy_id, self._ttl)))
        self._writes.push(("publish", (self._channel, announcement)))

    def put_sampled_out(self, flow: str) -> None:
        self._writes.push(("set", (self._store.key("corr", "out", flow), "1", self._ttl)))

    def begin_create(self) -> str:
        self._sequence += 1
        member = f"{self._store.replica}:{self._sequence}"
        self._writes.push(("zadd", (self._creating, {member: time.time()})))
        return member

    def end_create(self, member: str) -> None:
        self._writes.push(("zrem", (self._creating, member)))

    # ------------------------------------------------------------------ reads (awaited)

    async def get(self, id_: str) -> tuple[tuple[str, str] | None, bool]:
        """(legacy id, app id) of the pair `id_` (either side's) belongs to, if stored; and
        whether `id_` is marked sampled out."""
        keys = [self._store.key("corr", kind, id_) for kind in ("legacy", "app", "out")]

        async def read(redis: aioredis.Redis) -> list[Any]:
            return await redis.mget(keys)

        app_twin, legacy_twin, out = await self._store.call(read)
        if app_twin is not None:
            return (id_, app_twin.decode()), False
        if legacy_twin is not None:
            return (legacy_twin.decode(), id_), False
        return None, out is not None

    async def creating(self, among: Sequence[str] | None = None) -> list[str]:
        """The creates in flight anywhere (or those of `among` still in flight)."""
        key, stale = self._creating, time.time() - STALE_S

        async def read(redis: aioredis.Redis) -> list[Any]:
            pipe = redis.pipeline(transaction=False)
            pipe.zremrangebyscore(key, "-inf", stale)
            if among is None:
                pipe.zrange(key, 0, -1)
            else:
                pipe.zmscore(key, list(among))
            return await pipe.execute()

        if among is not None and not among:
            return []
        _, found = await self._store.call(read)
        if among is None:
            return [member.decode() for member in found]
        return [member for member, score in zip(among, found, strict=True) if score is not None]

    # ------------------------------------------------------------------ internals

    def _announced(self, data: bytes) -> None:
        try:
            pair = json.loads(data)
            legacy_id, app_id, at = str(pair["legacy"]), str(pair["app"]), float(pair["at"])
        except (ValueError, KeyError, TypeError):
            log.warning("correlation_announcement_unreadable")
            return
        self._on_pair(legacy_id, app_id, at)


def _write(pipe: Any, write: _Write) -> None:
    method, args = write
    if method == "set":
        pipe.set(args[0], args[1], ex=args[2])
    else:
        getattr(pipe, method)(*args)
