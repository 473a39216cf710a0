"""`diffs fixtures`, `replay` and `diffs accept` round trip: a real `shadowproxy run` in front of
two fake backends whose answers the test changes, the CLI in subprocesses."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.pytest_plugin import AiohttpServer

from tests.shadowproxy.factories import ProxyProcess, proxy_process

from .commands import cli

TOKEN = "replay-test-token-0123456789"
CONFIG = """
[[routes]]
template = "/v1/orders/{order_id}"
profile = "json_fields"
key_fields = ["status", "total"]

[[routes]]
template = "/v1/quotes"
methods = ["POST"]
profile = "json_fields"
key_fields = ["price", "currency"]
mirror = true
"""


@dataclass
class Orders:
    """One side: answers the test can change, and the requests it saw."""

    answers: dict[str, dict[str, Any]]
    seen: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/health", self.health)
        app.router.add_route("*", "/{tail:.*}", self.answer)
        return app

    async def health(self, _: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def answer(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.seen.append((request.method, request.path, dict(request.headers), body))
        return web.json_response(self.answers[request.path])


@dataclass
class Stack:
    legacy: Orders
    app: Orders
    proxy: ProxyProcess
    root: Path

    async def cli(self, *args: str) -> tuple[int, str, str]:
        return await cli(*args, cwd=self.root)

    def token(self) -> tuple[str, str]:
        return "--admin", self.proxy.admin_url

    def admin(self) -> tuple[str, ...]:
        return "--admin", self.proxy.admin_url, "--token-file", str(self.root / "token")


ORDER = {"status": "open", "total": 10}
QUOTE = {"price": 1.5, "currency": "USD"}


@pytest.fixture
async def stack(aiohttp_server: AiohttpServer, tmp_path: Path) -> AsyncIterator[Stack]:
    legacy = Orders({"/v1/orders/1": ORDER, "/v1/orders/2": ORDER, "/v1/quotes": QUOTE})
    app = Orders(
        {
            "/v1/orders/1": ORDER | {"status": "OPEN"},
            "/v1/orders/2": ORDER | {"total": 11},
            "/v1/quotes": QUOTE | {"price": 1.6},
        }
    )
    servers = [await aiohttp_server(side.app()) for side in (legacy, app)]
    (tmp_path / "config.toml").write_text(CONFIG)
    (tmp_path / "token").write_text(TOKEN + "\n")
    legacy_url, app_url = (str(server.make_url("")).rstrip("/") for server in servers)
    env = {"SHADOWPROXY_ADMIN_TOKEN": TOKEN}
    args = ("--config", str(tmp_path / "config.toml"))
    async with proxy_process(legacy_url, app_url, tmp_path, env, args=args) as proxy:
        yield Stack(legacy, app, proxy, tmp_path)


async def traffic(stack: Stack) -> None:
    """The three divergences, with a credential and a secret in a body, then their records."""
    auth = {"Authorization": "Bearer client-secret"}
    async with aiohttp.ClientSession(base_url=stack.proxy.url) as session:
        for path in ("/v1/orders/1", "/v1/orders/2"):
            async with session.get(path, headers=auth | {"X-Client": "dash"}) as answer:
                assert answer.status == 200
        quote = {"ticker": "AAPL", "api_key": "k-123"}
        async with session.post("/v1/quotes", json=quote, headers=auth) as answer:
            assert answer.status == 200
    for _ in range(100):  # the writer thread writes within a moment
        lines = [p.read_text() for p in (stack.root / "diff_logs").glob("*.jsonl")]
        if sum(text.count('"mismatch"') for text in lines) >= 3:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the three mismatches were not written")


def verdicts(out: str) -> dict[str, tuple[str, str | None]]:
    rows = json.loads(out)["fixtures"]
    return {row["route"] + row["path"][-2:]: (row["verdict"], row["outcome"]) for row in rows}


async def test_fixtures_replay_and_accept_round_trip(stack: Stack) -> None:
    await traffic(stack)
    logs = ("--dir", str(stack.root / "diff_logs"))
    code, out, err = await stack.cli("diffs", "fixtures", "fixtures", *logs, "--json")
    assert code == 0, err
    written = [stack.root / p for p in json.loads(out)["written"]]
    assert len(written) == 3
    fixtures = {
        json.loads(p.read_text())["request"]["path"]: json.loads(p.read_text()) for p in written
    }
    quote = fixtures["/v1/quotes"]["request"]
    assert quote["withheld"] == ["authorization"]
    assert quote["body"] == {"ticker": "AAPL", "api_key": "[REDACTED]"}
    assert not any(name.lower() in ("x-request-id", "via") for name, _ in quote["headers"])
    assert "client-secret" not in "".join(p.read_text() for p in written)

    stack.app.answers["/v1/orders/1"] = ORDER  # fixed
    stack.app.answers["/v1/quotes"] = QUOTE | {"currency": "EUR"}  # another divergence now
    replay = ("replay", "fixtures", "--proxy", stack.proxy.url, *stack.admin(), "--json")
    code, out, err = await stack.cli(*replay, "--header", "Authorization: Bearer again")
    assert code == 0, err
    assert verdicts(out) == {
        "/v1/orders/{order_id}/1": ("gone", "match"),
        "/v1/orders/{order_id}/2": ("still there", "mismatch"),
        "/v1/quoteses": ("changed", "mismatch"),
    }
    replayed = [
        seen for seen in stack.app.seen if seen[2].get("X-Request-ID", "").startswith("replay-")
    ]
    assert len(replayed) == 3
    assert all(headers["Authorization"] == "Bearer again" for _, _, headers, _ in replayed)
    assert {body for method, _, _, body in replayed if method == "POST"} == {
        b'{"ticker":"AAPL","api_key":"[REDACTED]"}'
    }
    code, text, err = await stack.cli(*replay[:-1], "--fail-on-mismatch")
    assert code == 3, err
    assert text.splitlines()[0] == "3 fixtures replayed: 1 gone, 1 still there, 1 changed"
    assert "2 of 3 divergences are still there or changed" in err

    remaining = fixtures["/v1/orders/2"]["signature"]["id"]
    accept = ("diffs", "accept", remaining, *logs, "--reason", "totals round differently")
    code, _, err = await stack.cli(*accept, *stack.token())  # no token
    assert code == 2
    assert "bearer token is required" in err
    code, out, err = await stack.cli(
        *accept, *stack.admin(), "--owner", "orders", "--expires", "2099-12-31"
    )
    assert code == 0, err
    assert out.startswith(f"accepted {remaining} on /v1/orders/{{order_id}}: total changed")
    code, out, err = await stack.cli(*replay)
    assert verdicts(out)["/v1/orders/{order_id}/2"] == ("gone", "accepted")

    events = await admin_get(stack, "/events")
    accepted = [e for e in events["events"] if e["action"] == "accept"]
    assert accepted[-1]["reason"] == "totals round differently"
    assert f"signature {remaining}" in accepted[-1]["evidence"]
    known = await admin_get(stack, "/known")
    [runtime] = [entry for entry in known["known"] if entry["source"] == "runtime"]
    assert (runtime["field"], runtime["kinds"], runtime["owner"]) == (
        "total",
        ["changed"],
        "orders",
    )

    code, out, err = await stack.cli("diffs", "accept", remaining, "--withdraw", *stack.admin())
    assert code == 0, err
    code, out, err = await stack.cli(*replay)
    assert verdicts(out)["/v1/orders/{order_id}/2"] == ("still there", "mismatch")


async def admin_get(stack: Stack, path: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(stack.proxy.admin_url + path, headers=headers) as answer,
    ):
        assert answer.status == 200
        document: dict[str, Any] = await answer.json()
        return document
