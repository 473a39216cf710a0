"""Bad input on a relayed websocket: bounded, closed with the right code, counted, never fatal."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from aiohttp import WSMsgType, web

from shadowproxy.types import DiffKind, Outcome, SkipReason

from ..factories import ServerFactory
from ..ws_fakes import (
    app_run,
    echo,
    legacy_run,
    sends,
    start_fakes,
    start_proxy,
    until,
)

TASK = "AAPL_20260413_120000_aaaaaa"


async def test_an_oversized_client_frame_closes_with_1009(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    legacy, app = await start_fakes(aiohttp_server, echo, echo)
    env = {"SHADOWPROXY_WS_MAX_FRAME_BYTES": "1024"}
    proxy = await start_proxy(aiohttp_server, legacy.url, app.url, tmp_path, env)
    async with aiohttp.ClientSession() as session, session.ws_connect(proxy.url("/ws/x")) as ws:
        await ws.send_str("a" * 1000)  # under the limit: relayed
        assert await ws.receive_str() == "a" * 1000
        await ws.send_str("a" * 2000)
        message = await ws.receive()
    assert (message.type, message.data) == (WSMsgType.CLOSE, 1009)
    assert legacy.received == [(WSMsgType.TEXT, "a" * 1000)]
    await until(lambda: bool(legacy.closed))
    assert legacy.closed == [1009]
    assert proxy.connections("system", "legacy", "frame_too_big") == 1


async def test_an_oversized_upstream_frame_closes_the_client_with_1009(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    legacy, app = await start_fakes(aiohttp_server, sends(["b" * 2048]), sends([]))
    env = {"SHADOWPROXY_WS_MAX_FRAME_BYTES": "1024"}
    proxy = await start_proxy(aiohttp_server, legacy.url, app.url, tmp_path, env)
    async with aiohttp.ClientSession() as session, session.ws_connect(proxy.url("/ws/x")) as ws:
        message = await ws.receive()
    assert (message.type, message.data) == (WSMsgType.CLOSE, 1009)
    assert proxy.connections("system", "legacy", "frame_too_big") == 1


async def test_a_client_that_never_reads_is_closed_with_1008_and_counted(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    chunk = b"x" * 65536

    async def flood(ws: web.WebSocketResponse, request: web.Request) -> None:
        for _ in range(2000):  # 128 MiB at most; the proxy gives up long before
            if ws.closed:
                return
            try:
                await ws.send_bytes(chunk)
            except ConnectionError:
                return
        async for _ in ws:
            pass

    legacy, app = await start_fakes(aiohttp_server, flood, sends([]))
    env = {"SHADOWPROXY_WS_SEND_BUFFER_BYTES": "262144", "SHADOWPROXY_SHADOW": "off"}
    proxy = await start_proxy(aiohttp_server, legacy.url, app.url, tmp_path, env)
    async with aiohttp.ClientSession() as session, session.ws_connect(proxy.url("/ws/x")) as ws:
        await until(lambda: proxy.connections("system", "legacy", "client_too_slow") == 1)
        received = 0
        while (message := await ws.receive()).type is WSMsgType.BINARY:
            received += 1
    assert (message.type, message.data, message.extra) == (WSMsgType.CLOSE, 1008, "client too slow")
    assert 0 < received < 2000
    await until(lambda: bool(legacy.closed))


async def test_binary_frames_on_a_json_route_are_relayed_and_counted_as_invalid(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    async def with_binary(ws: web.WebSocketResponse, request: web.Request) -> None:
        await ws.send_bytes(b"\x89PNG")
        await sends(legacy_run(TASK))(ws, request)

    legacy, app = await start_fakes(aiohttp_server, with_binary, sends(app_run("APP_TASK")))
    proxy = await start_proxy(
        aiohttp_server,
        legacy.url,
        app.url,
        tmp_path,
        {"SHADOWPROXY_WS_SETTLE_S": "1", "SHADOWPROXY_SHUTDOWN_GRACE_S": "1"},
    )
    proxy.ctx.correlation.learn(TASK, "APP_TASK")
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(proxy.url(f"/ws/analysis/{TASK}")) as ws,
    ):
        assert await ws.receive_bytes() == b"\x89PNG"
        await ws.send_bytes(b"\x00binary from the client")
        frames = [await ws.receive_str() for _ in legacy_run(TASK)]
        [comparison] = await proxy.sink.wait_for(1)
    assert frames == legacy_run(TASK)
    assert comparison.outcome is Outcome.MISMATCH
    [finding] = comparison.differences
    assert (finding.field, finding.kind, finding.legacy, finding.app) == (
        "invalid_frames",
        DiffKind.CHANGED,
        1,
        0,
    )


async def test_non_json_text_is_relayed_and_both_error_replies_are_compared(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    async def strict(ws: web.WebSocketResponse, request: web.Request) -> None:
        async for message in ws:
            await ws.send_json({"error": "Expecting value: line 1 column 1 (char 0)"})
            await ws.close()
            assert message.data == "{broken"

    legacy, app = await start_fakes(aiohttp_server, strict, strict)
    proxy = await start_proxy(aiohttp_server, legacy.url, app.url, tmp_path)
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(proxy.url("/ws/orchestrator")) as ws,
    ):
        await ws.send_str("{broken")
        assert await ws.receive_json() == {"error": "Expecting value: line 1 column 1 (char 0)"}
        closing = await ws.receive()
    assert (closing.type, closing.data) == (WSMsgType.CLOSE, 1000)
    [comparison] = await proxy.sink.wait_for(1)
    assert comparison.outcome is Outcome.MATCH, comparison


async def test_a_flooding_shadow_is_bounded_counted_and_not_compared(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    legacy, app = await start_fakes(
        aiohttp_server, sends(legacy_run(TASK)), sends(["{}"] * 3000 + app_run("APP_TASK"))
    )
    env = {"SHADOWPROXY_WS_BUFFER_FRAMES": "8", "SHADOWPROXY_WS_SETTLE_S": "0.5"}
    proxy = await start_proxy(aiohttp_server, legacy.url, app.url, tmp_path, env)
    proxy.ctx.correlation.learn(TASK, "APP_TASK")
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(proxy.url(f"/ws/analysis/{TASK}")) as ws,
    ):
        frames = [await ws.receive_str() for _ in legacy_run(TASK)]
        [comparison] = await proxy.sink.wait_for(1)
    assert frames == legacy_run(TASK)
    assert comparison.outcome is Outcome.SKIPPED
    assert comparison.reason == SkipReason.FRAMES_DROPPED.value
    assert comparison.frames["app"] == 3006
    dropped = proxy.metric("shadowproxy_ws_shadow_overflow_total", route_group="ws_analysis")
    assert dropped > 0
    assert comparison.frames["app_dropped"] == dropped
