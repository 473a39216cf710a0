"""The relay's own bounds, through the real proxy: message sizes, close codes, its own closes."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from aiohttp import WSMsgType

from shadowproxy.types import Outcome

from ..factories import ServerFactory
from ..ws_fakes import echo, sends, start_fakes, start_proxy, until

LIMIT = 4_194_304  # SHADOWPROXY_WS_MAX_FRAME_BYTES's default


async def test_backend_messages_over_the_send_buffer_reach_a_client_with_nothing_queued(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    big, largest = "m" * 1_048_561, "l" * LIMIT  # above SHADOWPROXY_WS_SEND_BUFFER_BYTES (1 MiB)
    legacy, app = await start_fakes(aiohttp_server, sends([big, largest]), sends([big, largest]))
    proxy = await start_proxy(aiohttp_server, legacy.url, app.url, tmp_path)
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(proxy.url("/ws/x"), max_msg_size=0) as ws,
    ):
        assert await ws.receive_str() == big
        assert await ws.receive_str() == largest
    assert proxy.connections("system", "legacy", "client_too_slow") == 0
    [comparison] = await proxy.sink.wait_for(1)
    assert comparison.outcome is Outcome.MATCH, comparison


async def test_a_client_message_of_exactly_the_frame_limit_passes_one_byte_more_closes_1009(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    legacy, app = await start_fakes(aiohttp_server, echo, echo)
    env = {"SHADOWPROXY_WS_MAX_FRAME_BYTES": "1024"}
    proxy = await start_proxy(aiohttp_server, legacy.url, app.url, tmp_path, env)
    async with aiohttp.ClientSession() as session, session.ws_connect(proxy.url("/ws/x")) as ws:
        await ws.send_bytes(b"a" * 1024)
        assert await ws.receive_bytes() == b"a" * 1024
        await ws.send_bytes(b"a" * 1025)
        message = await ws.receive()
    assert (message.type, message.data) == (WSMsgType.CLOSE, 1009)
    assert legacy.received == [(WSMsgType.BINARY, b"a" * 1024)]
    assert proxy.connections("system", "legacy", "frame_too_big") == 1


async def test_a_backend_message_of_exactly_the_frame_limit_passes_one_byte_more_closes_1009(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    frames = ["a" * 1024, "b" * 1025]
    legacy, app = await start_fakes(aiohttp_server, sends(frames), sends(frames))
    env = {"SHADOWPROXY_WS_MAX_FRAME_BYTES": "1024"}
    proxy = await start_proxy(aiohttp_server, legacy.url, app.url, tmp_path, env)
    async with aiohttp.ClientSession() as session, session.ws_connect(proxy.url("/ws/x")) as ws:
        assert await ws.receive_str() == "a" * 1024
        message = await ws.receive()
    assert (message.type, message.data) == (WSMsgType.CLOSE, 1009)
    assert proxy.connections("system", "legacy", "frame_too_big") == 1


@pytest.mark.parametrize("code", [1005, 1006, 1015, 1004, 2999, 5000])
async def test_a_close_code_no_endpoint_may_send_closes_the_client_1002_and_the_backend_1000(
    aiohttp_server: ServerFactory, tmp_path: Path, code: int
) -> None:
    legacy, app = await start_fakes(aiohttp_server, echo, echo)
    env = {"SHADOWPROXY_SHADOW": "off"}
    proxy = await start_proxy(aiohttp_server, legacy.url, app.url, tmp_path, env)
    async with aiohttp.ClientSession() as session, session.ws_connect(proxy.url("/ws/x")) as ws:
        await ws.send_str("hi")
        assert await ws.receive_str() == "hi"
        await ws.close(code=code)
    assert ws.close_code == 1002
    await until(lambda: bool(legacy.closed))
    assert legacy.closed == [1000]


async def test_a_valid_client_close_code_is_still_forwarded(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    legacy, app = await start_fakes(aiohttp_server, echo, echo)
    env = {"SHADOWPROXY_SHADOW": "off"}
    proxy = await start_proxy(aiohttp_server, legacy.url, app.url, tmp_path, env)
    async with aiohttp.ClientSession() as session, session.ws_connect(proxy.url("/ws/x")) as ws:
        await ws.close(code=4001, message=b"bye")
    assert ws.close_code == 4001
    await until(lambda: bool(legacy.closed))
    assert legacy.closed == [4001]


async def test_a_close_the_proxy_caused_is_skipped_as_such_not_compared(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    legacy, app = await start_fakes(
        aiohttp_server, sends(["a", "b" * 2048], gap_s=0.3), sends(["a", "c"])
    )  # the client sees "a" only, as the shadow would have: without the rule, a plain match
    env = {"SHADOWPROXY_WS_MAX_FRAME_BYTES": "1024", "SHADOWPROXY_WS_SETTLE_S": "0.5"}
    proxy = await start_proxy(aiohttp_server, legacy.url, app.url, tmp_path, env)
    async with aiohttp.ClientSession() as session, session.ws_connect(proxy.url("/ws/x")) as ws:
        assert await ws.receive_str() == "a"
        message = await ws.receive()
    assert (message.type, message.data) == (WSMsgType.CLOSE, 1009)
    [comparison] = await proxy.sink.wait_for(1)
    assert comparison.outcome is Outcome.SKIPPED, comparison
    assert comparison.reason == (
        "not_comparable: proxy closed the connection with 1009 (message too big)"
    )
    assert comparison.differences == ()
