"""Forwarding one request to one side, and streaming its answer to the client byte for byte.

Each side is an `Upstream`: its base URL and its own `ClientSession`, i.e. one keep-alive pool
per side, so a slow shadow can never hold a connection the authoritative side needs. Sessions
never decompress (`auto_decompress=False`), never keep cookies (one pool serves every client),
never add default headers the client did not send, and never follow redirects: what the
backend said is what the client gets. The raw path and query bytes are used as received
(`yarl.URL(..., encoded=True)`), so `%2F`, `%20`, `+` and repeated keys reach the backend intact.

This is the network edge: `map_client_errors()` translates aiohttp's and asyncio's transport
errors into the proxy's own tree (`shadowproxy.errors`), and nothing above it catches them raw.
"""

from __future__ import annotations

import time
import weakref
import zlib
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from aiohttp.client_proto import ResponseHandler
from aiohttp.connector import Connection
from aiohttp.tracing import Trace
from multidict import CIMultiDict
from yarl import URL

from shadowproxy.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from shadowproxy.http.headers import as_tuple, client_headers
from shadowproxy.types import Observation, Side

Body = bytes | AsyncIterator[bytes] | None
_NO_DEFAULTS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")
_NO_BODY_STATUSES = frozenset({204, 304})


@contextmanager
def map_client_errors(side: Side) -> Iterator[None]:
    """Translate aiohttp/asyncio transport failures of one side into the proxy's tree.

    Timeouts are checked first because aiohttp's `ServerTimeoutError` is both a `ClientError`
    and an `asyncio.TimeoutError`. Client errors carry no secrets in their text (they name the
    host and port only), but we still keep just the exception type and message, never headers.
    """
    try:
        yield
    except TimeoutError as exc:
        raise UpstreamTimeout(side, "timed out") from exc
    except aiohttp.ClientConnectorError as exc:
        raise UpstreamUnavailable(
            side, f"refused the connection ({exc.os_error.strerror})"
        ) from exc
    except (aiohttp.ClientError, ConnectionError) as exc:
        raise UpstreamUnavailable(side, f"failed: {type(exc).__name__}") from exc


def failed(exc: UpstreamError, started: float) -> Observation:
    """The observation of a side that gave no HTTP answer, timed from `started`."""
    return Observation(
        side=exc.side, status=None, error=exc.detail, latency_s=time.perf_counter() - started
    )


class _QuietPoolConnector(aiohttp.TCPConnector):
    """Never hands out a pooled connection its backend wrote to while it sat idle.

    A backend whose Content-Length is shorter than what it sent leaves bytes on the kept-alive
    connection after its answer; aiohttp parses them into a queued response, and the next
    request on that connection would get it as its answer: one nobody asked for, or meant for
    another client (RFC 9112 §6.3: a client must not forward such data as a separate response).
    Such a connection is closed instead and the next one (pooled or new) is taken; a new one is
    always used as it is.
    """

    def __init__(self, *, limit: int) -> None:
        super().__init__(limit=limit)
        self._handed_out: weakref.WeakSet[ResponseHandler] = weakref.WeakSet()

    async def connect(
        self,
        req: aiohttp.ClientRequest,
        traces: list[Trace],
        timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109 - aiohttp's signature, its timeout
    ) -> Connection:
        while True:
            connection = await super().connect(req, traces, timeout)
            protocol = connection.protocol
            assert protocol is not None  # a connection just handed out has its protocol
            if protocol not in self._handed_out or not protocol.should_close:
                self._handed_out.add(protocol)
                return connection
            connection.close()


def new_session(pool_size: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=_QuietPoolConnector(limit=pool_size),
        auto_decompress=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        skip_auto_headers=_NO_DEFAULTS,
        trust_env=False,
    )


class Upstream:
    def __init__(self, side: Side, base_url: str, session: aiohttp.ClientSession) -> None:
        self.side = side
        self.base_url = base_url.rstrip("/")
        self.session = session

    def url(self, raw_path_qs: str) -> URL:
        return URL(self.base_url + raw_path_qs, encoded=True)

    async def send(
        self,
        method: str,
        raw_path_qs: str,
        headers: CIMultiDict[str],
        body: Body,
        client_timeout: aiohttp.ClientTimeout,
    ) -> aiohttp.ClientResponse:
        """Start the request; returns at the status line and headers. The caller releases it."""
        with map_client_errors(self.side):
            return await self.session.request(
                method,
                self.url(raw_path_qs),
                headers=headers,
                data=body,
                allow_redirects=False,
                timeout=client_timeout,
            )


