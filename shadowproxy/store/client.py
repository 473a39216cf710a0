"""The Redis connection of one replica: health, key names and the pub/sub fan-out.

Every call goes through `call()`, which bounds it in time (`OP_TIMEOUT_S`) and turns any
failure into `StoreUnavailable`, marking the store down. A supervisor pings every
`PING_EVERY_S`; when Redis answers again the store is marked up and every `on_up` callback runs
(the shared structures resynchronise: flags re-read or re-seeded, queued writes flushed), so
recovery needs no restart. Subscriptions are made once and re-made on every reconnect; a
message missed while down is covered by each structure's own periodic check.

The URL may hold a password: it is never logged (only its host and port are).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import urlsplit

import redis.asyncio as aioredis
import structlog
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError, RedisError

from shadowproxy.errors import StoreUnavailable
from shadowproxy.tasks import BackgroundTasks

T = TypeVar("T")

OP_TIMEOUT_S = 0.5  # one Redis command; the client never waits on it (off the answer path)
PING_EVERY_S = 0.5
CLOSE_S = 2.0
KEY_PREFIX = "shadowproxy"

log = structlog.get_logger(__name__)

Handler = Callable[[bytes], None]


def redis_where(url: str) -> str:
    """host:port/db of a Redis URL, for logs: never its password."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix:{parts.path}"
    return f"{parts.hostname}:{parts.port or 6379}{parts.path or '/0'}"


class Store:
    def __init__(
        self,
        url: str,
        *,
        replica: str,
        prefix: str = KEY_PREFIX,
        on_health: Callable[[bool], None] | None = None,
    ) -> None:
        self.replica = replica
        self.where = redis_where(url)
        self._prefix = prefix
        self._redis = aioredis.from_url(
            url,
            socket_timeout=OP_TIMEOUT_S,
            socket_connect_timeout=OP_TIMEOUT_S,
            retry_on_timeout=False,
            # a pooled connection that died with a restarted Redis fails its next command: one
            # retry on a fresh connection, so a store that is back is not taken for one that is down
            retry=Retry(NoBackoff(), 1),
            retry_on_error=[ConnectionError],
        )
        self._on_health = on_health
        self._handlers: dict[str, Handler] = {}
        self._on_up: list[Callable[[], Awaitable[None]]] = []
        self.tasks = BackgroundTasks()  # every shared structure's tasks too: closed together
        self._up = asyncio.Event()
        self.listening = asyncio.Event()  # subscribed to every channel (set again on reconnect)
        self.available = False

    # ------------------------------------------------------------------ names

    def key(self, *parts: str) -> str:
        return ":".join((self._prefix, *parts))

    # ------------------------------------------------------------------ lifecycle

    def subscribe(self, channel: str, handler: Handler) -> None:
        """Call `handler(data)` for each message on `channel` (a full key name); before start."""
        self._handlers[channel] = handler

    def on_up(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run `callback` each time Redis becomes reachable (at start too); before start."""
        self._on_up.append(callback)

    async def start(self, *, wait_s: float = 2.0) -> None:
        """Start the supervisor and the subscriber; wait (bounded) for a first answer."""
        self.tasks.spawn(self._supervise(), name="store supervisor")
        self.tasks.spawn(self._listen(), name="store subscriber")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_s):
                await self._up.wait()
                if self._handlers:
                    await self.listening.wait()
        if not self.available:
            log.warning("store_unavailable_at_start", store=self.where, waited_s=wait_s)

    async def close(self) -> None:
        """Cancel every task and disconnect, bounded (CLOSE_S): a shutdown never hangs here,
        even on a connection redis-py is still tearing down."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_S):
                await self.tasks.drain(0)
        with contextlib.suppress(TimeoutError, RedisError, OSError):
            async with asyncio.timeout(CLOSE_S):
                await self._redis.aclose()

    # ------------------------------------------------------------------ calls

    async def call(self, operation: Callable[[aioredis.Redis], Awaitable[T]]) -> T:
        """Run one operation; StoreUnavailable (and the store marked down) if it fails."""
        try:  # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation
            async with asyncio.timeout(OP_TIMEOUT_S * 2):
                return await operation(self._redis)
        except (RedisError, OSError, TimeoutError) as exc:
            self._set(False, error=type(exc).__name__)
            raise StoreUnavailable(f"the shared store {self.where} did not answer") from exc

    # ------------------------------------------------------------------ internals

    def _set(self, available: bool, *, error: str = "") -> None:
        if available == self.available:
            return
        self.available = available
        if available:
            self._up.set()
            log.info("store_available", store=self.where)
        else:
            self._up.clear()
            log.error("store_lost", store=self.where, error=error)
        if self._on_health is not None:
            self._on_health(available)

    async def _supervise(self) -> None:
        while True:
            raise_if_cancelled()
            was = self.available
            try:
                async with asyncio.timeout(OP_TIMEOUT_S):
                    await self._redis.ping()
            except (RedisError, OSError, TimeoutError) as exc:
                self._set(False, error=type(exc).__name__)
            else:
                self._set(True)
                if not was:
                    for callback in self._on_up:
                        try:
                            await callback()
                        except StoreUnavailable:
                            break  # lost again: the next successful ping runs them again
            await asyncio.sleep(PING_EVERY_S)

    @staticmethod
    def _deliver(channel: str, handler: Handler, data: object) -> None:
        try:
            handler(data if isinstance(data, bytes) else str(data).encode())
        except Exception:  # one bad message must not end the subscription
            log.exception("store_message_failed", channel=channel)

    async def _listen(self) -> None:
        """Deliver messages of the subscribed channels; resubscribe after every failure."""
        while True:
            raise_if_cancelled()
            if not self._handlers:
                return
            await self._up.wait()
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(*self._handlers)
                    self.listening.set()
                    while True:
                        message = await pubsub.get_message(
                            ignore_subscribe_messages=True, timeout=1.0
                        )
                        raise_if_cancelled()
                        if message is None:
                            continue
                        channel = message["channel"]
                        name = channel.decode() if isinstance(channel, bytes) else str(channel)
                        handler = self._handlers.get(name)
                        data = message["data"]
                        if handler is not None:
                            self._deliver(name, handler, data)
            except (RedisError, OSError, TimeoutError) as exc:
                self.listening.clear()
                self._set(False, error=type(exc).__name__)
                await asyncio.sleep(PING_EVERY_S)


def raise_if_cancelled() -> None:
    """End a loop whose task was asked to stop even if a call inside lost the CancelledError.

    Every store loop calls it once per turn. A cancellation that reaches redis-py mid-read can
    come back as a connection error (which `Store.call` turns into StoreUnavailable, which a
    loop waits out) or as no message; the loop then went on, one sleep at a time, and a
    shutdown or a test's event loop cancelling every task waited for it without end (a
    fresh-clone CI run: a shared-flags test's teardown hung past its 120 s). The task's
    `cancelling()` count still says it was asked to stop."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
