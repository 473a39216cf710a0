"""Edge cases of the request line and header section, sent as raw bytes (RFC 9110/9112).

A client library normalizes what these tests need to send as-is (absolute-form targets, header
names that differ only in case, invalid Host values), so they talk to the proxy's real socket.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import orjson
from aiohttp import web
from multidict import CIMultiDict

from shadowproxy.http.context import ProxyContext
from shadowproxy.types import RouteMatch

from ..factories import ListSink, Proxy, ProxyFactory


@dataclass(frozen=True)
class RawAnswer:
    status: int
    headers: CIMultiDict[str]
    body: bytes


async def send_raw(proxy: Proxy[ListSink], *lines: str, body: bytes = b"") -> RawAnswer:
    """One request written byte for byte (`lines` joined by CRLF, then an empty line)."""
    server = proxy.client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write("\r\n".join([*lines, "Connection: close", "", ""]).encode("latin-1") + body)
        await writer.drain()
        raw = await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, rest = raw.partition(b"\r\n\r\n")
    status_line, *fields = head.decode("latin-1").split("\r\n")
    headers: CIMultiDict[str] = CIMultiDict()
    for field in fields:
        name, _, value = field.partition(":")
        headers.add(name.strip(), value.strip())
    return RawAnswer(int(status_line.split()[1]), headers, rest)


async def test_absolute_form_target_is_forwarded_in_origin_form(
    make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy()
    answer = await send_raw(
        proxy, "GET http://example.com/echo?a=1&b=%2F HTTP/1.1", "Host: example.com"
    )
    assert answer.status == 200
    assert orjson.loads(answer.body)["path"] == "/echo?a=1&b=%2F"
    assert proxy.legacy.paths() == ["/echo?a=1&b=%2F"]
    await proxy.wait_idle()
    assert proxy.app.paths() == ["/echo?a=1&b=%2F"]
    labels = {"route_group": "system", "method": "GET", "authoritative": "legacy", "code": "200"}
    assert proxy.metric("shadowproxy_requests_total", route="<unmatched>", **labels) == 1


async def test_upgrade_to_an_unrelayed_protocol_is_answered_normally(
    make_proxy: ProxyFactory,
) -> None:
    relayed: list[str] = []

    async def relay(request: web.Request, match: RouteMatch, ctx: ProxyContext) -> web.Response:
        relayed.append(request.headers["Upgrade"])
        return web.Response(status=418)

    proxy = await make_proxy(ws_handler=relay)
    answer = await send_raw(
        proxy,
        "GET /echo HTTP/1.1",
        "Host: example.com",
        "Connection: Upgrade, HTTP2-Settings",
        "Upgrade: h2c",
        "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA",
    )
    assert answer.status == 200
    assert relayed == []
    seen = proxy.legacy.seen[-1].headers
    assert "Upgrade" not in seen
    assert "HTTP2-Settings" not in seen
    # a websocket upgrade (any case) still goes to the relay
    response = await proxy.client.get(
        "/ws/orchestrator", headers={"Connection": "keep-alive, Upgrade", "Upgrade": "WebSocket"}
    )
    assert response.status == 418
    assert relayed == ["WebSocket"]


async def test_repeated_header_names_differing_in_case_keep_every_value(
    make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy()
    answer = await send_raw(proxy, "GET /echo HTTP/1.1", "Host: a", "X-Dup: 1", "x-dup: 2")
    assert answer.status == 200
    seen = proxy.legacy.seen[-1].headers
    values = [value.strip() for field in seen.getall("X-Dup") for value in field.split(",")]
    assert values == ["1", "2"]


async def test_invalid_host_is_refused_without_forwarding(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy()
    for host in ("bad host", "a/b", "example.com:80x", "[::1"):
        answer = await send_raw(proxy, "GET /echo HTTP/1.1", f"Host: {host}")
        assert answer.status == 400, host
        assert "Host" in orjson.loads(answer.body)["detail"]
    twice = await send_raw(proxy, "GET /echo HTTP/1.1", "Host: a", "Host: b")
    assert twice.status == 400
    missing = await send_raw(proxy, "GET /echo HTTP/1.1")
    assert missing.status == 400
    await proxy.wait_idle()
    assert proxy.legacy.seen == []
    assert proxy.app.seen == []
    for host in ("example.com:8080", "[::1]:80", "127.0.0.1", "xn--bcher-kva.example"):
        assert (await send_raw(proxy, "GET /echo HTTP/1.1", f"Host: {host}")).status == 200
    assert (await send_raw(proxy, "GET /echo HTTP/1.0")).status == 200


async def test_options_with_max_forwards_zero_is_answered_by_the_proxy(
    make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy()
    answer = await send_raw(
        proxy, "OPTIONS /api/portfolio/watchlist HTTP/1.1", "Host: a", "Max-Forwards: 0"
    )
    assert answer.status == 200
    allowed = {method.strip() for method in answer.headers["Allow"].split(",")}
    assert allowed == {"GET", "HEAD", "POST", "OPTIONS"}
    unknown = await send_raw(proxy, "OPTIONS /nowhere HTTP/1.1", "Host: a", "Max-Forwards: 0")
    assert unknown.status == 200
    assert "OPTIONS" in unknown.headers["Allow"]
    await proxy.wait_idle()
    assert proxy.legacy.seen == []
    assert proxy.app.seen == []


async def test_options_with_max_forwards_is_forwarded_decremented(
    make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy()
    answer = await send_raw(proxy, "OPTIONS /echo HTTP/1.1", "Host: a", "Max-Forwards: 3")
    assert answer.status == 200
    assert proxy.legacy.seen[-1].headers["Max-Forwards"] == "2"
    await proxy.wait_idle()
    assert proxy.app.seen[-1].headers["Max-Forwards"] == "2"


async def test_via_names_the_protocol_version_of_the_request(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy()
    assert (await send_raw(proxy, "GET /echo HTTP/1.0", "Host: a")).status == 200
    assert proxy.legacy.seen[-1].headers["Via"] == "1.0 shadowproxy"
    assert (await send_raw(proxy, "GET /echo HTTP/1.1", "Host: a")).status == 200
    assert proxy.legacy.seen[-1].headers["Via"] == "1.1 shadowproxy"


async def test_request_id_is_returned_to_the_client(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy()
    sent = await send_raw(proxy, "GET /echo HTTP/1.1", "Host: a", "X-Request-ID: client-7")
    assert sent.headers["X-Request-ID"] == "client-7"
    minted = await send_raw(proxy, "GET /echo HTTP/1.1", "Host: a")
    assert minted.headers["X-Request-ID"] == proxy.legacy.seen[-1].headers["X-Request-ID"]
    assert minted.headers["X-Request-ID"]
    refused = await send_raw(proxy, "GET /echo HTTP/1.1", "Host: bad host", "X-Request-ID: r-9")
    assert refused.headers["X-Request-ID"] == "r-9"
    local = await send_raw(proxy, "OPTIONS /echo HTTP/1.1", "Host: a", "Max-Forwards: 0")
    assert local.headers["X-Request-ID"]
