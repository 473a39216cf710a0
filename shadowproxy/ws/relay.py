"""The websocket relay (`WsHandler`): the client's socket joined to the authoritative side's.

Order of a connection: connect to the authoritative side first, so that a refused upgrade (its
HTTP status), an unreachable side (502/504) and the subprotocol it picked reach the client as
they are; then accept the client with that subprotocol; then start the shadow in the background
(unless shadowing is off, sampled out or at capacity) and relay until either end closes.

Frames pass through as they are: text and binary, ping and pong (autoping is off on both client
and authoritative sockets, so each end answers its own pings), close codes and reasons. What the
proxy adds is bounded: a message above SHADOWPROXY_WS_MAX_FRAME_BYTES closes the connection with
1009 (the limit is per message, a fragmented one counts whole, as aiohttp's `max_msg_size` does;
a message of exactly the limit passes); a client that stops reading is closed with 1008 once
SHADOWPROXY_WS_SEND_BUFFER_BYTES are queued for it (the bound is on what is already waiting: a
message up to the frame limit always goes to a client with nothing queued). A close code the
client must not send (1005, 1006, 1015, reserved or out of range: RFC 6455 §7.4) closes it with
1002, and the backends with 1000; so does an unmasked client frame (`ws/masking.py`). Compression
(permessage-deflate) is per hop: the client's socket accepts it when offered, and only then is it
offered to the backends. When the proxy closes the connection itself (1008, 1009), the
comparison is skipped and says so. `WsRelay.close_all` closes every open client with 1001 at
shutdown. The hot path never parses a frame: it copies it into the recorder's bounded buffer.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from dataclasses import dataclass

import aiohttp
from aiohttp import WSCloseCode, WSMsgType, web

from shadowproxy.diff.streams.analysis import AnalysisStream
from shadowproxy.diff.streams.base import Setup, Stream, Timers
from shadowproxy.diff.streams.frames import Frame, FrameKind
from shadowproxy.diff.streams.generic import GenericStream
from shadowproxy.diff.streams.live import OrchestratorStream
from shadowproxy.errors import UpstreamError, UpstreamRefused
from shadowproxy.http.app import detail_response
from shadowproxy.http.context import ProxyContext
from shadowproxy.http.exchange import shape
from shadowproxy.http.headers import AUTHORITATIVE_MARK
from shadowproxy.settings import Settings
from shadowproxy.types import ExchangeKind, Observation, RouteGroup, RouteMatch
from shadowproxy.ws.dial import (
    CLOSE_TIMEOUT_S,
    dial,
    max_msg_size,
    offers_deflate,
    requested_protocols,
    sendable,
    side_headers,
    valid_close_code,
)
from shadowproxy.ws.masking import ClientSocket
from shadowproxy.ws.mirror import Recorder, Shadow

TOO_SLOW = b"client too slow"
INVALID_CLOSE = b"invalid close code"


class WsRelay:
    """The proxy's websocket handler; one instance serves every connection of an app."""

    def __init__(self) -> None:
        self._open: set[_Connection] = set()  # accepted client websockets not yet closed

    async def __call__(
        self, request: web.Request, match: RouteMatch, ctx: ProxyContext
    ) -> web.StreamResponse:
        return await _Connection(request, match, ctx, self._open).run()

    async def wait_closed(self, timeout_s: float) -> None:
        """Until every open client websocket has ended by itself, or `timeout_s` passed."""
        if self._open:
            with suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(*(c.finished() for c in list(self._open))), timeout_s
                )

    async def close_all(self, code: int = 1001, message: bytes = b"server shutdown") -> int:
        """Close every open client websocket (and its backends) with `code`, wait until each
        comparison is published (a shadow lingers at most SHADOWPROXY_WS_SETTLE_S; one still
        connecting is given up), and say how many were closed. For the app's shutdown."""
        connections = list(self._open)
        for connection in connections:
            connection.shut(code, message)
        await asyncio.gather(*(connection.finished() for connection in connections))
        return len(connections)


