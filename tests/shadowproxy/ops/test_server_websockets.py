"""SIGTERM with a dashboard's websocket open: the client is told 1001 (going away), the proxy
publishes the comparison, flushes the diff log and exits 0 — within the grace, not killed."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from pathlib import Path

import aiohttp
from aiohttp import WSMsgType, web

from ..factories import ServerFactory

GRACE_S = 1.0


async def echo(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for message in ws:  # never closes by itself, as the analysis socket of a dashboard
        if message.type is WSMsgType.TEXT:
            await ws.send_str(message.data)
    return ws


async def test_sigterm_closes_open_websockets_1001_and_exits_0(
    tmp_path: Path, aiohttp_server: ServerFactory
) -> None:
    urls = []
    for _ in range(2):
        app = web.Application()
        app.router.add_get("/ws/echo", echo)
        urls.append(str((await aiohttp_server(app)).make_url("")).rstrip("/"))
    proxy = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "shadowproxy", "run", "--legacy", urls[0], "--app", urls[1],
        "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--state-dir", "state",
        "--diff-log-dir", "diffs", cwd=tmp_path,
        env={**os.environ, "SHADOWPROXY_SHUTDOWN_GRACE_S": str(GRACE_S),
             "SHADOWPROXY_LOG_MATCHES": "1"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert proxy.stdout is not None
    line = (await asyncio.wait_for(proxy.stdout.readline(), 30)).decode()
    match = re.search(r"listening on (\S+) ", line)
    assert match, line
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{match[1]}/ws/echo") as ws,
    ):
        await ws.send_str("hello")
        assert (await ws.receive(timeout=5)).data == "hello"
        proxy.send_signal(signal.SIGTERM)
        closing = await ws.receive(timeout=GRACE_S + 5)
        assert closing.type is WSMsgType.CLOSE
        assert ws.close_code == 1001
    assert await asyncio.wait_for(proxy.wait(), GRACE_S + 10) == 0
    records = [
        json.loads(line)
        for path in (tmp_path / "diffs").glob("diff-*.jsonl")
        for line in path.read_text().splitlines()
    ]
    (socket,) = [r for r in records if r["kind"] == "ws"]  # its comparison reached the log
    assert socket["frames"] == {"legacy": 1, "app": 1}
