"""Writes for the shared store that nobody waits for: kept in order, sent in batches by one task.

A caller `push`es and returns at once (a client's answer never waits for Redis). One task sends
everything queued in one pipeline, and while the store does not answer keeps it and tries again
every `RETRY_S`, logging one line when an episode starts and one when it is over. At most `limit`
writes are kept: beyond it the oldest is dropped and counted (`dropped`), which only a long
outage under traffic reaches.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import redis.asyncio as aioredis
import structlog

from shadowproxy.errors import StoreUnavailable
from shadowproxy.store.client import Store, raise_if_cancelled

T = TypeVar("T")
RETRY_S = 0.25

log = structlog.get_logger(__name__)


class WriteQueue(Generic[T]):
    def __init__(
        self,
        store: Store,
        kind: str,
        write: Callable[[Any, T], None],
        *,
        limit: int,
    ) -> None:
        """`write(pipeline, item)` adds one item's commands to a redis-py pipeline."""
        self._store = store
        self._kind = kind
        self._write = write
        self._limit = limit
        self._queue: deque[T] = deque()
        self._wake = asyncio.Event()
        self.dropped = 0
        store.on_up(self._flush_soon)

    @property
    def pending(self) -> int:
        return len(self._queue)

    def start(self) -> None:
        self._store.tasks.spawn(self._work(), name=f"store writes: {self._kind}")

    def push(self, item: T) -> None:
        if len(self._queue) >= self._limit:
            self._queue.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.error("store_writes_dropped", kind=self._kind, dropped=self.dropped)
        self._queue.append(item)
        self._wake.set()

    async def _flush_soon(self) -> None:
        self._wake.set()

    async def _work(self) -> None:
        waiting = False
        while True:
            raise_if_cancelled()
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = list(self._queue)

            async def send(redis: aioredis.Redis, batch: list[T] = batch) -> None:
                pipe = redis.pipeline(transaction=False)
                for item in batch:
                    self._write(pipe, item)
                await pipe.execute()

            dropped = self.dropped
            try:
                await self._store.call(send)
            except StoreUnavailable:
                if not waiting:
                    log.error("store_writes_pending", kind=self._kind, pending=len(batch))
                waiting = True
                await asyncio.sleep(RETRY_S)
                continue
            if waiting:
                log.info("store_writes_sent", kind=self._kind, count=len(batch))
                waiting = False
            for _ in range(len(batch) - (self.dropped - dropped)):  # some were dropped meanwhile
                self._queue.popleft()
