"""Fakes for the websocket tests: scripted websocket backends and a proxy in front of them.

A `WsFake` is a real aiohttp server on port 0 whose websocket handler runs a script; it records
what the proxy sent it. `start_proxy` serves the proxy under test (`factories.build_proxy`) with
the real `WsRelay` and an in-memory sink (`ListSink`), on port 0 as well.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer
from prometheus_client import CollectorRegistry

from shadowproxy.http.context import CONTEXT, ProxyContext
from shadowproxy.types import Side
from shadowproxy.ws.relay import WsRelay

from .factories import ListSink, ServerFactory, build_proxy, metric, proxy_settings

Script = Callable[[web.WebSocketResponse, web.Request], Awaitable[None]]
DAY = "2026-04-13"


@dataclass
class WsFake:
    side: Side
    script: Script
    protocols: tuple[str, ...] = ()
    received: list[tuple[WSMsgType, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    headers: list[Mapping[str, str]] = field(default_factory=list)
    closed: list[int | None] = field(default_factory=list)  # close codes the proxy sent it
    server: TestServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    def app(self) -> web.Application:
        app = web.Application()
        app[FAKE] = self
        app.router.add_get("/{tail:.*}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.paths.append(request.raw_path)
        self.headers.append(dict(request.headers))
        ws = web.WebSocketResponse(protocols=self.protocols)
        await ws.prepare(request)
        try:
            await self.script(ws, request)
        finally:
            self.closed.append(ws.close_code)
        return ws


async def echo(ws: web.WebSocketResponse, request: web.Request) -> None:
    """Answer each data frame with itself; record what arrived (`WsFake.received`)."""
    fake = request.app[FAKE]
    async for message in ws:
        fake.received.append((message.type, message.data))
        if message.type is WSMsgType.TEXT:
            await ws.send_str(message.data)
        elif message.type is WSMsgType.BINARY:
            await ws.send_bytes(message.data)


FAKE = web.AppKey("fake", WsFake)


async def start_fakes(
    aiohttp_server: ServerFactory, legacy: Script, app: Script, **kwargs: Any
) -> tuple[WsFake, WsFake]:
    fakes = (WsFake(Side.LEGACY, legacy, **kwargs), WsFake(Side.APP, app, **kwargs))
    for fake in fakes:
        fake.server = await aiohttp_server(fake.app())
    return fakes


@dataclass
class WsProxy:
    server: TestServer
    sink: ListSink
    registry: CollectorRegistry
    app: web.Application

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))

    @property
    def ctx(self) -> ProxyContext:
        return self.app[CONTEXT]

    def metric(self, name: str, **labels: str) -> float:
        return metric(self.registry, name, **labels)

    def connections(self, route_group: str, side: str, result: str) -> float:
        labels = {"route_group": route_group, "side": side, "result": result}
        return self.metric("shadowproxy_ws_connections_total", **labels)


async def start_proxy(
    aiohttp_server: ServerFactory,
    legacy_url: str,
    app_url: str,
    tmp_path: Path,
    env: Mapping[str, str] | None = None,
) -> WsProxy:
    """The proxy with the real `WsRelay`, served on port 0 (its admin app is not served)."""
    settings = proxy_settings(legacy_url, app_url, tmp_path, env)
    built = build_proxy(settings, ws_handler=WsRelay())
    server = await aiohttp_server(built.app)
    return WsProxy(server, built.sink, built.registry, built.app)


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def progress(
    task_id: str, status: str, stage: str, points: int, *, app: bool = False, **more: Any
) -> str:
    """One progress snapshot in the legacy (flat) or the app (`contract_version`) shape."""
    envelope: dict[str, Any] = {"type": "progress"}
    if app:
        envelope["contract_version"] = "v1alpha1"
    return dumps(
        {
            **envelope,
            "task_id": task_id,
            "ticker": "AAPL",
            "date": DAY,
            "status": status,
            "current_stage": stage,
            "progress": points,
            **more,
        }
    )


STAGES = (("analysts", 20), ("research", 40), ("trading", 60), ("risk", 80), ("portfolio", 100))


def legacy_run(task_id: str, decision: str = "BUY") -> list[str]:
    frames = [progress(task_id, "running", stage, points) for stage, points in STAGES]
    frames.append(
        progress(task_id, "completed", "portfolio", 100, decision=decision, confidence=0.8)
    )
    return frames


def app_run(task_id: str, decision: str = "BUY") -> list[str]:
    frames = [progress(task_id, "running", stage, points, app=True) for stage, points in STAGES]
    result = {"decision": decision, "confidence": 0.8}
    frames.append(progress(task_id, "completed", "portfolio", 100, app=True, result=result))
    return frames


def sends(frames: list[str], *, gap_s: float = 0.0, then: str = "listen") -> Script:
    """A script: send `frames` (with a gap), then listen until closed, close, or hang."""

    async def script(ws: web.WebSocketResponse, request: web.Request) -> None:
        for frame in frames:
            await ws.send_str(frame)
            if gap_s:
                await asyncio.sleep(gap_s)
        if then == "close":
            await ws.close(code=1000, message=b"done")
            return
        if then == "hang":
            await asyncio.sleep(3600)
        async for _ in ws:
            pass

    return script


def legacy_signal(ticker: str, day: str) -> dict[str, Any]:
    return {
        "ticker": ticker,
        "date": day,
        "direction": 1,
        "confidence": 0.8,
        "quant_direction": None,
        "llm_direction": 1,
        "timestamp": f"{day}T12:00:00+00:00",
    }


def app_signal(ticker: str, day: str) -> dict[str, Any]:
    result = {
        key: value
        for key, value in legacy_signal(ticker, day).items()
        if key not in ("ticker", "date")
    }
    return {
        "contract_version": "v1alpha1",
        "ticker": ticker,
        "date": day,
        "status": "completed",
        "result": result,
        "error": None,
        "degradation": {"degraded": False, "reason_codes": [], "source_diagnostics": {}},
        "data_quality": None,
        "research": None,
    }


def answers(side: Side, *, reverse: bool = False, silent: bool = False) -> Script:
    """An orchestrator: one reply per text request, signals in request order (or reversed)."""

    async def script(ws: web.WebSocketResponse, request: web.Request) -> None:
        async for message in ws:
            if message.type is not WSMsgType.TEXT or silent:
                continue
            asked = orjson.loads(message.data)
            tickers = list(asked.get("tickers", []))
            day = asked.get("date", DAY)
            if reverse:
                tickers.reverse()
            if side is Side.LEGACY:
                await ws.send_str(dumps({"signals": [legacy_signal(t, day) for t in tickers]}))
            else:
                signals = [app_signal(t, day) for t in tickers]
                await ws.send_str(dumps({"contract_version": "v1alpha1", "signals": signals}))

    return script


async def until(condition: Callable[[], bool]) -> None:
    """Poll a condition the proxy makes true in the background (bounded: 20 s)."""
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")