@dataclass(slots=True)
class _Close:
    """How the connection ends: the code and reason the client is sent, and the backends
    (the same unless `upstream` says otherwise)."""

    code: int
    reason: bytes = b""
    upstream: tuple[int, bytes] | None = None

    @property
    def backends(self) -> tuple[int, bytes]:
        return self.upstream or (self.code, self.reason)


class _Connection:
    def __init__(
        self,
        request: web.Request,
        match: RouteMatch,
        ctx: ProxyContext,
        registry: set[_Connection],
    ) -> None:
        spec = match.spec
        self.request, self.match, self.ctx = request, match, ctx
        self.registry = registry
        self.stopping = asyncio.Event()  # set by `shut`: close now
        self.done = asyncio.Event()  # the client and the backends are closed
        self.comparing: asyncio.Task[None] | None = None
        self.side = ctx.flags.authoritative(spec.group)
        self.exchange = shape(
            request, match, self.side, ExchangeKind.WS, flags_version=ctx.flags.version
        )
        group = spec.group.value
        frames = ctx.metrics.ws_frames
        self.sent = frames.labels(group, self.side.value, "sent")
        self.received = frames.labels(group, self.side.value, "received")
        self.open = ctx.metrics.ws_open.labels(group)
        self.recorder: Recorder | None = None
        self.shadow: Shadow | None = None
        self.close: _Close | None = None  # set by whichever pump ends the connection
        self.delivered = 0  # data frames the client got from the authoritative side
        # permessage-deflate is offered to the backends when the client offered it: each hop
        # then compresses exactly when a direct connection would
        self.deflate = ctx.settings.ws_deflate and offers_deflate(request)

    def connections(self, result: str) -> None:
        self.ctx.metrics.ws_connections.labels(
            self.exchange.route_group.value, self.side.value, result
        ).inc()

    def shut(self, code: int, reason: bytes) -> None:
        self._end(code, reason)
        self.stopping.set()

    async def finished(self) -> None:
        """Until the connection is closed and its comparison (if any) published."""
        await self.done.wait()
        if self.comparing is not None:
            await asyncio.wait({self.comparing})

    async def run(self) -> web.StreamResponse:
        ctx, request, side = self.ctx, self.request, self.side
        settings = ctx.settings
        client = _client_socket(settings, None)
        if not client.can_prepare(request).ok:
            return detail_response(400, "not a websocket upgrade", side)
        protocols = requested_protocols(request)
        path = ctx.correlation.target(self.match, self.exchange.path, side)
        try:
            upstream, observation = await dial(
                ctx,
                side,
                path,
                side_headers(request, self.exchange, shadow=False),
                protocols=protocols,
                autoping=False,
                timeout_s=settings.upstream_timeout_s,
                deflate=self.deflate,
            )
        except UpstreamRefused as exc:
            self.connections("refused")
            return detail_response(exc.status, str(exc), side)
        except UpstreamError as exc:
            self.connections("failed")
            return detail_response(exc.status, str(exc), side)
        self.connections("connected")
        ctx.metrics.request(self.exchange.route_group, self.exchange.route, "GET", side, 101)
        try:
            client = _client_socket(settings, upstream.protocol)
            client.headers[AUTHORITATIVE_MARK] = side.value
            await client.prepare(request)
            if request.transport is not None:  # never paused below the bound we check ourselves
                high = settings.ws_send_buffer_bytes + settings.ws_max_frame_bytes + _HEADER
                request.transport.set_write_buffer_limits(high=high)
            self.registry.add(self)
            self.open.inc()
            self._start_shadow(observation, protocols)
            await self._relay(client, upstream)
        finally:
            try:
                await self._teardown(client, upstream)
            finally:
                if self in self.registry:
                    self.registry.discard(self)
                    self.open.dec()
                self.done.set()
        return client

    def _start_shadow(self, observation: Observation, protocols: tuple[str, ...]) -> None:
        ctx, exchange = self.ctx, self.exchange
        reason = ctx.shadow.skip_reason(exchange, self.match, websocket=True)
        if reason is not None:
            ctx.pipeline.skip(exchange, reason)
            return
        headers = side_headers(self.request, exchange, shadow=True)
        recorder = Recorder(ctx, self._stream())
        recorder.connected(observation)
        self.recorder = recorder
        self.shadow = Shadow(ctx, self.match, recorder, headers, protocols, deflate=self.deflate)
        self.comparing = ctx.spawn(recorder.run(), name=f"ws compare {exchange.comparison_id}")
        self.shadow.start()

    def _stream(self) -> Stream:
        ctx, exchange = self.ctx, self.exchange
        setup = Setup(
            exchange=exchange,
            engine=ctx.engine,
            ids=ctx.correlation.aliases,
            timers=Timers(stall_s=ctx.settings.ws_stall_s, settle_s=ctx.settings.ws_settle_s),
            opened_at=asyncio.get_running_loop().time(),
            task_id=ctx.correlation.key(self.match, exchange.path),
        )
        if exchange.route_group is RouteGroup.WS_ANALYSIS:
            return AnalysisStream(setup)
        if exchange.route_group is RouteGroup.WS_ORCHESTRATOR:
            return OrchestratorStream(setup)
        return GenericStream(
            setup,
            max_pending=ctx.settings.ws_buffer_frames,
            max_differences=ctx.settings.config.max_differences,
        )

    # ------------------------------------------------------------------ relaying

    async def _relay(
        self, client: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse
    ) -> None:
        name = self.exchange.comparison_id
        pumps = {
            self.ctx.spawn(self._from_client(client, upstream), name=f"ws client {name}"),
            self.ctx.spawn(self._to_client(upstream, client), name=f"ws upstream {name}"),
        }
        stop = self.ctx.spawn(self.stopping.wait(), name=f"ws shut {name}")
        try:
            await asyncio.wait({*pumps, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            for pump in pumps:
                pump.cancel()
            await asyncio.wait({*pumps, stop})

    async def _from_client(
        self, client: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse
    ) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                message = await client.receive()
                kind = message.type
                if kind is WSMsgType.TEXT:
                    await upstream.send_str(message.data)
                    self._mirror(Frame(FrameKind.TEXT, message.data.encode(), loop.time()))
                elif kind is WSMsgType.BINARY:
                    await upstream.send_bytes(message.data)
                    self._mirror(Frame(FrameKind.BINARY, message.data, loop.time()))
                elif kind is WSMsgType.PING:
                    await upstream.ping(message.data)
                    continue
                elif kind is WSMsgType.PONG:
                    await upstream.pong(message.data)
                    continue
                elif kind is WSMsgType.CLOSE:  # data 0: a close frame without a code
                    if message.data and not valid_close_code(message.data):  # 1006, 5000…
                        self._invalid_close()
                    else:
                        self._end(sendable(message.data), (message.extra or "").encode())
                    return
                elif kind is WSMsgType.ERROR:  # aiohttp already closed the client (1009, 1002…)
                    code = _error_code(message.data)
                    if code == WSCloseCode.MESSAGE_TOO_BIG:
                        self.connections("frame_too_big")
                        self._end(code, proxy="message too big")
                    elif str(message.data).startswith("Invalid close code"):  # 1005, 1015…
                        self._invalid_close()
                    else:
                        self._end(code)
                    return
                else:  # CLOSING / CLOSED: the other pump is closing the client
                    return
                self.sent.inc()
        except (ConnectionError, aiohttp.ClientError):
            self._end(WSCloseCode.BAD_GATEWAY.value)

    def _mirror(self, frame: Frame) -> None:
        if self.recorder is not None and self.shadow is not None:
            self.recorder.client(frame)
            self.shadow.send(frame)

    async def _to_client(
        self, upstream: aiohttp.ClientWebSocketResponse, client: web.WebSocketResponse
    ) -> None:
        loop = asyncio.get_running_loop()
        limit = self.ctx.settings.ws_send_buffer_bytes
        transport = self.request.transport
        side = self.side
        try:
            while True:
                message = await upstream.receive()
                kind = message.type
                if kind in (WSMsgType.TEXT, WSMsgType.BINARY):
                    data = message.data.encode() if kind is WSMsgType.TEXT else message.data
                    # what is already waiting for the client, not counting this message: a
                    # message up to the frame limit always goes to a client that keeps up
                    queued = transport.get_write_buffer_size() if transport is not None else 0
                    if queued >= limit:
                        self.connections("client_too_slow")
                        self._end(
                            WSCloseCode.POLICY_VIOLATION.value, TOO_SLOW, proxy="client too slow"
                        )
                        return
                    if kind is WSMsgType.TEXT:
                        await client.send_str(message.data)
                    else:
                        await client.send_bytes(data)
                    self.received.inc()
                    self.delivered += 1
                    if self.recorder is not None:
                        frame_kind = FrameKind.TEXT if kind is WSMsgType.TEXT else FrameKind.BINARY
                        self.recorder.frame(side, Frame(frame_kind, data, loop.time()))
                elif kind is WSMsgType.PING:
                    await client.ping(message.data)
                elif kind is WSMsgType.PONG:
                    await client.pong(message.data)
                elif kind is WSMsgType.CLOSE:
                    code = int(message.data)
                    if self.recorder is not None:
                        self.recorder.closed(side, code)
                    self._end(sendable(code), (message.extra or "").encode())
                    return
                elif kind is WSMsgType.ERROR:
                    too_big = _error_code(message.data) == WSCloseCode.MESSAGE_TOO_BIG
                    if too_big:
                        self.connections("frame_too_big")
                    elif self.recorder is not None:
                        self.recorder.lost(side, "connection lost")
                    if too_big:
                        self._end(WSCloseCode.MESSAGE_TOO_BIG.value, proxy="message too big")
                    else:
                        self._end(WSCloseCode.BAD_GATEWAY.value)
                    return
                else:  # CLOSING, CLOSED
                    if kind is WSMsgType.CLOSED and self.close is None:
                        # aiohttp's word for a connection that broke without a close frame
                        # (reset or EOF), unless the other pump is closing it
                        if self.recorder is not None:
                            self.recorder.lost(side, "connection lost")
                        self._end(WSCloseCode.BAD_GATEWAY.value)
                    return
        except (ConnectionError, aiohttp.ClientError):
            self._end(WSCloseCode.GOING_AWAY.value)

    def _end(self, code: int, reason: bytes = b"", *, proxy: str | None = None) -> None:
        """Record how the connection ends (the first pump to end decides); `proxy`: why the
        proxy itself closes it (then it is not the sides' to compare)."""
        if self.close is not None:
            return
        self.close = _Close(code, reason)
        if proxy is not None and self.recorder is not None:
            self.recorder.proxy_closed(code, proxy)

    def _invalid_close(self) -> None:
        """The client closed with a code no endpoint may send: a protocol error on its side;
        the backends did nothing wrong and are closed normally."""
        if self.close is None:
            self.close = _Close(
                WSCloseCode.PROTOCOL_ERROR.value, INVALID_CLOSE, upstream=(WSCloseCode.OK, b"")
            )

    async def _teardown(
        self, client: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse
    ) -> None:
        """Close the client first (it never waits on an upstream), then both sides."""
        close = self.close or _Close(WSCloseCode.GOING_AWAY.value)
        code, reason = close.backends
        if self.shadow is not None:
            # a shutdown gives up a shadow still connecting; a client that left does not
            self.shadow.stop(code, reason, frames=self.delivered, abandon=self.stopping.is_set())
        if client.prepared:
            await client.close(code=close.code, message=close.reason, drain=False)
        await upstream.close(code=code, message=reason)


_HEADER = 16  # the largest frame header


def _client_socket(settings: Settings, protocol: str | None) -> web.WebSocketResponse:
    """The client's socket: pings, pongs and closes are relayed, not answered by aiohttp;
    permessage-deflate is accepted when the client offers it (and SHADOWPROXY_WS_DEFLATE)."""
    return ClientSocket(
        timeout=CLOSE_TIMEOUT_S,
        autoclose=False,
        autoping=False,
        compress=settings.ws_deflate,
        max_msg_size=max_msg_size(settings.ws_max_frame_bytes),
        protocols=(protocol,) if protocol else (),
    )


def _error_code(error: object) -> int:
    """The close code aiohttp closed with for a frame it could not accept."""
    if isinstance(error, aiohttp.WebSocketError):
        return sendable(error.code, WSCloseCode.PROTOCOL_ERROR)
    return WSCloseCode.PROTOCOL_ERROR.value
