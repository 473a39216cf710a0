"""A slow or dead shadow websocket adds no latency to the frames the client receives.

One run, three proxies in front of the same echoing authoritative side: without a shadow, with a
shadow whose upgrade never completes, and with a shadow that accepts and then never reads. Round
trips are interleaved across the three so machine noise hits them alike; medians are compared as
a ratio with a generous bound, never against an absolute time.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from shadowproxy.types import Side

from .ws_fakes import ServerFactory, WsFake, echo, start_proxy

ROUNDS = 300
PAYLOAD = "x" * 65536  # big enough for a shadow that never reads to fill its socket buffers
MAX_RATIO = 3.0


RELEASE = web.AppKey("release", asyncio.Event)  # set when the test is done: the fakes return


async def _hung_upgrade(request: web.Request) -> web.Response:
    await request.app[RELEASE].wait()
    return web.Response(status=503)


async def _never_reads(ws: web.WebSocketResponse, request: web.Request) -> None:
    await request.app[RELEASE].wait()


async def test_a_slow_or_dead_shadow_adds_no_latency(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    release = asyncio.Event()
    legacy = WsFake(Side.LEGACY, echo)
    legacy.server = await aiohttp_server(legacy.app())
    hung = web.Application()
    hung[RELEASE] = release
    hung.router.add_get("/{tail:.*}", _hung_upgrade)
    hung_url = str((await aiohttp_server(hung)).make_url("")).rstrip("/")
    deaf = WsFake(Side.APP, _never_reads)
    deaf_app = deaf.app()
    deaf_app[RELEASE] = release
    deaf.server = await aiohttp_server(deaf_app)
    slow = {
        "SHADOWPROXY_SHADOW_TIMEOUT_S": "60",
        "SHADOWPROXY_WS_SETTLE_S": "0.1",
        "SHADOWPROXY_WS_BUFFER_FRAMES": "16",
        "SHADOWPROXY_SHUTDOWN_GRACE_S": "1",
    }
    proxies = {
        "no shadow": await start_proxy(
            aiohttp_server, legacy.url, hung_url, tmp_path / "a", {"SHADOWPROXY_SHADOW": "off"}
        ),
        "hung upgrade": await start_proxy(
            aiohttp_server, legacy.url, hung_url, tmp_path / "b", slow
        ),
        "never reads": await start_proxy(
            aiohttp_server, legacy.url, deaf.url, tmp_path / "c", slow
        ),
    }
    timings: dict[str, list[float]] = {name: [] for name in proxies}
    async with aiohttp.ClientSession() as session:
        sockets = {
            name: await session.ws_connect(proxy.url("/ws/echo")) for name, proxy in proxies.items()
        }
        for _ in range(ROUNDS):
            for name, ws in sockets.items():
                started = time.perf_counter()
                await ws.send_str(PAYLOAD)
                assert await ws.receive_str() == PAYLOAD
                timings[name].append(time.perf_counter() - started)
        for ws in sockets.values():
            await ws.close()
    release.set()
    baseline = statistics.median(timings["no shadow"])
    for name in ("hung upgrade", "never reads"):
        ratio = statistics.median(timings[name]) / baseline
        print(f"median round trip with a shadow that {name}: {ratio:.2f}x the baseline")
        assert ratio < MAX_RATIO, (name, ratio)
    assert deaf.paths == ["/ws/echo"]  # that shadow was connected, and it never read
    overflow = proxies["never reads"].metric(
        "shadowproxy_ws_shadow_overflow_total", route_group="system"
    )
    assert overflow > 0  # its outbox filled: dropped and counted instead of waited for
