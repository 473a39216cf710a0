"""`WsRelay.close_all`: at shutdown every open client websocket is closed with 1001, compared."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from aiohttp import WSMsgType

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
