"""Client connection limits through the real `serve()`: header timeout, keep-alive, the cap."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from ..factories import FakeBackend, ListSink, proxy_settings, running


async def closed_counts(admin: str) -> dict[str, float]:
    async with aiohttp.ClientSession() as session, session.get(f"{admin}/metrics") as response:
        text = await response.text()
    return {
        sample.labels["reason"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "shadowproxy_client_connections_closed_total"
    }


async def connect(url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    return await asyncio.open_connection(parts.hostname, parts.port)


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    try:
        async with asyncio.timeout(seconds):
            while await reader.read(65536):
                pass
        return True
    except ConnectionError:  # reset rather than closed: closed all the same
        return True
    except TimeoutError:
        return False


async def test_trickled_headers_and_idle_connections_are_closed(
    backends: tuple[FakeBackend, FakeBackend], tmp_path: Path
) -> None:
    env = {"SHADOWPROXY_HEADER_TIMEOUT_S": "0.5", "SHADOWPROXY_KEEPALIVE_S": "1"}
    settings = proxy_settings(backends[0].url, backends[1].url, tmp_path, env)
    async with running(settings, ListSink()) as (proxy, admin):
        reader, writer = await connect(proxy)
        writer.write(b"GET /health HTTP/1.1\r\n")
        with suppress(ConnectionError):  # the proxy hangs up mid-trickle: that is the point
            for number in range(5):  # a header line every 0.2 s: never a whole head in 0.5 s
                await asyncio.sleep(0.2)
                writer.write(f"X-Line-{number}: 1\r\n".encode())
                await writer.drain()
        assert await closed_within(reader, 2.0)
        writer.close()

        # a whole request is answered, and the connection is then kept until the idle timeout
        reader, writer = await connect(proxy)
        writer.write(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200")
        assert not await closed_within(reader, 0.6)  # past the header timeout: still open
        assert await closed_within(reader, 3.0)  # then the 1 s keep-alive closes it
        writer.close()
        counts = await closed_counts(admin)
    assert counts.get("header_timeout") == 1


async def test_connections_beyond_the_cap_are_closed_at_once(
    backends: tuple[FakeBackend, FakeBackend], tmp_path: Path
) -> None:
    env = {"SHADOWPROXY_MAX_CLIENT_CONNECTIONS": "3", "SHADOWPROXY_HEADER_TIMEOUT_S": "30"}
    settings = proxy_settings(backends[0].url, backends[1].url, tmp_path, env)
    async with running(settings, ListSink()) as (proxy, admin):
        held = [await connect(proxy) for _ in range(3)]
        await asyncio.sleep(0.1)
        reader, writer = await connect(proxy)
        assert await closed_within(reader, 2.0)
        for _, open_writer in held:
            open_writer.close()
        await asyncio.sleep(0.1)
        async with aiohttp.ClientSession() as session, session.get(f"{proxy}/health") as answer:
            assert answer.status == 200  # room again once they closed
        counts = await closed_counts(admin)
        writer.close()
    assert counts.get("max_connections") == 1


async def test_a_request_followed_by_a_half_close_is_answered(
    backends: tuple[FakeBackend, FakeBackend], tmp_path: Path
) -> None:
    settings = proxy_settings(backends[0].url, backends[1].url, tmp_path)
    async with running(settings, ListSink()) as (proxy, _):
        reader, writer = await connect(proxy)
        writer.write(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        await writer.drain()
        writer.write_eof()  # the client shuts its write side right after the request
        answer = await asyncio.wait_for(reader.read(), 5)  # to EOF: answered, then closed
        writer.close()
    assert answer.startswith(b"HTTP/1.1 200")
    assert b'"status": "ok"' in answer or b'"status":"ok"' in answer


async def exchange(url: str, request: bytes) -> bytes:
    reader, writer = await connect(url)
    try:
        writer.write(request)
        return await asyncio.wait_for(reader.read(), 5)  # the proxy closes after a refusal
    finally:
        writer.close()


async def test_requests_too_large_to_parse_get_414_and_431_with_a_detail(
    backends: tuple[FakeBackend, FakeBackend], tmp_path: Path
) -> None:
    settings = proxy_settings(backends[0].url, backends[1].url, tmp_path)
    long_target = b"/api/analysis/tasks?q=" + b"a" * 100_000
    long_field = b"X-Big: " + b"v" * 200_000 + b"\r\n"
    many_fields = b"".join(b"X-F%d: 1\r\n" % n for n in range(200))
    async with running(settings, ListSink()) as (proxy, admin):
        target = await exchange(proxy, b"GET " + long_target + b" HTTP/1.1\r\nHost: t\r\n\r\n")
        field = await exchange(proxy, b"GET / HTTP/1.1\r\nHost: t\r\n" + long_field + b"\r\n")
        fields = await exchange(proxy, b"GET / HTTP/1.1\r\nHost: t\r\n" + many_fields + b"\r\n")
        # at the limits, not over them: parsed and answered as usual
        at_limit = b"/health?" + b"a" * (8190 - len(b"GET /health? HTTP/1.1"))
        fine = await exchange(
            proxy, b"GET " + at_limit + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        )
        counts = await closed_counts(admin)
    # aiohttp answers what it could not parse as HTTP/1.0 (it never read the version)
    assert target.split(b" ", 2)[1] == b"414"
    assert target.endswith(b'{"detail": "request target too long"}')
    for answer in (field, fields):
        assert answer.split(b" ", 2)[1] == b"431"
        assert answer.endswith(b'{"detail": "header fields too large"}')
    assert fine.startswith(b"HTTP/1.1 200 ")
    assert counts.get("request_target_too_long") == 1
    assert counts.get("header_fields_too_large") == 2
    # none of the refused requests reached a backend (only the one at the limits did)
    assert [path for fake in backends for path in fake.paths() if path != at_limit.decode()] == []
