"""Fault injection: an upstream that breaks on demand, the proxy in front of two of them, and
the leak check the fault tests share.

`FaultServer` is one side the proxy forwards to: a raw asyncio server on 127.0.0.1, port 0,
that speaks just enough HTTP/1.1 and RFC 6455 by hand to break both where aiohttp's server
cannot (a reset in the middle of a body, a wrong Content-Length, bytes that are no status line,
a websocket that vanishes without a close frame). Its `fault` applies to every request that
arrives after `set()` changed it, so one proxy sees a side break and then heal.

Healthy, it answers every request `200` with `{"path": <the raw target>, "answer": 42}`
(the same on both sides, so two healthy `FaultServer`s match) and keeps the connection alive.
It upgrades a websocket request, sends the first half of FRAMES, waits for the peer's first
data frame (so a test decides when a fault strikes: after the shadow connected), sends the
rest, then answers the peer's close with its code; `frames_sent(fault)` says what a websocket
gets under each fault. An HTTP fault applied to a websocket upgrade breaks the handshake; a
websocket fault applied to a plain request leaves it healthy.

`faulty_proxy()` serves the proxy under test (`ws_fakes.start_proxy`: the real app and relay)
in front of two `FaultServer`s, with a client session. `resources()` and `no_leaks(before)`
count what a leak leaves behind: open file descriptors (sockets among them; both ends of every
loopback connection live in this process) and asyncio tasks.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import hashlib
import os
import socket
import struct
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import TracebackType

import aiohttp
import orjson

from shadowproxy.types import Side

from .factories import ServerFactory
from .ws_fakes import WsProxy, start_proxy, until


class Fault(StrEnum):
    HEALTHY = "healthy"
    REFUSE = "refuse"  # the side is down: nothing listens on its (reserved) port
    RESET = "reset"  # the head and half the body, then a TCP reset
    HANG = "hang"  # reads the request and never answers, until the peer gives up
    GARBAGE = "garbage"  # bytes that are no HTTP, then a close
    # Content-Length declares fewer bytes than follow: the healthy answer, then (a moment later,
    # once the reader has its answer) a whole second response nobody asked for
    SHORT_LENGTH = "short_length"
    LONG_LENGTH = "long_length"  # Content-Length promises twice the body, then a close
    TRICKLE = "trickle"  # the healthy answer TRICKLE_BYTES at a time, TRICKLE_GAP_S apart
    ERROR_500 = "error_500"  # a 500 with a JSON detail, the connection kept alive
    # websockets
    WS_BAD_ACCEPT = "ws_bad_accept"  # a 101 whose Sec-WebSocket-Accept does not answer the key
    # after half the frames and the peer's first frame...
    WS_RESET = "ws_reset"  # ...a TCP reset (no close frame)
    WS_EOF = "ws_eof"  # ...the TCP connection closed (FIN, no close frame)
    WS_1011 = "ws_1011"  # ...a close frame 1011 (internal error)
    WS_FLOOD = "ws_flood"  # ...the other half, then FLOOD at once, then as healthy

    @property
    def websocket(self) -> bool:
        return self.value.startswith("ws_")


SHADOW_TIMEOUT_S = 0.25  # a third of how long TRICKLE takes
UPSTREAM_TIMEOUT_S = 0.5  # a read timeout: far above TRICKLE's gaps
BOUND_S = UPSTREAM_TIMEOUT_S + 4.0  # the latest any answer may come (slack for a busy machine)
# the proxy's settings for the fault tests: short timeouts, so a hang costs half a second
ENV = {
    "SHADOWPROXY_SHADOW_TIMEOUT_S": str(SHADOW_TIMEOUT_S),
    "SHADOWPROXY_UPSTREAM_TIMEOUT_S": str(UPSTREAM_TIMEOUT_S),
    "SHADOWPROXY_SHUTDOWN_GRACE_S": "1",
}
TRICKLE_BYTES = 4
TRICKLE_GAP_S = 0.03  # the healthy answer (107 bytes for a short target) takes about 0.8 s
SMUGGLE_DELAY_S = 0.05  # SHORT_LENGTH: ages after the reader took its answer (same event loop)
SMUGGLED = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n\r\nsmuggled"
GARBAGE = b"\x00\x17SSH-2.0-not-http\xff\xfe\r\n\r\n"
ERROR_BODY = b'{"detail":"boom"}'
FRAMES = tuple(f'{{"seq": {n}}}' for n in range(6))
HALF = len(FRAMES) // 2
FLOOD = tuple(f"flood {n}" for n in range(2000))
_WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
_CLOSE, _TEXT = 0x8, 0x1


def healthy_body(target: str) -> bytes:
    return orjson.dumps({"path": target, "answer": 42})


def refused(server: FaultServer) -> str:
    """How the proxy describes a connection the server refused (REFUSE)."""
    return f"refused the connection (Connect call failed {('127.0.0.1', server.port)})"


def frames_sent(fault: Fault) -> tuple[str, ...]:
    """The data frames a websocket gets from a side under `fault` (none: no upgrade)."""
    if fault is Fault.HEALTHY:
        return FRAMES
    if fault is Fault.WS_FLOOD:
        return FRAMES + FLOOD
    if fault in (Fault.WS_RESET, Fault.WS_EOF, Fault.WS_1011):
        return FRAMES[:HALF]
    return ()


@dataclass(frozen=True)
class Request:
    target: str
    headers: Mapping[str, str]  # names lower-cased; a repeated field keeps its last value


class FaultServer:
    """One side of the proxy that breaks on demand (see the module docstring)."""

    def __init__(self) -> None:
        self.fault = Fault.HEALTHY
        self.arrived = 0  # request heads read
        self.answered = 0  # requests whose answer is over (written as the fault says, or cut)
        # the port is reserved by a socket that never listens (SO_REUSEPORT lets the listener
        # share it): REFUSE is a refused connection, and no other server can take the port
        self._reserve = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._reserve.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        self._reserve.bind(("127.0.0.1", 0))
        self.port: int = self._reserve.getsockname()[1]
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> FaultServer:
        await self.set(Fault.HEALTHY)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.set(Fault.REFUSE)
        self._reserve.close()

    async def set(self, fault: Fault) -> None:
        """Apply `fault` to the requests that arrive from now on. REFUSE takes the side down:
        it stops listening and cuts every open connection (a pooled one would still answer)."""
        self.fault = fault
        if fault is not Fault.REFUSE:
            if self._server is None:
                self._server = await asyncio.start_server(
                    self._serve, "127.0.0.1", self.port, reuse_port=True
                )
            return
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        if self._handlers:
            await asyncio.wait(set(self._handlers))

    async def quiet(self) -> None:
        """Until every request that arrived has had its whole answer (SHORT_LENGTH: the
        unsolicited one too) or its peer left."""
        await until(lambda: self.answered >= self.arrived)

    # ------------------------------------------------------------------ one connection

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        try:
            while (request := await _read_request(reader)) is not None:
                self.arrived += 1
                try:
                    keep = await self._answer(request, reader, writer)
                finally:
                    self.answered += 1
                if not keep:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the peer went away: what most faults provoke
        finally:
            self._writers.discard(writer)
            writer.close()
            self._handlers.discard(task)

    async def _answer(
        self, request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Answer one request as the fault says; False when the connection must end."""
        fault = self.fault
        if request.headers.get("upgrade", "").lower() == "websocket" and (
            fault.websocket or fault is Fault.HEALTHY
        ):
            await self._websocket(request, fault, reader, writer)
            return False
        body = healthy_body(request.target)
        answer = _response(200, "OK", body)
        if fault is Fault.HANG:
            await reader.read()  # until the peer closes
            return False
        if fault is Fault.GARBAGE:
            writer.write(GARBAGE)
        elif fault is Fault.RESET:
            writer.write(answer[: len(answer) - len(body) // 2])
            await writer.drain()
            _reset(writer)
            return False
        elif fault is Fault.LONG_LENGTH:
            writer.write(_response(200, "OK", body, length=2 * len(body)))
        elif fault is Fault.ERROR_500:
            writer.write(_response(500, "Internal Server Error", ERROR_BODY))
        elif fault is Fault.TRICKLE:
            for start in range(0, len(answer), TRICKLE_BYTES):
                writer.write(answer[start : start + TRICKLE_BYTES])
                await writer.drain()
                await asyncio.sleep(TRICKLE_GAP_S)
        elif fault is Fault.SHORT_LENGTH:
            writer.write(answer)
            await writer.drain()
            await asyncio.sleep(SMUGGLE_DELAY_S)
            writer.write(SMUGGLED)
        else:  # healthy, or a websocket fault on a plain request
            writer.write(answer)
        await writer.drain()
        return fault not in (Fault.GARBAGE, Fault.LONG_LENGTH)

    async def _websocket(
        self,
        request: Request,
        fault: Fault,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        key = request.headers["sec-websocket-key"].encode()
        if fault is Fault.WS_BAD_ACCEPT:
            key = key[::-1]
        accept = base64.b64encode(hashlib.sha1(key + _WS_GUID).digest()).decode()
        writer.write(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept}\r\n\r\n".encode()
        )
        frames = frames_sent(fault)
        writer.write(b"".join(_frame(_TEXT, text.encode()) for text in frames[:HALF]))
        await writer.drain()
        opcode, payload = await _read_frame(reader)  # the peer's first frame: the fault strikes
        if opcode != _CLOSE:
            if fault is Fault.WS_RESET:
                _reset(writer)
                return
            if fault is Fault.WS_EOF:
                return  # the handler closes the connection: a FIN, no close frame
            if fault is Fault.WS_1011:
                writer.write(_frame(_CLOSE, struct.pack("!H", 1011) + b"boom"))
            writer.write(b"".join(_frame(_TEXT, text.encode()) for text in frames[HALF:]))
            await writer.drain()
        while opcode != _CLOSE:  # until the peer's close frame, answered unless ours went first
            opcode, payload = await _read_frame(reader)
        if fault is not Fault.WS_1011:
            writer.write(_frame(_CLOSE, payload[:2]))
            await writer.drain()


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    """The next request head (a Content-Length body is read and dropped), None at EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    request_line, *fields = head.decode("latin-1").rstrip("\r\n").split("\r\n")
    headers = {}
    for field in fields:
        name, _, value = field.partition(":")
        headers[name.strip().lower()] = value.strip()
    await reader.readexactly(int(headers.get("content-length", "0")))
    return Request(request_line.split(" ")[1], headers)


def _response(status: int, reason: str, body: bytes, *, length: int | None = None) -> bytes:
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body) if length is None else length}\r\n\r\n"
    )
    return head.encode() + body


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset instead of a FIN (SO_LINGER 0); what was sent is still read first."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def _frame(opcode: int, payload: bytes) -> bytes:
    """One final, unmasked frame (a server's)."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, size)
    elif size < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 126, size)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, size)
    return header + payload


async def _read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One frame from the peer: (opcode, unmasked payload)."""
    first, second = await reader.readexactly(2)
    size = second & 0x7F
    if size == 126:
        (size,) = struct.unpack("!H", await reader.readexactly(2))
    elif size == 127:
        (size,) = struct.unpack("!Q", await reader.readexactly(8))
    mask = await reader.readexactly(4) if second & 0x80 else b"\x00" * 4
    payload = await reader.readexactly(size)
    return first & 0x0F, bytes(byte ^ mask[n % 4] for n, byte in enumerate(payload))


# ---------------------------------------------------------------- the proxy in front of two


@dataclass(frozen=True)
class FaultyProxy:
    proxy: WsProxy
    sides: Mapping[Side, FaultServer]
    client: aiohttp.ClientSession

    async def settled(self) -> None:
        """Until the proxy's background work and both sides' answers are over."""
        await self.proxy.ctx.tasks.idle()
        for side in self.sides.values():
            await side.quiet()


@asynccontextmanager
async def faulty_proxy(
    aiohttp_server: ServerFactory, tmp_path: Path, env: Mapping[str, str]
) -> AsyncIterator[FaultyProxy]:
    """The proxy (settings from `env`) in front of two healthy `FaultServer`s, and a client.

    Meanwhile the objects the process held before are out of the garbage collector's reach
    (`gc.freeze`): the proxy runs on the test's event loop, and a full collection of a long
    suite's heap (0.25-0.5 s for 2M objects) pauses it longer than ENV's short timeouts, which a
    healthy exchange then runs out of. What the test allocates is collected as usual.
    """
    gc.freeze()
    try:
        async with (
            FaultServer() as legacy,
            FaultServer() as app,
            aiohttp.ClientSession() as client,
        ):
            proxy = await start_proxy(aiohttp_server, legacy.url, app.url, tmp_path, env)
            yield FaultyProxy(proxy, {Side.LEGACY: legacy, Side.APP: app}, client)
    finally:
        gc.unfreeze()


# ---------------------------------------------------------------- leaks


@dataclass(frozen=True)
class Resources:
    fds: int  # open file descriptors of this process: sockets, the event loop's, pytest's
    tasks: tuple[str, ...]  # names of the asyncio tasks alive (the test's own among them)

    def within(self, before: Resources) -> bool:
        return self.fds <= before.fds and len(self.tasks) <= len(before.tasks)


def resources() -> Resources:
    tasks = tuple(sorted(task.get_name() for task in asyncio.all_tasks()))
    return Resources(len(os.listdir("/proc/self/fd")), tasks)


async def no_leaks(before: Resources, timeout_s: float = 3.0) -> None:
    """Fail unless fds and tasks come back to at most `before` within `timeout_s`.

    Closing is asynchronous (a transport closes on a later turn of the loop, a handler task
    ends once it read the EOF), so this polls rather than measuring once; a leak never comes
    back. No tolerance is needed: measured once every pool holds the connection it keeps, and
    again after the same healthy exchange, a leak of one fd or task per fault shows.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not (now := resources()).within(before):
        if loop.time() > deadline:
            raise AssertionError(f"leaked: {before} -> {now}")
        await asyncio.sleep(0.02)
