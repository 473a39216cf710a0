"""No secret reaches a file, end to end: real proxy (`shadowproxy run`), fake backends that
echo secrets back and disagree about them, every secret form a client sends."""

import asyncio
import gzip
import os
import re
import signal
import sys
from pathlib import Path

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

SECRETS = {
    "header_api_key": "hdr-key-0001",
    "bearer": "bearer-0002",
    "cookie": "cookie-0003",
    "proxy_auth": "proxyauth-0004",
    "query_api_key": "query-key-0005",
    "query_token": "query-token-0006",
    "set_cookie": "setcookie-0007",
    "body_api_key": "body-key-0008",
    "configured": "configured-0009",
}


def echoing_backend(side: str) -> web.Application:
    """Answers with the client's secrets in the body and a Set-Cookie, different per side."""

    async def watchlist(request: web.Request) -> web.Response:
        body = {
            "watchlist": [{"ticker": "AAPL", "note": f"{SECRETS['configured']}-{side}"}],
            "api_key": f"{SECRETS['body_api_key']}-{side}",
            # echoed per side, so each secret also shows up as a differing value
            "echo": {k: f"{v}-{side}" for k, v in request.headers.items()}
            | {"query": f"{request.query_string}&side={side}"},
        }
        response = web.json_response(body)
        response.set_cookie("sid", f"{SECRETS['set_cookie']}-{side}")
        return response

    async def pdf(request: web.Request) -> web.Response:
        response = web.Response(body=b"%PDF-1.4 " + side.encode(), content_type="application/pdf")
        response.set_cookie("sid", f"{SECRETS['set_cookie']}-{side}")
        return response

    app = web.Application()
    app.router.add_get("/api/portfolio/watchlist", watchlist)
    app.router.add_get("/api/reports/{ticker}/{date}/pdf", pdf)
    return app


def diff_log_text(directory: Path) -> str:
    chunks = []
    for path in sorted(directory.iterdir()):
        data = path.read_bytes()
        chunks.append(gzip.decompress(data) if path.suffix == ".gz" else data)
    return b"".join(chunks).decode()


async def test_no_secret_reaches_the_diff_log_or_the_proxy_log(tmp_path: Path) -> None:
    servers = [TestServer(echoing_backend(side), host="127.0.0.1") for side in ("l", "a")]
    for server in servers:
        await server.start_server()
    config = tmp_path / "diff.toml"
    config.write_text('[redact]\njson_paths = ["watchlist.*.note"]\n')
    proxy = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "shadowproxy", "run",
        "--legacy", str(servers[0].make_url("")).rstrip("/"),
        "--app", str(servers[1].make_url("")).rstrip("/"),
        "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--config", str(config),
        "--diff-log-dir", "diff_logs", "--state-dir", "state",
        cwd=tmp_path, env={**os.environ, "SHADOWPROXY_LOG_MATCHES": "1"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proxy.stdout is not None
    assert proxy.stderr is not None
    try:
        line = (await asyncio.wait_for(proxy.stdout.readline(), 30)).decode()
        match = re.search(r"listening on (\S+) \(admin (\S+)\)", line)
        assert match, line
        headers = {
            "api-key": SECRETS["header_api_key"],
            "Authorization": f"Bearer {SECRETS['bearer']}",
            "Cookie": f"session={SECRETS['cookie']}",
            "Proxy-Authorization": f"Basic {SECRETS['proxy_auth']}",
        }
        query = f"api_key={SECRETS['query_api_key']}&token={SECRETS['query_token']}"
        async with aiohttp.ClientSession(headers=headers) as client:
            for path in ("/api/portfolio/watchlist", "/api/reports/AAPL/2026-04-13/pdf"):
                async with client.get(f"{match[1]}{path}?{query}") as response:
                    assert response.status == 200
                    assert SECRETS["set_cookie"] in response.headers["Set-Cookie"]  # untouched
            for _ in range(100):  # the comparisons run in the background
                async with client.get(f"{match[2]}/metrics") as response:
                    if "shadowproxy_shadow_inflight 0.0" in await response.text():
                        break
                await asyncio.sleep(0.05)
    finally:
        proxy.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(proxy.communicate(), 60)
        for server in servers:
            await server.close()

    written = diff_log_text(tmp_path / "diff_logs")
    assert written.count('"event":"shadow_comparison"') == 2
    assert "[REDACTED]" in written
    logged = stderr.decode()
    leaks = [name for name, secret in SECRETS.items() if secret in written + logged]
    assert leaks == []
