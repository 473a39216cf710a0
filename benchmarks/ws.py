"""Websocket round-trip latency with a shadow that is stuck, relative to no shadow at all.

Three real `shadowproxy run` subprocesses in front of the same echoing authoritative side: one
with shadowing off, one whose shadow side never answers the upgrade, one whose shadow accepts and
then never reads. Round trips are interleaved across the three, so machine noise lands on each.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web

from benchmarks.proxy import run_proxy

PAYLOAD = "x" * 4096
PATH = "/ws/echo"
SCENARIOS = ("websocket, shadow off", "websocket, hung shadow upgrade", "websocket, deaf shadow")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class WsMeasured:
    scenario: str
    p50_ms: float
    p95_ms: float


async def measure(*, round_trips: int) -> list[WsMeasured]:
    release = asyncio.Event()  # lets the stuck shadow handlers return at the end

    async def echo(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            await ws.send_str(message.data)
        return ws

    async def hung_upgrade(_: web.Request) -> web.StreamResponse:
        await release.wait()
        return web.Response(status=503)

    async def deaf(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await release.wait()
        return ws

    async with AsyncExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sp-bench-ws-")))
        legacy = await stack.enter_async_context(_serve(echo))
        shadows = {
            SCENARIOS[0]: (legacy, {"SHADOWPROXY_SHADOW": "off"}),
            SCENARIOS[1]: (await stack.enter_async_context(_serve(hung_upgrade)), {}),
            SCENARIOS[2]: (await stack.enter_async_context(_serve(deaf)), {}),
        }
        stack.callback(release.set)  # runs before the servers above are cleaned up
        session = await stack.enter_async_context(aiohttp.ClientSession())
        sockets = {}
        for index, (name, (shadow_url, env)) in enumerate(shadows.items()):
            env = {"SHADOWPROXY_SHADOW_TIMEOUT_S": "600", **env}
            proxy = await stack.enter_async_context(
                run_proxy(legacy, shadow_url, workdir / str(index), env)
            )
            sockets[name] = await stack.enter_async_context(session.ws_connect(proxy.url + PATH))
        timings: dict[str, list[float]] = {name: [] for name in sockets}
        for _ in range(round_trips):
            for name, ws in sockets.items():
                started = time.perf_counter()
                await ws.send_str(PAYLOAD)
                await ws.receive_str()
                timings[name].append(time.perf_counter() - started)
    return [
        WsMeasured(
            name,
            statistics.median(samples) * 1000,
            statistics.quantiles(samples, n=20)[-1] * 1000,
        )
        for name, samples in timings.items()
    ]


@asynccontextmanager
async def _serve(handler: Handler) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get(PATH, handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()
