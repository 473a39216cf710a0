"""The websocket echo backend: a plain aiohttp server, every path, on 127.0.0.1 and port 0.

It is what an ordinary aiohttp service does: aiohttp answers pings and closes itself, offers
permessage-deflate back when the client asks for it (aiohttp's default), and every text or
binary message goes back as it came. Messages are not size-limited (Autobahn's group 9 sends
up to 16 MiB), so any size limit in a table comes from whatever sits between.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import WSMsgType, web


async def _echo(request: web.Request) -> web.WebSocketResponse:
    socket = web.WebSocketResponse(max_msg_size=0)
    await socket.prepare(request)
    async for message in socket:
        if message.type is WSMsgType.TEXT:
            await socket.send_str(message.data)
        elif message.type is WSMsgType.BINARY:
            await socket.send_bytes(message.data)
    return socket


@asynccontextmanager
async def serve_echo(count: int) -> AsyncIterator[list[str]]:
    """`count` echo servers; yields their base URLs (http://127.0.0.1:PORT)."""
    runners: list[web.AppRunner] = []
    urls: list[str] = []
    try:
        for _ in range(count):
            app = web.Application()
            app.router.add_get("/{path:.*}", _echo)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            runners.append(runner)
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            host, port = runner.addresses[0][:2]
            urls.append(f"http://{host}:{port}")
        yield urls
    finally:
        for runner in runners:
            await runner.cleanup()
