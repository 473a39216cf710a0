"""Websocket relay: per-frame round trips and frames per second, direct and through the proxy.

One echoing authoritative side, reached directly and through four real `shadowproxy run`
subprocesses: shadowing off; shadow on with a healthy echoing shadow; a shadow that never
answers the upgrade; one that accepts and then never reads. Round trips (one frame out, its echo
back) are interleaved across the five sockets, so machine noise lands on each; then each socket
streams frames for `stream_s` with `WINDOW` frames in flight, in turn: frames echoed per second.
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
WINDOW = 16  # frames sent and not yet echoed, while streaming
END = "end"
STREAM_GRACE_S = 30.0  # a stream that does not end by then fails the run
DIRECT = "websocket, direct"
SHADOW_OFF = "websocket, shadow off"
SHADOW_ON = "websocket, shadow on"
HUNG = "websocket, hung shadow upgrade"
DEAF = "websocket, deaf shadow"
SCENARIOS = (DIRECT, SHADOW_OFF, SHADOW_ON, HUNG, DEAF)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class WsMeasured:
    scenario: str
    p50_ms: float
    p95_ms: float
    p99_ms: float
    frames_per_s: float  # echoed frames per second, WINDOW in flight


async def measure(*, round_trips: int, stream_s: float = 1.0) -> list[WsMeasured]:
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
            SHADOW_OFF: (legacy, {"SHADOWPROXY_SHADOW": "off"}),
            SHADOW_ON: (await stack.enter_async_context(_serve(echo)), {}),
            HUNG: (await stack.enter_async_context(_serve(hung_upgrade)), {}),
            DEAF: (await stack.enter_async_context(_serve(deaf)), {}),
        }
        session = await stack.enter_async_context(aiohttp.ClientSession())
        urls = {DIRECT: legacy}

        async def start(index: int, name: str, shadow_url: str, env: dict[str, str]) -> None:
            env = {"SHADOWPROXY_SHADOW_TIMEOUT_S": "600", **env}
            proxy = await stack.enter_async_context(
                run_proxy(legacy, shadow_url, workdir / str(index), env)
            )
            urls[name] = proxy.url

        async with asyncio.TaskGroup() as group:  # the proxies start side by side
            for index, (name, (shadow_url, env)) in enumerate(shadows.items()):
                group.create_task(start(index, name, shadow_url, env))
        # runs before the proxies stop (their stuck shadows would hold them for the shutdown
        # grace) and so before the servers above are cleaned up
        stack.callback(release.set)
        sockets = {
            name: await stack.enter_async_context(session.ws_connect(urls[name] + PATH))
            for name in SCENARIOS
        }
        timings: dict[str, list[float]] = {name: [] for name in sockets}
        for _ in range(round_trips):
            for name, ws in sockets.items():
                started = time.perf_counter()
                await ws.send_str(PAYLOAD)
                await ws.receive_str()
                timings[name].append(time.perf_counter() - started)
        rates = {name: await _stream(ws, stream_s) for name, ws in sockets.items()}
    return [
        WsMeasured(
            name,
            statistics.median(samples) * 1000,
            statistics.quantiles(samples, n=20)[-1] * 1000,
            statistics.quantiles(samples, n=100)[-1] * 1000,
            rates[name],
        )
        for name, samples in timings.items()
    ]


async def _stream(ws: aiohttp.ClientWebSocketResponse, seconds: float) -> float:
    """Frames echoed per second with WINDOW in flight for `seconds`; an end marker, echoed last
    (the relay keeps the order), tells the receiver it has them all."""
    window = asyncio.Semaphore(WINDOW)
    deadline = time.perf_counter() + seconds

    async def send() -> None:
        while time.perf_counter() < deadline:
            await window.acquire()
            await ws.send_str(PAYLOAD)
        await ws.send_str(END)

    echoed = 0
    started = time.perf_counter()
    async with asyncio.timeout(seconds + STREAM_GRACE_S), asyncio.TaskGroup() as group:
        group.create_task(send())
        while await ws.receive_str() != END:
            echoed += 1
            window.release()
    return echoed / (time.perf_counter() - started)


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