def has_no_body(method: str, status: int) -> bool:
    return method == "HEAD" or status in _NO_BODY_STATUSES or 100 <= status < 200


async def iter_body(side: Side, response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """The response body as it arrives; transport failures mapped, client-side ones untouched."""
    while True:
        with map_client_errors(side):
            chunk = await response.content.readany()
        if not chunk:
            return
        yield chunk


@dataclass(slots=True)
class Capture:
    """A copy of a streamed body, up to a limit: what the comparison gets to see."""

    limit: int
    data: bytearray
    overflowed: bool = False
    error: str | None = None  # the side failed mid-body; the client saw a truncated answer

    def add(self, chunk: bytes) -> None:
        if self.overflowed:
            return
        if len(self.data) + len(chunk) > self.limit:
            self.overflowed = True
            self.data.clear()
        else:
            self.data += chunk


def new_capture(limit: int) -> Capture:
    return Capture(limit, bytearray())


async def read_request_body(request: web.Request, limit: int) -> tuple[Body, bool]:
    """Buffer up to `limit` bytes so both sides get the same body; beyond it, stream it on.

    Returns (body, too_large). A too-large body is a generator that replays what was already
    read and then pulls the rest from the client, so only the authoritative side can get it.
    """
    if not request.body_exists:
        return None, False
    buffered = bytearray()
    while len(buffered) <= limit:
        chunk = await request.content.readany()
        if not chunk:
            return bytes(buffered), False
        buffered += chunk
    return _replay_then_stream(bytes(buffered), request), True


async def _replay_then_stream(prefix: bytes, request: web.Request) -> AsyncIterator[bytes]:
    yield prefix
    while chunk := await request.content.readany():
        yield chunk


async def stream_answer(
    request: web.Request,
    upstream: aiohttp.ClientResponse,
    *,
    side: Side,
    capture: Capture,
    request_id: str | None = None,
) -> web.StreamResponse:
    """Stream the authoritative answer to the client while keeping a bounded copy (its headers
    carry the request's id when given).

    If the side fails after the status line went out, the only honest signal left is to cut
    the client connection (no terminating chunk, or fewer bytes than Content-Length).
    """
    response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
    version = (upstream.version.major, upstream.version.minor) if upstream.version else (1, 1)
    headers = client_headers(
        upstream.headers, authoritative=side, request_id=request_id, version=version
    )
    response.headers.extend(headers)
    await response.prepare(request)
    if not has_no_body(request.method, upstream.status):
        try:
            async for chunk in iter_body(side, upstream):
                capture.add(chunk)
                await response.write(chunk)
        except UpstreamError as exc:
            capture.error = exc.detail
            if request.transport is not None:
                request.transport.close()
            return response
    await response.write_eof()
    return response


async def observe(
    upstream: Upstream,
    method: str,
    raw_path_qs: str,
    headers: CIMultiDict[str],
    body: Body,
    *,
    client_timeout: aiohttp.ClientTimeout,
    limit: int,
) -> tuple[Observation, bool]:
    """One whole exchange with a side, for comparison only: (observation, body overflowed).

    A side that gives no HTTP answer is an observation too (`failed`), never an exception."""
    started = time.perf_counter()
    capture = new_capture(limit)
    try:
        response = await upstream.send(method, raw_path_qs, headers, body, client_timeout)
        async with response:
            if not has_no_body(method, response.status):
                async for chunk in iter_body(upstream.side, response):
                    capture.add(chunk)
                    if capture.overflowed:
                        break
    except UpstreamError as exc:
        return failed(exc, started), False
    observation = Observation(
        side=upstream.side,
        status=response.status,
        headers=as_tuple(response.headers),
        body=bytes(capture.data),
        latency_s=time.perf_counter() - started,
    )
    return observation, capture.overflowed


def decoded_body(observation: Observation, limit: int) -> bytes | None:
    """The kept body as the backend meant it (gzip/deflate undone, capped against bombs).

    None when it cannot be compared: an encoding we do not decode, or too large once inflated.
    """
    encoding = (observation.header("Content-Encoding") or "").strip().lower()
    if encoding in ("", "identity") or not observation.body:
        return observation.body
    if encoding in ("gzip", "x-gzip"):
        wbits = 16 + zlib.MAX_WBITS
    elif encoding == "deflate":
        wbits = zlib.MAX_WBITS
    else:
        return None
    data = zlib.decompressobj(wbits).decompress(observation.body, limit + 1)
    return data if len(data) <= limit else None
