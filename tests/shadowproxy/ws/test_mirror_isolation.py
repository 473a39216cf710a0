"""A slow or dead shadow websocket never holds the frames the client receives.

Causal, not timed: two proxies in front of the same echoing authoritative side, one with a shadow
whose upgrade never completes, one with a shadow that accepts and then never reads. Every client
round trip completes while those shadows are stuck. How much latency they add is measured as a
ratio in `make bench` (benchmarks/ws.py), never asserted here.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from aiohttp import web

from shadowproxy.types import Side

from ..factories import ServerFactory
from ..ws_fakes import WsFake, echo, start_proxy, until

ROUNDS = 100
PAYLOAD = "x" * 65536  # big enough for a shadow that never reads to fill its socket buffers


RELEASE = web.AppKey("release", asyncio.Event)  # set when the test is done: the fakes return
SEEN = web.AppKey("seen", list[str])  # upgrade requests the hung shadow received


async def _hung_upgrade(request: web.Request) -> web.Response:
    request.app[SEEN].append(request.raw_path)
    await request.app[RELEASE].wait()
    return web.Response(status=503)


async def _never_reads(ws: web.WebSocketResponse, request: web.Request) -> None:
    await request.app[RELEASE].wait()


async def test_a_slow_or_dead_shadow_never_holds_client_frames(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    release = asyncio.Event()
    legacy = WsFake(Side.LEGACY, echo)
    legacy.server = await aiohttp_server(legacy.app())
    hung = web.Application()
    hung[RELEASE] = release
    hung_requests: list[str] = []
    hung[SEEN] = hung_requests
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
        "hung upgrade": await start_proxy(
            aiohttp_server, legacy.url, hung_url, tmp_path / "b", slow
        ),
        "never reads": await start_proxy(
            aiohttp_server, legacy.url, deaf.url, tmp_path / "c", slow
        ),
    }
    async with aiohttp.ClientSession() as session:
        sockets = {
            name: await session.ws_connect(proxy.url("/ws/echo")) for name, proxy in proxies.items()
        }
        for _ in range(ROUNDS):
            for ws in sockets.values():
                await ws.send_str(PAYLOAD)
                assert await ws.receive_str() == PAYLOAD
        await until(lambda: hung_requests == ["/ws/echo"])  # that upgrade stays unanswered
        for ws in sockets.values():
            await ws.close()
    release.set()
    assert deaf.paths == ["/ws/echo"]  # that shadow was connected, and it never read
    overflow = proxies["never reads"].metric(
        "shadowproxy_ws_shadow_overflow_total", route_group="system"
    )
    assert overflow > 0  # its outbox filled: dropped and counted instead of waited for
