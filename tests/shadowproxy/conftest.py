"""Shared fixtures for the proxy's network tests.

The backends are fakes on the far side of the boundary: real aiohttp servers on port 0 that
record every request they receive and answer differently per side on purpose. The diff sink
is an in-memory `ListSink` that lets a test wait for the background comparisons.
"""

from __future__ import annotations

import asyncio
import gzip
import itertools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from multidict import CIMultiDictProxy
from prometheus_client import CollectorRegistry

from shadowproxy.diff.config import DEFAULT_CONFIG, DiffConfig
from shadowproxy.http.app import create_app
from shadowproxy.http.context import CONTEXT, WsHandler
from shadowproxy.ops.admin import create_admin_app
from shadowproxy.settings import Settings, load_settings
from shadowproxy.types import Comparison, DiffLogStats, DiffSink, Side

from .dashboards import start_stack  # noqa: F401 (a fixture: fake dashboards behind the proxy)


class ListSink:
    """DiffSink in memory; `wait_for(n)` returns once n comparisons were published."""

    def __init__(self) -> None:
        self.comparisons: list[Comparison] = []
        self.closed = False
        self._changed = asyncio.Event()

    def publish(self, comparison: Comparison) -> None:
        self.comparisons.append(comparison)
        self._changed.set()

    @property
    def stats(self) -> DiffLogStats:
        return DiffLogStats(written=len(self.comparisons))

    async def aclose(self) -> None:
        self.closed = True

    async def wait_for(self, count: int, timeout_s: float = 10.0) -> list[Comparison]:
        async with asyncio.timeout(timeout_s):
            while len(self.comparisons) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.comparisons


@dataclass
class Seen:
    method: str
    raw_path: str
    headers: CIMultiDictProxy[str]
    body: bytes


