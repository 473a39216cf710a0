"""The audit trail of every replica in one place: a capped Redis stream.

Each replica still writes every event to its own `events.jsonl` first (fsynced before the call
answers); `append` then queues it for the stream, and one task sends the queue in order,
retrying while the store is unreachable (`pending` says how many wait), so no event is lost
silently: it is on the replica's disk, and in the stream once the store is back. `read` serves
`GET /events` from the stream, which holds every replica's events (each names its `replica`).
The stream keeps about `MAX_LEN` events.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from typing import Any

import redis.asyncio as aioredis
import structlog

from shadowproxy.errors import StoreUnavailable
from shadowproxy.store.client import Store

MAX_LEN = 100_000
MAX_QUEUED = 100_000
RETRY_S = 0.5

log = structlog.get_logger(__name__)


class SharedEvents:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._key = store.key("events")
        self._queue: deque[str] = deque()
        self._wake = asyncio.Event()
        self.dropped = 0  # not shared (still on the replica's own disk)

    @property
    def pending(self) -> int:
        return len(self._queue)

    def start(self) -> None:
        self._store.tasks.spawn(self._work(), name="shared events")

    def append(self, event: dict[str, Any]) -> None:
        if len(self._queue) >= MAX_QUEUED:
            self._queue.popleft()
            self.dropped += 1
            log.error("audit_event_not_shared", hint="it is in this replica's events.jsonl")
        self._queue.append(json.dumps(event, ensure_ascii=False, sort_keys=True))
        self._wake.set()

    async def read(self, *, since: str | None, limit: int) -> list[dict[str, Any]]:
        """The newest `limit` events at or after `since` (ISO text compare), oldest first."""

        async def newest(redis: aioredis.Redis) -> list[Any]:
            return list(await redis.xrevrange(self._key, count=MAX_LEN if since else limit) or [])

        found = []
        for _, fields in await self._store.call(newest):
            try:
                event = json.loads(fields[b"event"])
            except (KeyError, ValueError):
                continue
            if since is not None and str(event.get("at", "")) < since:
                break
            found.append(event)
            if len(found) >= limit:
                break
        return found[::-1]

    async def _work(self) -> None:
        waiting = False
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = list(self._queue)

            async def send(redis: aioredis.Redis, batch: list[str] = batch) -> None:
                pipe = redis.pipeline(transaction=False)
                for line in batch:
                    pipe.xadd(self._key, {"event": line}, maxlen=MAX_LEN, approximate=True)
                await pipe.execute()

            dropped = self.dropped
            try:
                await self._store.call(send)
            except StoreUnavailable:
                if not waiting:
                    log.error("audit_events_pending", store=self._store.where, pending=len(batch))
                waiting = True
                await asyncio.sleep(RETRY_S)
                continue
            if waiting:
                log.info("audit_events_shared", store=self._store.where, count=len(batch))
                waiting = False
            for _ in range(len(batch) - (self.dropped - dropped)):
                self._queue.popleft()
