"""A chaos TCP relay: what the soak puts between the proxy and its shadow backend.

Bytes pass through unchanged unless a fault is drawn. Faults are drawn for every chunk relayed,
in either direction, from one seeded `random.Random`:

- `reset`: both sockets of the connection are aborted with an RST (SO_LINGER 0): mid-request,
  mid-answer or mid-websocket, whatever was in flight;
- `stall`: the chunk, and everything behind it in that direction, is held for `stall_s` (long
  enough to outlast the proxy's shadow timeout now and then);
- `delay`: the chunk is held for a short `delay_s`;
- `refuse`: the relay goes away for `refuse_s`: its open connections are reset and its port
  refuses new ones, then it listens again on the same port. `refuse_for()` does it at once; with
  `refuse_every_s` the relay does it by itself, once in each period of that length, at a random
  moment of it.

A connection whose upstream cannot be reached is reset at once. An `Observer` may watch the bytes
of each connection as they are passed on; with no fault configured the relay is a transparent tap
(the soak's recorder of the authoritative side, benchmarks/tap.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import Any, Protocol

from shadowproxy.tasks import BackgroundTasks

HOST = "127.0.0.1"
CHUNK = 65536
_RST = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends an RST


class Fault(StrEnum):
    RESET = "reset"
    STALL = "stall"
    DELAY = "delay"
    REFUSE = "refuse"


Span = tuple[float, float]  # a (low, high) range of seconds, drawn uniformly


@dataclass(frozen=True, slots=True)
class Faults:
    """Per-chunk probabilities of the chunk faults, their durations, and the refusal rhythm."""

    reset: float = 0.0
    stall: float = 0.0
    delay: float = 0.0
    stall_s: Span = (1.0, 12.0)
    delay_s: Span = (0.01, 0.3)
    refuse_every_s: float | None = None
    refuse_s: Span = (0.5, 4.0)

    def __post_init__(self) -> None:
        chances = (self.reset, self.stall, self.delay)
        if min(chances) < 0 or sum(chances) > 1:
            raise ValueError(f"fault probabilities must be >= 0 and sum to <= 1, got {chances}")
        if self.refuse_every_s is not None and self.refuse_every_s <= max(self.refuse_s):
            raise ValueError("refuse_every_s must be longer than the longest refusal")

    def draw(self, rng: random.Random) -> Fault | None:
        roll = rng.random()
        for fault, chance in ((Fault.RESET, self.reset), (Fault.STALL, self.stall)):
            if roll < chance:
                return fault
            roll -= chance
        return Fault.DELAY if roll < self.delay else None


class Observer(Protocol):
    """One relayed connection's bytes, in the order they were passed on."""

    def upstream(self, data: bytes) -> None:
        """Bytes the client sent, on their way to the upstream."""

    def downstream(self, data: bytes) -> None:
        """Bytes the upstream sent, on their way to the client."""

    def closed(self) -> None:
        """Both directions are done."""


@dataclass(eq=False, slots=True)
class _Link:
    """Both sockets of one relayed connection."""

    writers: tuple[asyncio.StreamWriter, ...]
    cut: bool = False

    def reset(self) -> None:
        """Abort both sockets with an RST; safe to call more than once."""
        self.cut = True
        for writer in self.writers:
            _reset(writer)


def _reset(writer: asyncio.StreamWriter) -> None:
    if writer.transport.is_closing():
        return
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RST)
    writer.transport.abort()


@dataclass(eq=False)
class ChaosRelay:
    """`async with ChaosRelay(upstream_port, faults, seed=...) as relay:` listens on `relay.url`."""

    upstream_port: int
    faults: Faults = field(default_factory=Faults)
    seed: int = 0
    observe: Callable[[], Observer] | None = None
    port: int = 0  # 0: a free port, kept across refusals
    counts: Counter[Fault] = field(default_factory=Counter)
    connections: int = 0  # accepted
    unreachable: int = 0  # accepted, but the upstream refused: reset at once

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._links: set[_Link] = set()
        self._handlers: set[asyncio.Task[Any]] = set()  # connections being relayed
        self._server: asyncio.Server | None = None
        self._tasks = BackgroundTasks()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    async def __aenter__(self) -> ChaosRelay:
        await self._listen()
        if self.faults.refuse_every_s is not None:
            self._tasks.spawn(self._refusals(self.faults.refuse_every_s), name="chaos refusals")
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._tasks.drain(0)
        await self._unlisten()
        if self._handlers:  # each ends once both its sockets are reset
            await asyncio.wait(self._handlers)

    async def refuse_for(self, seconds: float) -> None:
        """Go away: reset every open connection, refuse new ones for `seconds`, come back."""
        self.counts[Fault.REFUSE] += 1
        await self._unlisten()
        await asyncio.sleep(seconds)
        await self._listen()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._relay, HOST, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _unlisten(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for link in list(self._links):
            link.reset()
        if server is not None:
            await server.wait_closed()

    async def _refusals(self, every_s: float) -> None:
        """One refusal in each period of `every_s`, at a random moment of it."""
        while True:
            length = self._rng.uniform(*self.faults.refuse_s)
            before = self._rng.uniform(0, every_s - length)
            await asyncio.sleep(before)
            await self.refuse_for(length)
            await asyncio.sleep(every_s - before - length)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        try:
            await self._connect(reader, writer)
        finally:
            self._handlers.discard(handler)

    async def _connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(HOST, self.upstream_port)
        except OSError:
            self.unreachable += 1
            _reset(writer)
            return
        link = _Link((writer, up_writer))
        self._links.add(link)
        observer = None if self.observe is None else self.observe()
        sent, answered = (
            (None, None) if observer is None else (observer.upstream, observer.downstream)
        )
        try:
            await asyncio.gather(
                self._pipe(reader, up_writer, link, sent),
                self._pipe(up_reader, writer, link, answered),
            )
        finally:
            self._links.discard(link)
            for end in link.writers:
                end.close()
            if observer is not None:
                observer.closed()

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        link: _Link,
        seen: Callable[[bytes], None] | None,
    ) -> None:
        """One direction, until EOF (passed on as a half-close) or the link is cut."""
        try:
            while chunk := await reader.read(CHUNK):
                fault = self.faults.draw(self._rng)
                if fault is not None:
                    self.counts[fault] += 1
                if fault is Fault.RESET:
                    link.reset()
                    return
                if fault is not None:
                    span = self.faults.stall_s if fault is Fault.STALL else self.faults.delay_s
                    await asyncio.sleep(self._rng.uniform(*span))
                if link.cut:  # reset, or refused, meanwhile
                    return
                if seen is not None:
                    seen(chunk)
                writer.write(chunk)
                await writer.drain()
            if not link.cut and writer.can_write_eof():
                writer.write_eof()
        except OSError:  # a peer reset or vanished: pass it on to the other one
            link.reset()
