"""Fast fake TradingAgents backends for the benchmarks, in a process of their own.

`serve_backends()` runs `python -m benchmarks.backends`: one event loop (uvloop when installed)
serving each side on a raw asyncio protocol (prebuilt answers, HTTP/1.1 keep-alive, no web
framework), so the backends stay cheap next to the proxy, nginx and the load generator on a
2-core machine and in a process whose CPU is not counted against anyone. The answers are the
real contract shapes (benchmarks/documents.py):

- legacy: the legacy status document; the start route answers legacy's task id;
- app: the v1alpha1 document, at once;
- app mismatching: the same, but every `MISMATCH_EVERY`-th status answer has another decision;
- app slow: every status answer after `slow_s`.

A status request's `?size=N` pads both shapes (their `logs`, not a key field) to at least N
bytes, so one proxy serves the whole size curve. `python -m benchmarks.backends --slow-s S`
prints the four URLs as one JSON line and serves until its stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson

from benchmarks.documents import APP_ID, LEGACY_ID, app_status, legacy_status, mismatched, padded

MISMATCH_EVERY = 10  # 10% of status answers mismatch on the mismatching app side
START_TIMEOUT_S = 30.0
STATUS_PREFIX = b"/api/analysis/status/"


@dataclass(frozen=True, slots=True)
class Backends:
    legacy_url: str
    app_url: str  # answers at once
    mismatch_app_url: str  # every MISMATCH_EVERY-th status answer differs
    slow_app_url: str  # answers every status request after `slow_s`
    pid: int  # the backends' process


def response(body: bytes, status: bytes = b"200 OK") -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


class Side:
    """One backend's answers, by request target; `delay_s` slows every status answer."""

    def __init__(
        self,
        task_id: str,
        status: Callable[[], dict[str, Any]],
        *,
        delay_s: float = 0.0,
        mismatch_every: int = 0,
    ) -> None:
        self.delay_s = delay_s
        self._status = status
        self._mismatch_every = mismatch_every
        self._answered = 0
        self._documents: dict[tuple[int, bool], bytes] = {}
        self._start = response(orjson.dumps({"task_id": task_id, "status": "running"}))
        self._health = response(b'{"status":"ok"}')
        self._missing = response(b'{"detail":"Not Found"}', b"404 Not Found")

    @property
    def answered(self) -> int:
        """Status requests answered so far."""
        return self._answered

    def answer(self, method: bytes, target: bytes) -> bytes:
        path, _, query = target.partition(b"?")
        if path.startswith(STATUS_PREFIX) and method == b"GET":
            self._answered += 1
            odd = self._mismatch_every > 0 and self._answered % self._mismatch_every == 0
            return self._document(_size(query), odd)
        if path == b"/api/analysis/start" and method == b"POST":
            return self._start
        if path == b"/health":
            return self._health
        return self._missing

    def _document(self, size: int, odd: bool) -> bytes:
        key = (size, odd)
        if key not in self._documents:
            document = padded(self._status(), size)
            self._documents[key] = response(orjson.dumps(mismatched(document) if odd else document))
        return self._documents[key]


def _size(query: bytes) -> int:
    for pair in query.split(b"&"):
        name, _, value = pair.partition(b"=")
        if name == b"size" and value.isdigit():
            return int(value)
    return 0


class _Connection(asyncio.Protocol):
    """HTTP/1.1 requests in, prebuilt answers out, in order (pipelining included)."""

    def __init__(self, side: Side, open_: set[_Connection]) -> None:
        self._side = side
        self._open = open_
        self._buffer = bytearray()
        self._pending: deque[tuple[float, bytes, bool]] = deque()  # delayed answers, in order
        self._timer: asyncio.TimerHandle | None = None
        self._transport: Any = None  # asyncio's or uvloop's (not an asyncio.Transport subclass)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._open.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._transport = None
        self._open.discard(self)

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (request := self._next_request()) is not None:
            method, target, close = request
            answer = self._side.answer(method, target)
            if self._side.delay_s or self._pending:
                loop = asyncio.get_running_loop()
                self._pending.append((loop.time() + self._side.delay_s, answer, close))
                if self._timer is None:
                    self._timer = loop.call_at(self._pending[0][0], self._flush)
            else:
                self._send(answer, close)

    def _next_request(self) -> tuple[bytes, bytes, bool] | None:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        lines = bytes(self._buffer[:end]).split(b"\r\n")
        method, target, version = [*lines[0].split(b" ", 2), b"", b""][:3]
        length, close = 0, version == b"HTTP/1.0"
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection":
                close = value.strip().lower() == b"close"
        if len(self._buffer) < end + 4 + length:
            return None
        del self._buffer[: end + 4 + length]
        return method, target, close

    def _flush(self) -> None:
        self._timer = None
        now = asyncio.get_running_loop().time()
        while self._pending and self._pending[0][0] <= now:
            _, answer, close = self._pending.popleft()
            self._send(answer, close)
        if self._pending:
            self._timer = asyncio.get_running_loop().call_at(self._pending[0][0], self._flush)

    def _send(self, answer: bytes, close: bool) -> None:
        if self._transport is None:
            return
        self._transport.write(answer)
        if close:
            self._transport.close()


class Served:
    """One side listening on 127.0.0.1 (port 0) in this process, until `stop()`."""

    def __init__(self, server: asyncio.Server, open_: set[_Connection]) -> None:
        host, port = server.sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}"
        self._server = server
        self._open = open_

    async def stop(self) -> None:
        """Stop listening and drop every open connection: the port refuses from now on."""
        self._server.close()
        for connection in list(self._open):
            connection.abort()
        await self._server.wait_closed()


async def serve_side(side: Side) -> Served:
    open_: set[_Connection] = set()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        partial(_Connection, side, open_), "127.0.0.1", 0, backlog=1024
    )
    return Served(server, open_)


async def _serve(slow_s: float) -> None:
    sides = {
        "legacy_url": Side(LEGACY_ID, legacy_status),
        "app_url": Side(APP_ID, app_status),
        "mismatch_app_url": Side(APP_ID, app_status, mismatch_every=MISMATCH_EVERY),
        "slow_app_url": Side(APP_ID, app_status, delay_s=slow_s),
    }
    served = {name: await serve_side(side) for name, side in sides.items()}
    sys.stdout.write(orjson.dumps({name: s.url for name, s in served.items()}).decode() + "\n")
    sys.stdout.flush()
    # until the parent closes our stdin (or dies)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.buffer.read)
    for one in served.values():
        await one.stop()


@asynccontextmanager
async def serve_backends(*, slow_s: float) -> AsyncIterator[Backends]:
    """The legacy side and three app sides, all on 127.0.0.1, port 0, in one subprocess."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.backends", "--slow-s", str(slow_s),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": _root_on_path()},
    )  # fmt: skip
    assert process.stdout is not None
    assert process.stdin is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT_S)
        if not line:
            raise RuntimeError("the benchmark backends did not start")
        yield Backends(**orjson.loads(line), pid=process.pid)
    finally:
        if process.returncode is None:
            process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


def _root_on_path() -> str:
    """The repository root on the child's PYTHONPATH (benchmarks/ is not an installed package)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH"))))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.backends", description=__doc__)
    parser.add_argument("--slow-s", type=float, default=0.2, help="the slow app side's delay")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        try:
            import uvloop
        except ImportError:
            asyncio.run(_serve(args.slow_s))
        else:
            uvloop.run(_serve(args.slow_s))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
