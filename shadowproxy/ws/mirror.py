"""The shadow half of a relayed websocket, and the task that feeds the comparison.

`Recorder` is what the hot path touches: pushing a frame into a bounded `FrameBuffer` and setting
an event, nothing else. Its task drains the buffers into the route's `Stream`, asks it what is due
(waking at its settle and stall deadlines too) and publishes through the shadow dispatcher's
publish/failure handlers, so every failure in here is logged and counted and none reaches the
client. `Shadow` is the shadow side's connection: it resolves the task id through the correlation
map, connects, sends the client's frames from a bounded outbox, and records what the side says.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress
from dataclasses import replace
from functools import partial

import aiohttp
import structlog
from aiohttp import WSMsgType
from multidict import CIMultiDict

from shadowproxy.contracts.inspect import SocketChecks
from shadowproxy.diff.streams.base import SIDES, Stream
from shadowproxy.diff.streams.frames import Frame, FrameBuffer, FrameKind
from shadowproxy.errors import StoreUnavailable, UpstreamError, UpstreamRefused
from shadowproxy.http.context import ProxyContext
from shadowproxy.types import (
    Comparison,
    Exchange,
    Observation,
    Outcome,
    RouteMatch,
    Side,
    SkipReason,
)
from shadowproxy.ws.dial import dial, sendable

log = structlog.get_logger(__name__)

CLIENT = "client"


class Recorder:
    def __init__(self, ctx: ProxyContext, stream: Stream) -> None:
        settings = ctx.settings
        self._ctx = ctx
        self._stream = stream
        self._buffers = {
            key: FrameBuffer(
                max_frames=settings.ws_buffer_frames, max_bytes=settings.ws_buffer_bytes
            )
            for key in (CLIENT, *SIDES)
        }
        self._reported = dict.fromkeys(self._buffers, 0)
        self._events: list[Callable[[], None]] = []
        self._wake = asyncio.Event()
        self._ended = False
        self._skip: SkipReason | None = None
        self._overflow = ctx.metrics.ws_shadow_overflow.labels(stream.exchange.route_group.value)
        exchange = stream.exchange
        self._checks = SocketChecks(ctx.inspector, exchange.route, exchange.authoritative)

    @property
    def exchange(self) -> Exchange:
        return self._stream.exchange

    # ------------------------------------------------------------------ hot path: no waiting

    def client(self, frame: Frame) -> None:
        self._push(CLIENT, frame)

    def frame(self, side: Side, frame: Frame) -> None:
        self._push(side, frame)

    def connected(self, observation: Observation) -> None:
        self._event(partial(self._stream.connected, observation))

    def closed(self, side: Side, code: int) -> None:
        self._event(partial(self._stream.closed, side, code))

    def lost(self, side: Side, error: str) -> None:
        self._event(partial(self._stream.lost, side, error))

    def proxy_closed(self, code: int, why: str) -> None:
        """The proxy closed the client itself (1008, 1009): the comparison is not the sides'."""
        self._event(partial(self._stream.proxy_closed, code, why))

    def overflowed(self, count: int = 1) -> None:
        """A frame meant for the shadow side was dropped (its outbox was full)."""
        self._overflow.inc(count)
        stream = self._stream  # client frames: not frames the shadow sent
        self._event(partial(stream.dropped, stream.authoritative.other, count, seen=True))

    def skip(self, reason: SkipReason) -> None:
        """Nothing will be compared on this connection: publish why, once, and stop."""
        self._skip = reason
        self._wake.set()

    def end(self) -> None:
        self._ended = True
        self._wake.set()

    def _event(self, apply: Callable[[], None]) -> None:
        """Connection events are applied after the frames that came before them."""
        self._events.append(apply)
        self._wake.set()

    def _push(self, key: str, frame: Frame) -> None:
        if not self._buffers[key].push(frame) and key == self._stream.authoritative.other:
            self._overflow.inc()
        self._wake.set()

    # ------------------------------------------------------------------ background

    async def run(self) -> None:
        stream, loop = self._stream, asyncio.get_running_loop()
        try:
            while True:
                deadline = stream.deadline()
                delay = None if deadline is None else max(0.0, deadline - loop.time())
                try:
                    async with asyncio.timeout(delay):
                        await self._wake.wait()
                except TimeoutError:
                    pass
                self._wake.clear()
                if self._skip is not None:  # counted only, when sampled out (publish.py)
                    self._ctx.pipeline.skip(stream.exchange, self._skip)
                    return
                ended = self._ended
                self._drain()
                if ended:
                    self._publish(stream.finish(loop.time()))
                    return
                self._publish(stream.due(loop.time()))
        except Exception as exc:  # a comparison bug must end the comparison, not the relay
            self._ctx.pipeline.failure("ws_compare", exc, stream.exchange)

    def _drain(self) -> None:
        stream = self._stream
        for frame in self._buffers[CLIENT].take():
            stream.client(frame)
        for side in SIDES:
            for frame in self._buffers[side].take():
                stream.frame(side, frame)
                document = frame.json()
                if document is not None:
                    self._checks.frame(side, document)
        events, self._events = self._events, []
        for apply in events:
            apply()
        for key, buffer in self._buffers.items():
            fresh = buffer.dropped - self._reported[key]
            if fresh:
                self._reported[key] = buffer.dropped
                if isinstance(key, Side):
                    stream.dropped(key, fresh)
                else:  # client frames lost for the comparison: pairing cannot be trusted
                    stream.dropped(stream.authoritative, fresh, seen=True)

    def _publish(self, comparisons: list[Comparison]) -> None:
        """Each comparison carries what the frames since the one before broke (per message)."""
        for comparison in comparisons:
            client = self._checks.take()
            if client is not None and comparison.outcome is not Outcome.SKIPPED:
                comparison = replace(comparison, client=client)
            self._ctx.pipeline.publish(comparison)


