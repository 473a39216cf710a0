"""A versioned JSON document every replica shares: changed by compare-and-set, announced at once.

The document is a Redis hash (`version`, `body`). `commit(expected, body)` writes version
`expected + 1` only if the stored version is still `expected` (a Lua script, so it is atomic),
and publishes the new version on the document's channel in the same step. Every replica
subscribes: a message makes it re-read the document and hand it to `on_remote`. A message lost
while the connection was down is covered by `CHECK_EVERY_S`: the version is compared once a
second, so every replica applies a change within one second whatever happened to pub/sub.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
import structlog

from shadowproxy.errors import StoreUnavailable
from shadowproxy.store.client import Store, raise_if_cancelled

CHECK_EVERY_S = 1.0

log = structlog.get_logger(__name__)

# KEYS[1] the hash, KEYS[2] the channel; ARGV expected version, new body, lowest new version.
# Returns -1 when the stored version was not `expected` (nothing written), else the new version.
_COMPARE_AND_SET = """
local current = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if current ~= tonumber(ARGV[1]) then return -1 end
local version = math.max(current + 1, tonumber(ARGV[3]))
redis.call('HSET', KEYS[1], 'version', version, 'body', ARGV[2])
redis.call('PUBLISH', KEYS[2], version)
return version
"""

Remote = Callable[[int, dict[str, Any]], None]
Seed = Callable[[], Awaitable[None]]


class SharedDoc:
    def __init__(self, store: Store, name: str, on_remote: Remote, seed: Seed) -> None:
        """`on_remote(version, body)` gets every newer version; `seed()` runs whenever the
        document is found missing (a store that came back empty, however fast): it commits
        the owner's state as the first version."""
        self._store = store
        self._key = store.key("doc", name)
        self._channel = store.key("changed", name)
        self._on_remote = on_remote
        self._seed = seed
        self._seen = 0  # the newest version handed to on_remote (or committed here)
        self._refresh: asyncio.Task[None] | None = None
        store.subscribe(self._channel, self._announced)
        store.on_up(self.refresh)

    async def load(self) -> tuple[int, dict[str, Any]] | None:
        """(version, body) as stored, or None when there is no document yet."""

        async def read(redis: aioredis.Redis) -> list[Any]:
            return await redis.hmget(self._key, ["version", "body"])

        version, body = await self._store.call(read)
        if version is None or body is None:
            return None
        document = json.loads(body)
        if not isinstance(document, dict):
            raise ValueError(f"{self._key} holds {type(document).__name__}, not an object")
        return int(version), document

    async def commit(self, expected: int, body: dict[str, Any], *, floor: int = 0) -> int | None:
        """Write `body` if the stored version is `expected` (0: no document yet), as version
        `max(expected + 1, floor)`; that version, or None when another change came first."""
        text = json.dumps(body, sort_keys=True)

        async def cas(redis: aioredis.Redis) -> Any:
            return await redis.eval(
                _COMPARE_AND_SET, 2, self._key, self._channel, expected, text, floor
            )

        version = int(await self._store.call(cas))
        if version < 0:
            return None
        self._seen = max(self._seen, version)
        return version

    async def update(
        self, change: Callable[[dict[str, Any] | None], dict[str, Any] | None]
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """Apply `change` to the stored body (None: no document yet) by compare-and-set,
        re-reading and applying it again when another replica came first; `change` answering
        None writes nothing. (The body it was applied to, what it made.) StoreUnavailable."""
        while True:
            found = await self.load()
            version, before = found if found is not None else (0, None)
            after = change(before)
            if after is None or await self.commit(version, after) is not None:
                return before, after

    def start(self) -> None:
        self._store.tasks.spawn(self._check(), name=f"check {self._key}")

    async def refresh(self) -> None:
        """Re-read the document: hand it on if it is newer than what was seen, seed it if it is
        missing. Runs when the store becomes reachable, on announcements and every second."""
        try:
            found = await self.load()
        except ValueError as exc:
            log.error("shared_document_unreadable", key=self._key, error=str(exc))
            return
        if found is None:
            await self._seed()
        elif found[0] != self._seen:  # newer, or older: a store that was reset and re-seeded
            self._seen = found[0]
            self._on_remote(*found)

    def _announced(self, data: bytes) -> None:
        try:
            version = int(data)
        except ValueError:
            return
        if version != self._seen and (self._refresh is None or self._refresh.done()):
            self._refresh = self._store.tasks.spawn(self._quiet_refresh(), name=f"read {self._key}")

    async def _quiet_refresh(self) -> None:
        with contextlib.suppress(StoreUnavailable):
            await self.refresh()

    async def _check(self) -> None:
        while True:
            await asyncio.sleep(CHECK_EVERY_S)
            raise_if_cancelled()
            if self._store.available:
                await self._quiet_refresh()
