"""Client frames must be masked (RFC 6455 §5.1), and permessage-deflate is negotiated per hop.

The masking tests speak raw bytes on a socket (no websocket client library sends an unmasked
frame); the frames before an unmasked one are relayed, the unmasked one closes the client with
1002 and never reaches a backend.
"""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from itertools import pairwise
from pathlib import Path

import aiohttp
import pytest
from aiohttp import WebSocketError, WSCloseCode, WSMsgType
from hypothesis import given, settings
from hypothesis import strategies as st

from shadowproxy.ws.masking import UNMASKED, MaskCheck

from ..factories import ServerFactory
from ..ws_fakes import echo, start_fakes, start_proxy, until

CLOSE_1002 = b"\x88\x02\x03\xea"  # a close frame from the server: 1002, no reason


def frame(payload: bytes, *, masked: bool = True, opcode: int = 0x1) -> bytes:
    """One final frame as a client (masked) or a broken client (unmasked) would send it."""
    size = len(payload)
    mask_bit = 0x80 if masked else 0
    if size < 126:
        head = bytes([0x80 | opcode, mask_bit | size])
    elif size < 65536:
        head = bytes([0x80 | opcode, mask_bit | 126]) + size.to_bytes(2)
    else:
        head = bytes([0x80 | opcode, mask_bit | 127]) + size.to_bytes(8)
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def handshake(path: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


@asynccontextmanager
async def raw_socket(
    url: str, behind: bytes = b""
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """A websocket opened by hand (`behind`: bytes sent in the same write as the handshake)."""
    host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(handshake("/ws/x") + behind)
        response = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert response.startswith(b"HTTP/1.1 101"), response
        yield reader, writer
    finally:
        writer.close()


async def raw_session(url: str, wire: bytes, *, pipelined: bool = False) -> bytes:
    """Send `wire` on a websocket opened by hand and return every byte the proxy sent after
    its 101 until it closed the connection."""
    async with raw_socket(url, wire if pipelined else b"") as (reader, writer):
        if not pipelined:
            writer.write(wire)
        return await asyncio.wait_for(reader.read(), 5)


async def test_an_unmasked_client_frame_closes_with_1002_and_is_not_relayed(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    legacy, app = await start_fakes(aiohttp_server, echo, echo)
    proxy = await start_proxy(aiohttp_server, legacy.url, app.url, tmp_path)
    received = await raw_session(proxy.url("/ws/x"), frame(b"hi", masked=False))  # 81 02 68 69
    assert received == CLOSE_1002
    await until(lambda: bool(legacy.closed) and bool(app.closed))
    assert legacy.received == app.received == []


@pytest.mark.parametrize("pipelined", [False, True], ids=["after-101", "behind-handshake"])
async def test_frames_before_an_unmasked_one_are_relayed_then_1002(
    aiohttp_server: ServerFactory, tmp_path: Path, pipelined: bool
) -> None:
    legacy, app = await start_fakes(aiohttp_server, echo, echo)
    proxy = await start_proxy(aiohttp_server, legacy.url, app.url, tmp_path)
    big = b"b" * 70_000  # a 64-bit length header
    one_write = frame(b"one") + frame(big, opcode=0x2) + frame(b"bad", masked=False)
    received = await raw_session(proxy.url("/ws/x"), one_write, pipelined=pipelined)
    # the client is closed at the bad frame (echoes still on their way are not waited for)
    assert received.endswith(CLOSE_1002)
    await until(lambda: len(legacy.received) == 2)
    assert legacy.received == [(WSMsgType.TEXT, "one"), (WSMsgType.BINARY, big)]


async def test_masked_frames_split_at_every_byte_pass(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    legacy, app = await start_fakes(aiohttp_server, echo, echo)
    proxy = await start_proxy(aiohttp_server, legacy.url, app.url, tmp_path)
    wire = frame(b"x" * 300) + frame(b"end")  # a 16-bit length, then a short one
    echoed = b"\x81\x7e\x01\x2c" + b"x" * 300 + b"\x81\x03end"
    async with raw_socket(proxy.url("/ws/x")) as (reader, writer):
        for i in range(len(wire)):  # one byte per write: every header is split across reads
            writer.write(wire[i : i + 1])
            await writer.drain()
        assert await asyncio.wait_for(reader.readexactly(len(echoed)), 5) == echoed
        writer.write(frame(b"\x03\xe8", opcode=0x8))  # close 1000
        assert await asyncio.wait_for(reader.read(), 5) == b"\x88\x02\x03\xe8"
    assert legacy.received == [(WSMsgType.TEXT, "x" * 300), (WSMsgType.TEXT, "end")]


class _Reader:
    """The other side of `MaskCheck`: records the bytes it is given."""

    def __init__(self) -> None:
        self.fed = bytearray()

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.fed += data
        return False, b""

    def feed_eof(self) -> None:
        raise AssertionError("not expected")


class _Queue:
    def __init__(self) -> None:
        self.errors: list[BaseException] = []

    def set_exception(self, exc: BaseException) -> None:
        self.errors.append(exc)


sizes = st.sampled_from([0, 1, 125, 126, 127, 300, 65535, 65536, 70_000])


@settings(max_examples=60, deadline=None)
@given(
    payloads=st.lists(sizes, min_size=1, max_size=6),
    bad_at=st.integers(min_value=0, max_value=6),
    cuts=st.lists(st.integers(min_value=1, max_value=80_000), max_size=12),
)
def test_mask_check_feeds_everything_before_the_first_unmasked_frame(
    payloads: list[int], bad_at: int, cuts: list[int]
) -> None:
    frames = [frame(b"p" * size, opcode=0x2) for size in payloads]
    bad = bad_at if bad_at < len(frames) else None
    if bad is not None:
        frames[bad] = frame(b"u" * payloads[bad], masked=False, opcode=0x2)
    wire = b"".join(frames)
    reader, queue = _Reader(), _Queue()
    check = MaskCheck(reader, queue)  # type: ignore[arg-type]
    points = sorted({c % (len(wire) + 1) for c in cuts} | {0, len(wire)})
    results = [check.feed_data(wire[a:b]) for a, b in pairwise(points)]
    if bad is None:
        assert bytes(reader.fed) == wire
        assert queue.errors == []
        assert all(result == (False, b"") for result in results)
        return
    start = sum(len(f) for f in frames[:bad])
    # the reader got every byte before the bad frame, and at most a split header of it
    assert bytes(reader.fed[:start]) == wire[:start]
    assert len(reader.fed) - start < 14
    [error] = queue.errors
    assert isinstance(error, WebSocketError)
    assert (error.code, str(error)) == (WSCloseCode.PROTOCOL_ERROR, UNMASKED)
    assert results[-1] == (True, b"")
    assert check.feed_data(frame(b"more")) == (True, b"")  # nothing after the failure
    assert len(queue.errors) == 1


async def test_deflate_is_negotiated_per_hop_when_the_client_offers_it(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    legacy, app = await start_fakes(aiohttp_server, echo, echo)
    proxy = await start_proxy(aiohttp_server, legacy.url, app.url, tmp_path)
    text = "compressible " * 20_000
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(proxy.url("/ws/x"), compress=15) as ws:
            assert ws.compress == 15  # the proxy accepted the client's offer
            assert "permessage-deflate" in ws._response.headers["Sec-WebSocket-Extensions"]
            await ws.send_str(text)
            assert await ws.receive_str() == text
        async with session.ws_connect(proxy.url("/ws/x"), compress=0) as ws:
            assert ws.compress == 0
            await ws.send_str("plain")
            assert await ws.receive_str() == "plain"
    await until(lambda: len(legacy.headers) == len(app.headers) == 2)
    for fake in (legacy, app):  # offered to each backend exactly when the client offered it
        offers = [h.get("Sec-WebSocket-Extensions", "") for h in fake.headers]
        assert "permessage-deflate" in offers[0]
        assert offers[1] == ""
    assert legacy.received[0] == (WSMsgType.TEXT, text)


async def test_deflate_off_declines_the_clients_offer(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    legacy, app = await start_fakes(aiohttp_server, echo, echo)
    env = {"SHADOWPROXY_WS_DEFLATE": "off"}
    proxy = await start_proxy(aiohttp_server, legacy.url, app.url, tmp_path, env)
    url = proxy.url("/ws/x")
    async with aiohttp.ClientSession() as session, session.ws_connect(url, compress=15) as ws:
        assert ws.compress == 0
        await ws.send_str("plain")
        assert await ws.receive_str() == "plain"
    assert "Sec-WebSocket-Extensions" not in legacy.headers[0]
