"""The audit trail of every replica in one place: a capped Redis stream.

Each replica still writes every event to its own `events.jsonl` first (fsynced before the call
answers); `append` then queues it for the stream, and one task sends the queue in order,
retrying while the store is unreachable (`pending` says how many wait), so no event is lost
silently: it is on the replica's disk, and in the stream once the store is back. `read` serves
`GET /events` from the stream, which holds every replica's events (each names its `replica`).
The stream keeps about `MAX_LEN` events.
"""

from __future__ import annotations

import json
from typing import Any

import redis.asyncio as aioredis

from shadowproxy.store.client import Store
from shadowproxy.store.queue import WriteQueue

MAX_LEN = 100_000
MAX_QUEUED = 100_000


class SharedEvents:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._key = store.key("events")
        self._writes: WriteQueue[str] = WriteQueue(store, "events", self._add, limit=MAX_QUEUED)

    @property
    def pending(self) -> int:
        return self._writes.pending

    def start(self) -> None:
        self._writes.start()

    def append(self, event: dict[str, Any]) -> None:
        """Queue one event (already on this replica's disk) for the shared trail."""
        self._writes.push(json.dumps(event, ensure_ascii=False, sort_keys=True))

    def _add(self, pipe: Any, line: str) -> None:
        pipe.xadd(self._key, {"event": line}, maxlen=MAX_LEN, approximate=True)

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