class Shadow:
    """The shadow side's connection; `start()` spawns it, `stop()` closes it (idempotent)."""

    def __init__(
        self,
        ctx: ProxyContext,
        match: RouteMatch,
        recorder: Recorder,
        headers: CIMultiDict[str],
        protocols: tuple[str, ...],
        *,
        deflate: bool,
    ) -> None:
        self._ctx = ctx
        self._deflate = deflate
        self._match = match
        self._recorder = recorder
        self._headers = headers
        self._protocols = protocols
        self._exchange = recorder.exchange
        self.side = recorder.exchange.authoritative.other
        group = recorder.exchange.route_group.value
        self._sent = ctx.metrics.ws_frames.labels(group, self.side.value, "sent")
        self._received = ctx.metrics.ws_frames.labels(group, self.side.value, "received")
        self._outbox: asyncio.Queue[Frame] = asyncio.Queue(ctx.settings.ws_buffer_frames)
        self._task: asyncio.Task[None] | None = None
        self._connected = False
        self._close = (aiohttp.WSCloseCode.GOING_AWAY.value, b"")
        self._stopping = asyncio.Event()
        self._caught_up = asyncio.Event()
        self._target: int | None = None  # frames the authoritative side sent to the client
        self._count = 0  # frames this side sent

    def start(self) -> None:
        name = f"ws shadow {self._exchange.comparison_id}"
        dispatcher = self._ctx.shadow
        dispatcher.ws_opened()
        self._task = self._ctx.spawn(self._run(), name=name)
        # however the task ends (even cancelled before it ran), the comparison is told and the
        # slot under SHADOWPROXY_MAX_WS_SHADOWS is given back
        self._task.add_done_callback(lambda _: self._recorder.end())
        self._task.add_done_callback(lambda _: dispatcher.ws_closed())

    def send(self, frame: Frame) -> None:
        """Queue a client frame for the shadow; a full outbox drops it (counted)."""
        try:
            self._outbox.put_nowait(frame)
        except asyncio.QueueFull:
            self._recorder.overflowed()

    def stop(self, code: int, reason: bytes, *, frames: int, abandon: bool = False) -> None:
        """The client's connection ended after the authoritative side sent it `frames` frames.

        The shadow lingers until it sent as many (at most SHADOWPROXY_WS_SETTLE_S once
        connected), so the frames it had in flight are compared. One still connecting goes on
        connecting (within the shadow timeout), is sent the client's frames it missed and is
        compared on what both sides received: short sessions are compared too. `abandon` (at
        shutdown): one still connecting is given up instead.
        """
        self._close = (code, reason)
        self._target = frames
        self._stopping.set()
        self._check_caught_up()
        if abandon and not self._connected and self._task is not None:
            self._task.cancel()

    def _check_caught_up(self) -> None:
        if self._target is not None and self._count >= self._target:
            self._caught_up.set()

    async def _run(self) -> None:
        ctx, exchange, side = self._ctx, self._exchange, self.side
        try:
            path = await ctx.correlation.shadow_target(
                self._match, exchange.path, side, timeout_s=ctx.settings.shadow_timeout_s
            )
        except StoreUnavailable:
            self._recorder.skip(SkipReason.STORE_UNAVAILABLE)
            return
        if path is None:
            self._recorder.skip(ctx.shadow.flows.unresolved(exchange, self._match))
            return
        connections = ctx.metrics.ws_connections
        group = exchange.route_group.value
        try:
            ws, observation = await dial(
                ctx,
                side,
                path,
                self._headers,
                protocols=self._protocols,
                autoping=True,
                timeout_s=ctx.settings.shadow_timeout_s,
                deflate=self._deflate,
            )
        except UpstreamRefused as exc:
            connections.labels(group, side.value, "refused").inc()
            self._recorder.connected(Observation(side=side, status=exc.status))
            return
        except UpstreamError as exc:
            connections.labels(group, side.value, "failed").inc()
            failed = Observation(side=side, status=None, error=exc.detail)
            self._recorder.connected(failed)
            return
        self._connected = True
        connections.labels(group, side.value, "connected").inc()
        self._recorder.connected(observation)
        name = exchange.comparison_id
        workers = (
            ctx.spawn(self._send_all(ws), name=f"ws shadow send {name}"),
            ctx.spawn(self._receive_all(ws), name=f"ws shadow receive {name}"),
        )
        try:
            await self._stopping.wait()
            with suppress(TimeoutError):
                async with asyncio.timeout(ctx.settings.ws_settle_s):
                    await self._caught_up.wait()
        finally:
            for worker in workers:
                worker.cancel()
            try:
                # close() must not find receive() waiting: aiohttp leaks the connection when
                # a close that waits for it is cancelled (shutdown cancels lingering shadows)
                await asyncio.wait(workers)
            finally:
                code, reason = self._close
                await ws.close(code=code, message=reason)

    async def _send_all(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        try:
            while True:
                frame = await self._outbox.get()
                if frame.kind is FrameKind.TEXT:
                    await ws.send_str(frame.data.decode("utf-8"))
                else:
                    await ws.send_bytes(frame.data)
                self._sent.inc()
        except (ConnectionError, aiohttp.ClientError):
            return  # the side went away; the reader records how

    async def _receive_all(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        loop = asyncio.get_running_loop()
        side = self.side
        while True:
            message = await ws.receive()
            if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                self._count += 1
                self._check_caught_up()
                self._received.inc()
            if message.type is WSMsgType.TEXT:
                self._recorder.frame(
                    side, Frame(FrameKind.TEXT, message.data.encode(), loop.time())
                )
            elif message.type is WSMsgType.BINARY:
                self._recorder.frame(side, Frame(FrameKind.BINARY, message.data, loop.time()))
            elif message.type is WSMsgType.CLOSE:
                code = int(message.data)
                self._recorder.closed(side, code)
                self._close = (sendable(code), b"")
                break
            elif message.type is WSMsgType.ERROR:
                error = f"connection lost ({type(message.data).__name__})"
                self._recorder.lost(side, error)
                break
            elif message.type is WSMsgType.CLOSED:  # broke without a close frame (reset, EOF)
                self._recorder.lost(side, "connection lost")
                break
            elif message.type is WSMsgType.CLOSING:
                break
        self._caught_up.set()  # it will send nothing more
