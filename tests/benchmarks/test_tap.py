"""The soak's tap records what a real aiohttp backend answered, as the client received it.

A fault-free relay with a `Tap` sits between an aiohttp client and an aiohttp server; every
answer the client got (Content-Length, chunked, an error, a websocket's messages, compressed or
not, and its close code) must be on the tap under its X-Request-ID with the same digest, and a
stream the tap cannot follow must be counted as such, never recorded as something else.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from benchmarks.chaos import HOST, ChaosRelay
from benchmarks.tap import Tap, digest

BIG = "x" * 70_000  # a websocket frame with a 64-bit length
MEDIUM = "y" * 300  # and one with a 16-bit length


async def json_answer(_: web.Request) -> web.Response:
    return web.json_response({"status": "completed", "progress": 100})


async def chunked_answer(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    response.enable_chunked_encoding()
    await response.prepare(request)
    for part in (b"first,", b"second,", b"third"):
        await response.write(part)
    await response.write_eof()
    return response


async def not_found(_: web.Request) -> web.Response:
    raise web.HTTPNotFound(text='{"detail": "Task not found"}', content_type="application/json")


async def progress(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    for text in ('{"type": "progress"}', MEDIUM, BIG):
        await ws.send_str(text)
    await ws.send_bytes(b"\x00\x01")
    await ws.close(code=4001, message=b"done")
    return ws


@pytest.fixture
async def relayed() -> AsyncIterator[tuple[str, Tap]]:
    app = web.Application()
    app.router.add_get("/json", json_answer)
    app.router.add_get("/chunked", chunked_answer)
    app.router.add_get("/missing", not_found)
    app.router.add_get("/ws", progress)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, HOST, 0)
    await site.start()
    port = runner.addresses[0][1]
    tap = Tap(asyncio.get_running_loop().time)
    try:
        async with ChaosRelay(port, observe=tap) as relay:
            yield relay.url, tap
    finally:
        await runner.cleanup()


async def test_every_http_answer_is_on_the_tap_as_the_client_got_it(
    relayed: tuple[str, Tap],
) -> None:
    url, tap = relayed
    got = {}
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        for n, path in enumerate(("/json", "/chunked", "/missing", "/json")):
            headers = {"X-Request-ID": f"r{n}"}
            async with session.get(url + path, headers=headers) as response:
                got[f"r{n}"] = (response.status, digest(await response.read()))
    assert {rid: [(a.status, a.digest) for a in tap.answers[rid]] for rid in got} == {
        rid: [seen] for rid, seen in got.items()
    }
    assert got["r1"][1] == digest(b"first,second,third")
    assert got["r2"][0] == 404
    assert not tap.unparsed


@pytest.mark.parametrize("compress", [0, 15])
async def test_a_websocket_is_on_the_tap_message_by_message_with_its_close_code(
    relayed: tuple[str, Tap], compress: int
) -> None:
    url, tap = relayed
    received = []
    headers = {"X-Request-ID": "w1"}
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url + "/ws", headers=headers, compress=compress) as ws,
    ):
        async for message in ws:
            data = message.data if isinstance(message.data, bytes) else message.data.encode()
            received.append((message.type.value, digest(data)))
    socket = tap.sockets["w1"]
    assert [(m.opcode, m.digest) for m in socket.messages] == received
    assert len(received) == 4
    assert socket.close_code == ws.close_code == 4001
    assert not tap.unparsed


async def test_a_stream_the_tap_cannot_follow_is_counted_not_recorded() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"NONSENSE\r\n\r\n")
        writer.close()

    tap = Tap(asyncio.get_running_loop().time)
    server = await asyncio.start_server(garbage, HOST, 0)
    async with server, ChaosRelay(server.sockets[0].getsockname()[1], observe=tap) as relay:
        reader, writer = await asyncio.open_connection(HOST, relay.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nX-Request-ID: g1\r\n\r\n")
        assert await reader.read() == b"NONSENSE\r\n\r\n"  # relayed all the same
        writer.close()
    assert tap.answers == {}
    assert tap.unparsed == {"a start line without a method and target, or a status": 1}
