"""The proxy is transparent (RFC 9110/9112): the backend sees what the client sent, and back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from shadowproxy.http.context import ProxyContext
from shadowproxy.types import Outcome, RouteMatch, Side, SkipReason

from ..factories import ProxyFactory


async def test_hop_by_hop_headers_are_removed_both_ways(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy()
    response = await proxy.client.get(
        "/hop",
        headers={
            "Connection": "keep-alive, X-Client-Private",
            "X-Client-Private": "1",
            "TE": "trailers",
            "Proxy-Authorization": "Basic c2VjcmV0",
        },
    )
    assert response.status == 200
    for name in ("X-Private", "Keep-Alive"):
        assert name not in response.headers
    assert response.headers["X-Public"] == "yes"
    seen = proxy.legacy.seen[-1].headers
    for name in ("X-Client-Private", "TE", "Proxy-Authorization"):
        assert name not in seen
    assert "x-client-private" not in seen.get("Connection", "").lower()


async def test_forwarded_headers_and_via_are_added(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy()
    await proxy.client.get(
        "/echo", headers={"X-Forwarded-For": "203.0.113.9", "Host": "dash.example"}
    )
    seen = proxy.legacy.seen[-1].headers
    assert seen["X-Forwarded-For"] == "203.0.113.9, 127.0.0.1"
    assert seen["X-Forwarded-Proto"] == "http"
    assert seen["X-Forwarded-Host"] == "dash.example"
    assert seen["Via"] == "1.1 shadowproxy"
    assert seen["Host"] != "dash.example"


@pytest.mark.parametrize(
    "target",
    [
        pytest.param("/files/a%2Fb/c", id="encoded-slash"),
        pytest.param("/files/with%20space?q=a%20b", id="encoded-space"),
        pytest.param("/search?q=a+b&q=c&q=%2B", id="plus-and-repeated-keys"),
        pytest.param("/odd/%7Euser/;param?x=%zz", id="unusual-bytes"),
    ],
)
async def test_raw_path_and_query_bytes_reach_both_sides_exactly(
    make_proxy: ProxyFactory, target: str
) -> None:
    proxy = await make_proxy()
    response = await proxy.client.get(URL(target, encoded=True))
    assert response.status == 200
    await proxy.sink.wait_for(1)
    assert proxy.legacy.paths() == [target]
    assert proxy.app.paths() == [target]


async def test_repeated_set_cookie_headers_stay_repeated(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy()
    response = await proxy.client.get("/cookies")
    assert response.headers.getall("Set-Cookie") == ["a=1; Path=/", "b=2; Path=/"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        pytest.param("HEAD", "/echo", 200, id="head"),
        pytest.param("GET", "/nocontent", 204, id="204"),
        pytest.param("GET", "/notmodified", 304, id="304"),
    ],
)
async def test_bodyless_answers_have_no_body(
    make_proxy: ProxyFactory, method: str, path: str, status: int
) -> None:
    proxy = await make_proxy()
    response = await proxy.client.request(method, path)
    assert response.status == status
    assert await response.read() == b""
    assert "Transfer-Encoding" not in response.headers
    assert response.headers["X-Shadowproxy-Authoritative"] == "legacy"


async def test_chunked_request_body_is_accepted_and_sent_to_both(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy({"SHADOWPROXY_MAX_DIFF_BYTES": "100000"})

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"0123456789" * 100

    config_route = "/api/portfolio/watchlist"  # a mirrored write
    response = await proxy.client.post(config_route, data=chunks())
    assert response.status == 200
    await proxy.sink.wait_for(1)
    assert [seen.body for seen in proxy.legacy.seen] == [b"0123456789" * 1000]
    assert [seen.body for seen in proxy.app.seen] == [b"0123456789" * 1000]


async def test_large_request_body_goes_to_the_authoritative_side_only(
    make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy({"SHADOWPROXY_MAX_DIFF_BYTES": "1000"})
    response = await proxy.client.post("/api/portfolio/watchlist", data=b"x" * 5000)
    assert response.status == 200
    assert (await response.json())["body_len"] == 5000
    comparisons = await proxy.sink.wait_for(1)
    assert comparisons[0].reason == SkipReason.BODY_TOO_LARGE
    assert proxy.app.seen == []
    assert (
        proxy.metric(
            "shadowproxy_shadow_skipped_total", route_group="portfolio", reason="body_too_large"
        )
        == 1
    )


async def test_large_response_is_streamed_whole_and_skipped_for_comparison(
    make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy({"SHADOWPROXY_MAX_DIFF_BYTES": "1000"})
    response = await proxy.client.get("/big/300000")
    body = await response.read()
    assert body == b"l" * 300000
    comparisons = await proxy.sink.wait_for(1)
    assert comparisons[0].reason == SkipReason.BODY_TOO_LARGE


async def test_gzip_bytes_pass_through_and_the_kept_copy_is_decoded(
    make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy()
    response = await proxy.client.get("/gzip", auto_decompress=False)
    raw = await response.read()
    assert response.headers["Content-Encoding"] == "gzip"
    assert raw.startswith(b"\x1f\x8b")
    comparisons = await proxy.sink.wait_for(1)
    assert comparisons[0].legacy is not None
    assert comparisons[0].legacy.body == b'{"value": 1}'


async def test_client_disconnect_cancels_the_upstream_call(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy({"SHADOWPROXY_SHADOW": "off"})
    request = asyncio.ensure_future(proxy.client.get("/slow"))
    await asyncio.wait_for(proxy.legacy.arrived.wait(), timeout=10)
    request.cancel()
    with pytest.raises(asyncio.CancelledError):
        await request
    await asyncio.wait_for(proxy.legacy.cancelled.wait(), timeout=10)
    assert proxy.legacy.cancelled.is_set()


async def test_authoritative_down_is_502_json_and_the_proxy_keeps_serving(
    make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy()
    assert proxy.legacy.server is not None
    await proxy.legacy.server.close()
    response = await proxy.client.get("/echo")
    assert response.status == 502
    assert "legacy upstream" in (await response.json())["detail"]
    assert response.headers["X-Shadowproxy-Authoritative"] == "legacy"
    flipped = await proxy.admin.put("/flags/system", json={"side": "app", "reason": "legacy down"})
    assert flipped.status == 200
    again = await proxy.client.get("/echo")
    assert again.status == 200
    assert (await again.json())["side"] == "app"


async def test_authoritative_too_slow_is_504_json(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy({"SHADOWPROXY_UPSTREAM_TIMEOUT_S": "0.2"})
    proxy.legacy.delays["/sleepy"] = 5
    response = await proxy.client.get("/sleepy")
    assert response.status == 504
    assert (await response.json())["detail"] == "legacy upstream timed out"
    assert (await proxy.client.get("/echo")).status == 200


async def test_authoritative_failing_mid_body_cuts_the_client_connection(
    make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy()
    response = await proxy.client.get("/truncated")
    with pytest.raises(aiohttp.ClientPayloadError):
        await response.read()
    assert (await proxy.client.get("/echo")).status == 200


async def test_request_ids_and_marks(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy()
    response = await proxy.client.get("/echo", headers={"X-Request-ID": "client-chosen"})
    assert response.headers["X-Shadowproxy-Authoritative"] == "legacy"
    await proxy.sink.wait_for(1)
    legacy, app = proxy.legacy.seen[0].headers, proxy.app.seen[0].headers
    assert legacy["X-Request-ID"] == app["X-Request-ID"] == "client-chosen"
    assert "X-Shadow-Request" not in legacy
    assert app["X-Shadow-Request"] == "1"

    await proxy.client.get("/echo", headers={"X-Shadow-Request": "1"})
    await proxy.sink.wait_for(2)
    minted = proxy.legacy.seen[1].headers["X-Request-ID"]
    assert len(minted) == 32
    assert proxy.app.seen[1].headers["X-Request-ID"] == minted
    assert "X-Shadow-Request" not in proxy.legacy.seen[1].headers  # a client cannot spoof it


async def test_no_default_client_headers_are_added(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy({"TA_AUTHORITATIVE_SYSTEM": "app"})
    await proxy.client.get("/echo", skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"))
    seen = proxy.backend(Side.APP).seen[0].headers
    assert "Accept-Encoding" not in seen
    assert "User-Agent" not in seen


UPGRADE = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13"}


async def test_upgrades_get_501_json_until_a_relay_is_plugged_in(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy()
    response = await proxy.client.get("/ws/orchestrator", headers=UPGRADE)
    assert response.status == 501
    assert await response.json() == {"detail": "websocket relay not enabled"}
    assert proxy.legacy.seen == []


async def test_a_websocket_relay_receives_the_match_and_the_context(
    make_proxy: ProxyFactory,
) -> None:
    calls: list[tuple[str, str | None, bool]] = []

    async def relay(request: web.Request, match: RouteMatch, ctx: ProxyContext) -> web.Response:
        calls.append((match.spec.template, match.params.get("task_id"), ctx.flags is not None))
        return web.Response(text="relayed")

    proxy = await make_proxy(ws_handler=relay)
    response = await proxy.client.get("/ws/analysis/T1?api_key=k", headers=UPGRADE)
    assert await response.text() == "relayed"
    assert calls == [("/ws/analysis/{task_id}", "T1", True)]


async def test_a_client_that_leaves_ends_the_comparison_as_client_disconnected(
    make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy({"SHADOWPROXY_SHADOW_TIMEOUT_S": "0.5"})
    request = asyncio.ensure_future(proxy.client.get("/slow"))
    await asyncio.wait_for(proxy.legacy.arrived.wait(), timeout=10)
    request.cancel()
    with pytest.raises(asyncio.CancelledError):
        await request
    [comparison] = await proxy.sink.wait_for(1)
    assert comparison.outcome is Outcome.SKIPPED
    assert comparison.reason == SkipReason.CLIENT_DISCONNECTED


async def test_expect_continue_is_answered_by_the_proxy_not_forwarded(
    make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy()
    response = await proxy.client.post("/api/portfolio/watchlist", data=b"abc", expect100=True)
    assert response.status == 200
    await proxy.sink.wait_for(1)
    for backend in (proxy.legacy, proxy.app):
        assert "Expect" not in backend.seen[0].headers
        assert backend.seen[0].body == b"abc"
