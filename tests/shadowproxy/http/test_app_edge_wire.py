"""What the edge fuzz found, each a regression test through a real `shadowproxy run`: an
upgrade's pipelined request, unknown expectations, connections the client closed (idle, or with
a body cut short), and request lines naming HTTP/2.0 or HTTP/0.9.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import orjson
import pytest

from ..factories import ProxyProcess
from .edge_wire import (
    KEEPALIVE_S,
    Case,
    Draft,
    answers_to,
    exchange,
    liveness,
    problems,
    valid,
)


async def test_a_request_pipelined_after_an_unrelayed_upgrade_is_answered_or_retried(
    proxy: ProxyProcess,
) -> None:
    """aiohttp's parser drops the bytes after an upgrade request in the same read (other than a
    websocket one): the pipelined request vanished on a connection the answer kept open, so the
    client waited for an answer that never came. The proxy now closes after such an answer."""
    h2c = Draft(
        b"GET",
        b"/fuzz/m-1",
        headers=[
            (b"Host", b"fuzz"),
            (b"Connection", b"Upgrade, HTTP2-Settings"),
            (b"Upgrade", b"h2c"),
            (b"HTTP2-Settings", b"AAMAAABkAAQAAP__"),
        ],
    )
    seen = await exchange(proxy, Case(1, h2c.wire() + valid("v-1"), "v-1"))
    assert [a.status for a in seen.answers][:1] == [200]
    assert seen.closed or any(answers_to(a, "v-1") for a in seen.answers)
    assert problems(seen) == []


@pytest.mark.parametrize("value", [b"100-continue\xff\xfe", b"caf\xc3\xa9", b"x"])
async def test_an_unknown_expectation_is_refused_with_417(
    proxy: ProxyProcess, value: bytes
) -> None:
    """aiohttp's own Expect handler quoted the value in its answer and failed with a 500 on one
    that is not UTF-8."""
    post = Draft(
        b"POST",
        b"/fuzz/m-1",
        headers=[(b"Host", b"fuzz"), (b"Expect", value), (b"Content-Length", b"3")],
        body=b"abc",
    )
    seen = await exchange(proxy, Case(1, post.wire(), None))
    (answer,) = seen.answers
    assert (answer.status, orjson.loads(answer.body)) == (
        417,
        {"detail": "unsupported expectation"},
    )
    assert (await exchange(proxy, liveness(2))).answers[0].status == 200


@pytest.mark.parametrize(
    "target",
    [
        b"CONNECT /fuzz/m-1?q=1",  # the fuzz, seed 1809151749 (cases 11077 and 88012)
        b"CONNECT fuzz:443",  # authority-form
        b"OPTIONS *",  # asterisk-form
        b"GET http://fuzz",  # absolute-form without a path
    ],
)
async def test_an_unknown_expectation_is_refused_with_417_whatever_the_target(
    proxy: ProxyProcess, target: bytes
) -> None:
    """A target the catch-all route cannot match got aiohttp's own route, whose Expect handler
    (it runs before any middleware) quoted the value and failed with a 500 on one that is not
    UTF-8."""
    for index, value in enumerate([b"100\x8e\x80-continue", b"caf\xc3\xa9", b"x"]):
        data = target + b" HTTP/1.1\r\nHost: fuzz\r\nExpect: " + value + b"\r\n\r\n"
        seen = await exchange(proxy, Case(index, data, None))
        assert [(a.status, a.body) for a in seen.answers] == [
            (417, b'{"detail": "unsupported expectation"}')
        ], value
    assert (await exchange(proxy, liveness(9))).answers[0].status == 200


def proxy_sockets(proxy: ProxyProcess) -> int:
    fds = Path(f"/proc/{proxy.process.pid}/fd")
    return sum(1 for fd in fds.iterdir() if os.readlink(fd).startswith("socket:"))


async def test_connections_the_clients_closed_are_closed(proxy: ProxyProcess) -> None:
    """20 clients each make a request, keep the connection a moment, then close it."""
    await exchange(proxy, liveness(0))  # the pools to the backends are open
    before = proxy_sockets(proxy)
    host, port = proxy.url.removeprefix("http://").rsplit(":", 1)
    for index in range(20):
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(valid(f"l-{index}"))
        assert b"HTTP/1.1 200" in await reader.readuntil(b"}")
        await asyncio.sleep(0.05)  # the proxy's handler is waiting for the next request
        writer.close()
        await writer.wait_closed()
    await asyncio.sleep(KEEPALIVE_S + 1)  # even the keep-alive timeout is over
    assert proxy_sockets(proxy) <= before + 2  # a pool may have opened a connection or two


async def test_a_body_cut_short_by_the_clients_eof_is_answered_or_closed(
    proxy: ProxyProcess,
) -> None:
    cut = b"POST /fuzz/m-1 HTTP/1.1\r\nHost: fuzz\r\nContent-Length: 10\r\n\r\nabc"
    seen = await exchange(proxy, Case(1, cut, None))
    assert seen.half_closed
    assert seen.answers or seen.closed


@pytest.mark.parametrize("version", [b"HTTP/2.0", b"HTTP/0.9"])
async def test_the_answer_is_http_1_1_whatever_version_the_request_line_names(
    proxy: ProxyProcess, version: bytes
) -> None:
    request = Draft(b"GET", b"/fuzz/m-1", version, [(b"Host", b"fuzz")])
    (answer,) = (await exchange(proxy, Case(1, request.wire(), None))).answers
    assert (answer.version, answer.status) == (b"HTTP/1.1", 505)


async def test_a_request_line_no_route_matches_is_answered_in_http_1_1_too(
    proxy: ProxyProcess,
) -> None:
    """`CONNECT  HTTP/1.1` (no target) parses as an HTTP/0.9 request for `HTTP/1.1`, which no
    route matches: aiohttp's own 404 came back as `HTTP/0.9 404` (the fuzz, seed 165140527)."""
    data = b"CONNECT  HTTP/1.1\r\nHost: fuzz\r\n\r\n"
    (answer,) = (await exchange(proxy, Case(1, data, None))).answers
    assert (answer.version, answer.status) == (b"HTTP/1.1", 505)
