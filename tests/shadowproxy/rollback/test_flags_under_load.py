"""Flags flipping while clients keep asking: no request lost, none answered twice.

A few hundred requests from parallel clients while the `system` group is flipped back and forth
through the admin API: every request is answered once, 200, by exactly one backend as the
authoritative call (the other side only ever sees it marked as the shadow), and the side named in
the answer is the side that served it.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import aiohttp
from aiohttp import web

from shadowproxy.http.context import CONTEXT, FLAGS
from shadowproxy.http.headers import AUTHORITATIVE_MARK, SHADOW_MARK
from shadowproxy.types import Side

from ..factories import ServerFactory, build_proxy, proxy_settings

REQUESTS = 300
CLIENTS = 8
FLIPS = 30


class Echo:
    """A backend that answers its side and counts authoritative and shadow calls per request."""

    def __init__(self, side: Side) -> None:
        self.side = side
        self.served: Counter[str] = Counter()
        self.shadowed: Counter[str] = Counter()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/health", self.answer)
        return app

    async def answer(self, request: web.Request) -> web.Response:
        request_id = request.headers.get("X-Request-ID", "")
        (self.shadowed if request.headers.get(SHADOW_MARK) else self.served)[request_id] += 1
        await asyncio.sleep(0.002)  # long enough for flips to land mid-request
        return web.json_response({"side": self.side.value})


async def test_no_request_is_lost_or_doubled_while_flags_flip(
    tmp_path: Path, aiohttp_server: ServerFactory
) -> None:
    legacy, app = Echo(Side.LEGACY), Echo(Side.APP)
    urls = []
    for backend in (legacy, app):
        urls.append(str((await aiohttp_server(backend.app())).make_url("")).rstrip("/"))
    built = build_proxy(proxy_settings(urls[0], urls[1], tmp_path))
    proxy = str((await aiohttp_server(built.app)).make_url("")).rstrip("/")
    admin = str((await aiohttp_server(built.admin)).make_url("")).rstrip("/")
    answers: dict[str, tuple[int, str, str]] = {}
    queue = iter(range(REQUESTS))

    async def client(session: aiohttp.ClientSession) -> None:
        for number in queue:
            request_id = f"r{number}"
            headers = {"X-Request-ID": request_id}
            async with session.get(f"{proxy}/health", headers=headers) as response:
                body = await response.json()
                answers[request_id] = (
                    response.status,
                    body["side"],
                    response.headers.get(AUTHORITATIVE_MARK, ""),
                )

    async def flipper(session: aiohttp.ClientSession) -> None:
        for flip in range(FLIPS):
            side = "app" if flip % 2 == 0 else "legacy"
            body = {"side": side, "reason": f"flip {flip}"}
            async with session.put(f"{admin}/flags/system", json=body) as response:
                assert response.status == 200
            await asyncio.sleep(0.01)

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(flipper(session), *(client(session) for _ in range(CLIENTS)))
        await built.app[CONTEXT].tasks.idle()  # the shadows too have been answered
    assert len(answers) == REQUESTS
    assert {status for status, _, _ in answers.values()} == {200}
    for request_id, (_, side, mark) in answers.items():
        served = {
            s
            for s, backend in ((Side.LEGACY, legacy), (Side.APP, app))
            if backend.served[request_id]
        }
        assert len(served) == 1, request_id  # exactly one authoritative call
        (server,) = served
        assert legacy.served[request_id] + app.served[request_id] == 1
        assert legacy.shadowed[request_id] + app.shadowed[request_id] <= 1  # at most one shadow
        assert side == mark == server.value  # the answer is the one that side gave
    sides = Counter(side for _, side, _ in answers.values())
    assert sides["legacy"]
    assert sides["app"]
    assert built.app[FLAGS].version == FLIPS
