"""The relay is transparent: frames, pings, close codes, refusals and subprotocols pass as they are.

Fake websocket backends on port 0 record what the proxy sent them; the client is a real aiohttp
websocket client; nothing is mocked.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from aiohttp import WSMsgType, web

from shadowproxy.types import Outcome, Side, SkipReason

from ..factories import ListSink, ServerFactory, proxy_settings, running
from ..ws_fakes import WsFake, echo, sends, start_fakes, start_proxy, until


async def test_text_and_binary_frames_pass_both_ways_and_reach_the_shadow(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    legacy, app = await start_fakes(aiohttp_server, echo, echo)
    proxy = await start_proxy(aiohttp_server, legacy.url, app.url, tmp_path)
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(proxy.url("/ws/echo?x=1")) as ws:
            assert ws._response.headers["X-Shadowproxy-Authoritative"] == "legacy"
            await ws.send_str("héllo")
            assert await ws.receive_str() == "héllo"
            await ws.send_bytes(b"\x00\xff\x01")
            assert await ws.receive_bytes() == b"\x00\xff\x01"
        [comparison] = await proxy.sink.wait_for(1)
    sent = [(WSMsgType.TEXT, "héllo"), (WSMsgType.BINARY, b"\x00\xff\x01")]
    await _closed(legacy, app)
    assert legacy.received == sent
    assert app.received == sent
    assert legacy.paths == app.paths == ["/ws/echo?x=1"]
    assert legacy.headers[0]["X-Request-ID"] == app.headers[0]["X-Request-ID"]
    assert app.headers[0]["X-Shadow-Request"] == "1"
    assert "X-Shadow-Request" not in legacy.headers[0]
    assert comparison.outcome is Outcome.MATCH
    assert comparison.frames == {"legacy": 2, "app": 2}
    assert comparison.exchange.route == "<unmatched>"
    assert (
        proxy.metric(
            "shadowproxy_ws_frames_total", route_group="system", side="legacy", direction="sent"
        )
        == 2
    )
    assert (
        proxy.metric(
            "shadowproxy_ws_frames_total", route_group="system", side="app", direction="received"
        )
        == 2
    )
    assert (
        proxy.metric("shadowproxy_ws_comparisons_total", route_group="system", outcome="match") == 1
    )


async def _closed(*fakes: WsFake) -> None:
    await until(lambda: all(fake.closed for fake in fakes))


async def test_different_frames_on_a_generic_route_are_a_mismatch_per_position(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    async def shout(ws: web.WebSocketResponse, request: web.Request) -> None:
        async for message in ws:
            await ws.send_str(message.data.upper())

    legacy, app = await start_fakes(aiohttp_server, echo, shout)
    proxy = await start_proxy(aiohttp_server, legacy.url, app.url, tmp_path)
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(proxy.url("/ws/echo")) as ws:
            for text in ("ok", "hi"):
                await ws.send_str(text)
                await ws.receive_str()
        [comparison] = await proxy.sink.wait_for(1)
    assert comparison.outcome is Outcome.MISMATCH
    assert [d.field for d in comparison.differences] == ["frames[0]", "frames[1]"]
    assert comparison.differences[0].legacy == "text 2 bytes, sha256 2689367b205c16ce"


async def test_pings_and_pongs_pass_through_with_their_payload(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    async def pinger(ws: web.WebSocketResponse, request: web.Request) -> None:
        await ws.ping(b"from-server")
        async for _ in ws:
            pass

    legacy, app = await start_fakes(aiohttp_server, pinger, pinger)
    proxy = await start_proxy(aiohttp_server, legacy.url, app.url, tmp_path)
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(proxy.url("/ws/echo"), autoping=False) as ws,
    ):
        server_ping = await ws.receive()
        assert (server_ping.type, server_ping.data) == (WSMsgType.PING, b"from-server")
        await ws.ping(b"from-client")
        pong = await ws.receive()
        assert (pong.type, pong.data) == (WSMsgType.PONG, b"from-client")


@pytest.mark.parametrize(
    ("path", "code", "reason"),
    [
        pytest.param("/ws/analysis/T1", 4001, "Unauthorized", id="analysis-4001"),
        pytest.param("/ws/orchestrator", 4401, "", id="orchestrator-4401"),
    ],
)
async def test_auth_closes_reach_the_client_exactly(
    aiohttp_server: ServerFactory, tmp_path: Path, path: str, code: int, reason: str
) -> None:
    async def refuse(ws: web.WebSocketResponse, request: web.Request) -> None:
        await ws.close(code=code, message=reason.encode())

    legacy, app = await start_fakes(aiohttp_server, refuse, refuse)
    proxy = await start_proxy(aiohttp_server, legacy.url, app.url, tmp_path)
    async with aiohttp.ClientSession() as session, session.ws_connect(proxy.url(path)) as ws:
        message = await ws.receive()
    assert (message.type, message.data, message.extra) == (WSMsgType.CLOSE, code, reason)
    assert ws.close_code == code


async def test_a_client_close_code_and_reason_reach_both_sides(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    closes: list[tuple[object, str | None]] = []

    async def until_closed(ws: web.WebSocketResponse, request: web.Request) -> None:
        while (message := await ws.receive()).type is not WSMsgType.CLOSE:
            pass
        closes.append((message.data, message.extra))

    legacy, app = await start_fakes(aiohttp_server, until_closed, until_closed)
    proxy = await start_proxy(aiohttp_server, legacy.url, app.url, tmp_path)
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(proxy.url("/ws/echo"))
        await until(lambda: proxy.connections("system", "app", "connected") == 1)
        await ws.close(code=4000, message=b"bye")
        assert ws.close_code == 4000
        await _closed(legacy, app)
    assert closes == [(4000, "bye"), (4000, "bye")]
    assert legacy.closed == app.closed == [4000]
    await proxy.sink.wait_for(1)


async def test_a_refused_upgrade_gives_the_client_the_same_status(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    refusing = web.Application()

    async def forbidden(request: web.Request) -> web.Response:
        return web.Response(status=403, text="no")

    refusing.router.add_get("/{tail:.*}", forbidden)
    legacy_server = await aiohttp_server(refusing)
    app = WsFake(Side.APP, echo)
    app.server = await aiohttp_server(app.app())
    proxy = await start_proxy(
        aiohttp_server, str(legacy_server.make_url("")).rstrip("/"), app.url, tmp_path
    )
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(proxy.url("/ws/orchestrator"))
    assert refused.value.status == 403
    assert app.paths == []  # nothing was mirrored for a connection that never opened
    assert proxy.connections("ws_orchestrator", "legacy", "refused") == 1


async def test_an_unreachable_authoritative_side_is_a_502(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    gone = await aiohttp_server(web.Application())
    url = str(gone.make_url("")).rstrip("/")
    await gone.close()
    proxy = await start_proxy(aiohttp_server, url, url, tmp_path)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(proxy.url("/ws/orchestrator"))
    assert refused.value.status == 502


async def test_the_subprotocol_the_authoritative_side_picks_is_the_clients(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    legacy, app = await start_fakes(aiohttp_server, echo, echo, protocols=("v1.dash",))
    proxy = await start_proxy(aiohttp_server, legacy.url, app.url, tmp_path)
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(proxy.url("/ws/echo"), protocols=("v2.dash", "v1.dash")) as ws,
    ):
        assert ws.protocol == "v1.dash"
    assert legacy.headers[0]["Sec-WebSocket-Protocol"] == "v2.dash,v1.dash"


async def test_a_plain_get_on_a_websocket_route_is_forwarded_as_http(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    legacy, app = await start_fakes(aiohttp_server, echo, echo)
    proxy = await start_proxy(aiohttp_server, legacy.url, app.url, tmp_path)
    async with aiohttp.ClientSession() as session:
        response = await session.get(proxy.url("/ws/orchestrator"))
    assert response.status == 400  # the backend's own answer to a GET without an upgrade
    assert legacy.paths == ["/ws/orchestrator"]


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        pytest.param({"SHADOWPROXY_SHADOW": "off"}, SkipReason.SHADOW_OFF, id="shadow-off"),
        pytest.param({"SHADOWPROXY_SAMPLE_RATE": "0"}, SkipReason.SAMPLED_OUT, id="sampled-out"),
    ],
)
async def test_shadowing_off_or_sampled_out_relays_without_a_shadow(
    aiohttp_server: ServerFactory, tmp_path: Path, env: dict[str, str], reason: SkipReason
) -> None:
    legacy, app = await start_fakes(aiohttp_server, echo, echo)
    proxy = await start_proxy(aiohttp_server, legacy.url, app.url, tmp_path, env)
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(proxy.url("/ws/orchestrator")) as ws,
    ):
        await ws.send_str("{}")
        assert await ws.receive_str() == "{}"
    assert app.paths == []
    assert proxy.sink.comparisons == []
    assert (
        proxy.metric(
            "shadowproxy_shadow_skipped_total", route_group="ws_orchestrator", reason=reason.value
        )
        == 1
    )


async def test_open_shadow_websockets_are_bounded_and_their_slots_come_back(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    legacy, app = await start_fakes(aiohttp_server, echo, echo)
    env = {"SHADOWPROXY_MAX_WS_SHADOWS": "1"}
    proxy = await start_proxy(aiohttp_server, legacy.url, app.url, tmp_path, env)

    def full() -> float:
        return proxy.metric(
            "shadowproxy_shadow_skipped_total", route_group="system", reason="queue_full"
        )

    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(proxy.url("/ws/first")) as first:
            await until(lambda: app.paths == ["/ws/first"])
            async with session.ws_connect(proxy.url("/ws/second")) as second:
                await second.send_str("still relayed")
                assert await second.receive_str() == "still relayed"
            assert full() == 1
            await first.send_str("x")
            assert await first.receive_str() == "x"
        await proxy.sink.wait_for(1)
        await until(lambda: bool(app.closed))
        async with session.ws_connect(proxy.url("/ws/third")) as third:
            await third.send_str("y")
            assert await third.receive_str() == "y"
    await until(lambda: app.paths == ["/ws/first", "/ws/third"])
    assert legacy.paths == ["/ws/first", "/ws/second", "/ws/third"]
    assert full() == 1


async def test_the_flag_picks_the_side_the_client_hears(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    legacy, app = await start_fakes(aiohttp_server, sends(["legacy"]), sends(["app"]))
    proxy = await start_proxy(
        aiohttp_server, legacy.url, app.url, tmp_path, {"TA_AUTHORITATIVE_SYSTEM": "app"}
    )
    async with aiohttp.ClientSession() as session, session.ws_connect(proxy.url("/ws/x")) as ws:
        assert await ws.receive_str() == "app"
        assert ws._response.headers["X-Shadowproxy-Authoritative"] == "app"
        await until(lambda: proxy.connections("system", "legacy", "connected") == 1)
    [comparison] = await proxy.sink.wait_for(1)
    assert comparison.exchange.authoritative is Side.APP
    assert comparison.outcome is Outcome.MISMATCH


async def test_serve_relays_websockets_by_default(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    legacy, app = await start_fakes(aiohttp_server, echo, echo)
    sink = ListSink()
    async with running(proxy_settings(legacy.url, app.url, tmp_path), sink) as (proxy_url, _):
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(f"{proxy_url}/ws/orchestrator") as ws,
        ):
            await ws.send_str('{"tickers": []}')
            assert await ws.receive_str() == '{"tickers": []}'
        await sink.wait_for(1)
    assert app.received == [(WSMsgType.TEXT, '{"tickers": []}')]
