"""Limits on client connections, applied below aiohttp: a header-read timeout, a cap, and the
statuses of requests too large to parse.

aiohttp has an idle keep-alive timeout (set from SHADOWPROXY_KEEPALIVE_S) but no limit on how
long a client may take to send a request head, nor on how many connections it may hold open, so
headers trickled a line a second, or a thousand half-open connections, are held for an hour.
`GuardedSite` is a `web.TCPSite` whose protocol factory wraps each aiohttp `RequestHandler` in a
`_Guard` that forwards every protocol call unchanged and only

- closes a connection whose first request head is not complete within
  SHADOWPROXY_HEADER_TIMEOUT_S (later requests on a kept-alive connection are bounded by the
  keep-alive timeout while idle);
- refuses a connection beyond SHADOWPROXY_MAX_CLIENT_CONNECTIONS open at once (closed at once);
- answers a request whose client half-closed right after sending it, then closes.

aiohttp answers every request it cannot parse with 400. A request target longer than
`MAX_TARGET_BYTES` gets 414 and a header field longer than `MAX_FIELD_BYTES` (or more than
`MAX_HEADERS` fields) 431 instead (RFC 9112 §3, RFC 6585 §5), with a JSON `detail`: the two limits
differ by design, since aiohttp's error names only the limit it hit, not the part of the request.

Each action is counted in `shadowproxy_client_connections_closed_total{reason}`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong

log = structlog.get_logger(__name__)

HEAD_END = b"\r\n\r\n"
MAX_HEAD_BYTES = 256 * 1024  # past this aiohttp's own parser limits answer (431 / 400)
MAX_TARGET_BYTES = 8190  # the request line (aiohttp's default, nginx's 8 KiB buffer)
MAX_FIELD_BYTES = 8192  # one header field, name and value; must differ from MAX_TARGET_BYTES
MAX_HEADERS = 128
EOF_CHECK_S = 0.1  # how often a half-closed connection checks it still has an answer to write
PARSER_LIMITS: dict[str, Any] = {
    "max_line_size": MAX_TARGET_BYTES,
    "max_field_size": MAX_FIELD_BYTES,
    "max_headers": MAX_HEADERS,
}


@dataclass(frozen=True, slots=True)
class Limits:
    header_timeout_s: float
    max_connections: int
    closed: Callable[[str], None]  # counts a connection the guard closed, by reason


class _Open:
    def __init__(self) -> None:
        self.count = 0


class _Guard(asyncio.Protocol):
    def __init__(self, inner: asyncio.Protocol, limits: Limits, open_: _Open) -> None:
        self._inner = inner
        self._limits = limits
        self._open = open_
        self._transport: Any = None  # asyncio's or uvloop's (not an asyncio.Transport subclass)
        self._timer: asyncio.TimerHandle | None = None
        self._eof_check: asyncio.Handle | None = None
        self._head = bytearray()
        self._counted = False

    def connection_made(self, transport: Any) -> None:
        self._transport = transport
        if self._open.count >= self._limits.max_connections:
            self._limits.closed("max_connections")
            transport.abort()
            return
        self._open.count += 1
        self._counted = True
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self._limits.header_timeout_s, self._too_slow)
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._timer is not None:
            self._head += data
            if HEAD_END in self._head or len(self._head) > MAX_HEAD_BYTES:
                self._disarm()
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        """The client half-closed (it will send nothing more): answer what it asked, then close.

        aiohttp's handler ignores EOF, so asyncio would close the socket at once and the answer
        to a request sent just before the half-close were lost (nginx answers it). But aiohttp's
        keep-alive timer only closes a handler that waits, so a connection kept open for an
        answer that never comes would sit in CLOSE_WAIT for ever: an idle connection is closed
        at once, and until the connection ends `_after_eof` checks that a request is still being
        answered (a body the EOF cut short never will be: closed, aiohttp fails the read).
        """
        self._inner.eof_received()
        close = getattr(self._inner, "close", None)
        if close is None or self._timer is not None or _idle(self._inner):
            return None  # no whole request head, or nothing asked: close now
        close()  # no keep-alive: the connection ends once the current answer is written
        self._eof_check = asyncio.get_running_loop().call_soon(self._after_eof)
        return True  # keep the write side open for that answer

    def _after_eof(self) -> None:
        self._eof_check = None
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        current = getattr(self._inner, "_current_request", None)
        if _idle(self._inner) or (current is not None and not current.content.is_eof()):
            transport.close()  # nothing more to answer, or a body that can never be whole
            return
        self._eof_check = asyncio.get_running_loop().call_later(EOF_CHECK_S, self._after_eof)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._eof_check is not None:
            self._eof_check.cancel()
            self._eof_check = None
        if self._counted:
            self._open.count -= 1
            self._counted = False
            self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def _too_slow(self) -> None:
        self._timer = None
        self._limits.closed("header_timeout")
        if self._transport is not None:
            self._transport.close()

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._head = bytearray()


def too_large(exc: BaseException | None) -> tuple[int, str] | None:
    """The status and reason for a request aiohttp could not parse because of its size."""
    if isinstance(exc, LineTooLong):
        if exc.args[1] == MAX_TARGET_BYTES:
            return 414, "request_target_too_long"
        return 431, "header_fields_too_large"
    if isinstance(exc, BadHttpMessage) and "Too many headers" in exc.message:
        return 431, "header_fields_too_large"
    return None


def _handler_class(closed: Callable[[str], None]) -> type[web.RequestHandler]:
    """aiohttp's request handler, but a request too large to parse gets 414 or 431 (counted)."""

    class Handler(web.RequestHandler):
        __slots__ = ()  # the layout of aiohttp's: instances are re-classed, not rebuilt

        def handle_error(
            self,
            request: web.BaseRequest,
            status: int = 500,
            exc: BaseException | None = None,
            message: str | None = None,
        ) -> web.StreamResponse:
            verdict = too_large(exc) if status == 400 else None
            if verdict is None:
                return super().handle_error(request, status, exc, message)
            status, reason = verdict
            closed(reason)
            log.info("request_refused", status=status, reason=reason)
            response = web.json_response({"detail": reason.replace("_", " ")}, status=status)
            response.force_close()
            return response

    return Handler


def _idle(handler: Any) -> bool:
    """Whether aiohttp's handler waits for a request with none queued (reads two internals of
    it, pinned by the half-close tests in tests/shadowproxy/ops/test_limits.py)."""
    waiter = getattr(handler, "_waiter", None)
    return waiter is not None and not waiter.done() and not getattr(handler, "_messages", ())


class GuardedSite(web.TCPSite):
    """A TCPSite whose connections pass through `_Guard` (aiohttp's own start, one factory)."""

    def __init__(self, runner: web.AppRunner, host: str, port: int, *, limits: Limits) -> None:
        super().__init__(runner, host, port)
        self._limits = limits
        self._open = _Open()
        self._handler = _handler_class(limits.closed)

    async def start(self) -> None:
        await web.BaseSite.start(self)
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None

        def factory() -> asyncio.Protocol:
            inner: Any = server()
            if type(inner) is web.RequestHandler:
                inner.__class__ = self._handler
            return _Guard(inner, self._limits, self._open)

        self._server = await loop.create_server(
            factory,
            self._host,
            self._port,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
        )
