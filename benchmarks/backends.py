"""Fake TradingAgents backends for the benchmarks: real aiohttp servers on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from benchmarks.documents import APP_ID, LEGACY_ID, app_status, legacy_status


class FakeBackend:
    """Answers start and status like one side; `delay_s` slows every status answer."""

    def __init__(self, task_id: str, status: Callable[[], dict[str, Any]], delay_s: float) -> None:
        self.task_id = task_id
        self.delay_s = delay_s
        self._status = orjson.dumps(status())

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/health", self._health)
        app.router.add_post("/api/analysis/start", self._start)
        app.router.add_get("/api/analysis/status/{task_id}", self._status_route)
        return app

    async def _health(self, _: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _start(self, _: web.Request) -> web.Response:
        return web.json_response({"task_id": self.task_id, "status": "running"})

    async def _status_route(self, _: web.Request) -> web.Response:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return web.Response(body=self._status, content_type="application/json")


@dataclass(frozen=True, slots=True)
class Backends:
    legacy_url: str
    app_url: str  # answers at once
    slow_app_url: str  # answers every status request after `slow_s`


@asynccontextmanager
async def serve_backends(*, slow_s: float) -> AsyncIterator[Backends]:
    """The legacy side and two app sides (fast and slow), all on 127.0.0.1, port 0."""
    backends = (
        FakeBackend(LEGACY_ID, legacy_status, 0.0),
        FakeBackend(APP_ID, app_status, 0.0),
        FakeBackend(APP_ID, app_status, slow_s),
    )
    runners: list[web.AppRunner] = []
    urls: list[str] = []
    try:
        for backend in backends:
            runner = web.AppRunner(backend.app(), access_log=None)
            await runner.setup()
            runners.append(runner)
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            host, port = runner.addresses[0][:2]
            urls.append(f"http://{host}:{port}")
        yield Backends(*urls)
    finally:
        for runner in runners:
            await runner.cleanup()
