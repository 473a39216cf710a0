"""How a relayed websocket ends: `WsRelay.close_all` at shutdown (1001, compared, a shadow still
connecting given up), and a client that leaves before the shadow connected (still compared)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from aiohttp import WSMsgType, web

from shadowproxy.types import Outcome
from shadowproxy.ws.relay import WsRelay

from ..factories import ServerFactory, build_proxy, proxy_settings
from ..ws_fakes import echo, start_fakes, until


async def test_close_all_closes_open_clients_with_1001_and_publishes_their_comparison(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    legacy, app = await start_fakes(aiohttp_server, echo, echo)
    settings = proxy_settings(legacy.url, app.url, tmp_path, {"SHADOWPROXY_WS_SETTLE_S": "1"})
    relay = WsRelay()
    built = build_proxy(settings, ws_handler=relay)
    server = await aiohttp_server(built.app)
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(str(server.make_url("/ws/x"))) as ws,
    ):
        await ws.send_str("hi")
        assert await ws.receive_str() == "hi"
        await until(lambda: len(app.received) == 1)  # the shadow is connected and answered
        closing = asyncio.create_task(relay.close_all())
        message = await ws.receive()
        assert (message.type, message.data, message.extra) == (
            WSMsgType.CLOSE,
            1001,
            "server shutdown",
        )
        assert await closing == 1
    [comparison] = built.sink.comparisons  # published before close_all returned
    assert comparison.outcome is Outcome.MATCH, comparison
    await until(lambda: bool(legacy.closed))
    assert legacy.closed == [1001]
    assert await relay.close_all() == 0  # nothing open any more


def late(delay_s: float) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """An echoing backend whose upgrade answers only after `delay_s`."""

    async def handle(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(delay_s)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            if message.type is WSMsgType.TEXT:
                await ws.send_str(message.data)
        return ws

    return handle


async def start_late(aiohttp_server: ServerFactory, delay_s: float) -> str:
    app = web.Application()
    app.router.add_get("/{tail:.*}", late(delay_s))
    return str((await aiohttp_server(app)).make_url("")).rstrip("/")


async def test_a_short_session_whose_shadow_connects_late_is_still_compared(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    legacy, _ = await start_fakes(aiohttp_server, echo, echo)
    app_url = await start_late(aiohttp_server, 0.3)
    settings = proxy_settings(legacy.url, app_url, tmp_path, {"SHADOWPROXY_WS_SETTLE_S": "2"})
    built = build_proxy(settings, ws_handler=WsRelay())
    server = await aiohttp_server(built.app)
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(str(server.make_url("/ws/x"))) as ws,
    ):
        await ws.send_str("one")
        await ws.send_str("two")
        assert [await ws.receive_str(), await ws.receive_str()] == ["one", "two"]
    # the client left while the shadow was still connecting: it connects, is sent both frames
    # and its echoes are compared with what the client got
    await until(lambda: bool(built.sink.comparisons))
    [comparison] = built.sink.comparisons
    assert comparison.outcome is Outcome.MATCH, comparison
    assert comparison.frames == {"legacy": 2, "app": 2}


async def test_close_all_gives_up_a_shadow_still_connecting(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    legacy, _ = await start_fakes(aiohttp_server, echo, echo)
    app_url = await start_late(aiohttp_server, 3600)
    env = {"SHADOWPROXY_SHADOW_TIMEOUT_S": "60"}
    relay = WsRelay()
    built = build_proxy(proxy_settings(legacy.url, app_url, tmp_path, env), ws_handler=relay)
    server = await aiohttp_server(built.app)
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(str(server.make_url("/ws/x"))) as ws,
    ):
        await ws.send_str("hi")
        assert await ws.receive_str() == "hi"
        closing = asyncio.create_task(relay.close_all())
        assert (await ws.receive()).data == 1001
        # bounded far below the shadow timeout: the connecting shadow is not waited for
        assert await asyncio.wait_for(closing, 5) == 1
    [comparison] = built.sink.comparisons
    assert comparison.outcome is Outcome.SKIPPED
    assert comparison.reason == "client_disconnected"