@dataclass
class FakeBackend:
    """One side. Knobs: `delays` (path -> seconds before answering), `status` overrides."""

    side: Side
    seen: list[Seen] = field(default_factory=list)
    delays: dict[str, float] = field(default_factory=dict)
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    server: TestServer | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    def paths(self) -> list[str]:
        return [seen.raw_path for seen in self.seen]

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._record])
        app.router.add_get("/health", self._health)
        app.router.add_post("/api/analysis/start", self._start)
        app.router.add_get("/api/analysis/status/{task_id}", self._status)
        app.router.add_post("/api/portfolio/positions", self._add_position)
        app.router.add_get("/cookies", self._cookies)
        app.router.add_get("/hop", self._hop)
        app.router.add_get("/nocontent", self._no_content)
        app.router.add_get("/notmodified", self._not_modified)
        app.router.add_get("/big/{size}", self._big)
        app.router.add_get("/slow", self._slow)
        app.router.add_get("/gzip", self._gzip)
        app.router.add_get("/truncated", self._truncated)
        app.router.add_route("*", "/{tail:.*}", self._echo)
        return app

    @web.middleware
    async def _record(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        body = await request.read()
        self.seen.append(Seen(request.method, request.raw_path, request.headers, body))
        self.arrived.set()
        delay = self.delays.get(request.path)
        if delay:
            await asyncio.sleep(delay)
        return await handler(request)

    async def _health(self, _: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _start(self, request: web.Request) -> web.Response:
        return web.json_response({"task_id": f"{self.side}-task-{next(self._ids)}"})

    async def _status(self, request: web.Request) -> web.Response:
        return web.json_response({"task_id": request.match_info["task_id"], "status": "running"})

    async def _add_position(self, _: web.Request) -> web.Response:
        return web.json_response({"position_id": f"{self.side}-pos-{next(self._ids)}"})

    async def _cookies(self, _: web.Request) -> web.Response:
        response = web.Response(text="cookies")
        response.headers.add("Set-Cookie", "a=1; Path=/")
        response.headers.add("Set-Cookie", "b=2; Path=/")
        return response

    async def _hop(self, _: web.Request) -> web.Response:
        headers = {"Connection": "X-Private", "X-Private": "secret", "Keep-Alive": "timeout=5"}
        return web.Response(text="hop", headers={**headers, "X-Public": "yes"})

    async def _no_content(self, _: web.Request) -> web.Response:
        return web.Response(status=204)

    async def _not_modified(self, _: web.Request) -> web.Response:
        return web.Response(status=304, headers={"ETag": '"v1"'})

    async def _big(self, request: web.Request) -> web.StreamResponse:
        size = int(request.match_info["size"])
        response = web.StreamResponse()
        await response.prepare(request)
        chunk = self.side.value.encode()[:1] * 65536
        sent = 0
        while sent < size:
            part = chunk[: size - sent]
            await response.write(part)
            sent += len(part)
        await response.write_eof()
        return response

    async def _slow(self, _: web.Request) -> web.Response:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        return web.Response(text="too late")

    async def _gzip(self, _: web.Request) -> web.Response:
        body = gzip.compress(b'{"value": 1}')
        return web.Response(
            body=body, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}
        )

    async def _truncated(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": "100"})
        await response.prepare(request)
        await response.write(b"x" * 10)
        assert request.transport is not None
        request.transport.close()
        return response

    async def _echo(self, request: web.Request) -> web.Response:
        seen = self.seen[-1]
        return web.json_response(
            {
                "method": request.method,
                "path": request.raw_path,
                "body_len": len(seen.body),
                "side": self.side.value,
            }
        )


@dataclass
class Proxy:
    client: TestClient[web.Request, web.Application]
    admin: TestClient[web.Request, web.Application]
    sink: Any  # a ListSink unless the test passed its own DiffSink
    registry: CollectorRegistry
    legacy: FakeBackend
    app: FakeBackend
    settings: Settings
    proxy_app: web.Application

    async def wait_idle(self) -> None:
        """Until every background shadow of this proxy has finished."""
        await self.proxy_app[CONTEXT].tasks.idle()

    def backend(self, side: Side) -> FakeBackend:
        return self.legacy if side is Side.LEGACY else self.app

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


ProxyFactory = Callable[..., Awaitable[Proxy]]


def metric(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def backends(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
) -> tuple[FakeBackend, FakeBackend]:
    pair = (FakeBackend(Side.LEGACY), FakeBackend(Side.APP))
    for fake in pair:
        fake.server = await aiohttp_server(fake.app())  # TestServer cancels handlers on disconnect
    return pair


@pytest.fixture
def make_settings(
    backends: tuple[FakeBackend, FakeBackend], tmp_path: Path
) -> Callable[..., Settings]:
    def build(
        env: Mapping[str, str] | None = None, config: DiffConfig = DEFAULT_CONFIG
    ) -> Settings:
        settings = load_settings(
            env or {},
            legacy_url=backends[0].url,
            app_url=backends[1].url,
            listen="127.0.0.1:0",
            admin="127.0.0.1:0",
            state_dir=tmp_path / "state",
            diff_log_dir=tmp_path / "diffs",
        )
        return replace(settings, config=config)

    return build


@pytest.fixture
async def make_proxy(
    backends: tuple[FakeBackend, FakeBackend],
    make_settings: Callable[..., Settings],
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    aiohttp_client: Callable[..., Awaitable[TestClient[web.Request, web.Application]]],
) -> ProxyFactory:
    async def build(
        env: Mapping[str, str] | None = None,
        config: DiffConfig = DEFAULT_CONFIG,
        sink: DiffSink | None = None,
        ws_handler: WsHandler | None = None,
    ) -> Proxy:
        settings = make_settings(env, config)
        registry = CollectorRegistry()
        sink = sink if sink is not None else ListSink()
        proxy_app = create_app(settings, sink=sink, registry=registry, ws_handler=ws_handler)
        server = await aiohttp_server(proxy_app)  # TestServer cancels handlers on disconnect
        admin = await aiohttp_client(create_admin_app(proxy_app, registry=registry))
        client = await aiohttp_client(server)
        return Proxy(client, admin, sink, registry, *backends, settings, proxy_app)

    return build
