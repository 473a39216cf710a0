"""Through the proxy, a websocket sees exactly what a direct one to the authoritative side sees.

Both real backends run in-process on port 0 (their `create_app`), each analysis is the real
kernel held back by a gate file until both websockets (direct and proxied) are subscribed, so the
two clients receive the same broadcasts and their frames can be compared byte for byte.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import orjson
import pytest

from app_service.app import create_app as create_app_service
from app_service.settings import Settings as AppSettings
from legacy_backend.app import create_app as create_legacy
from legacy_backend.settings import Settings as LegacySettings
from shadowproxy.types import Comparison, ExchangeKind, Outcome, Side

from ..factories import ServerFactory
from ..ws_fakes import DAY, WsProxy, start_proxy

GATE = Path(__file__).parents[2] / "legacy_backend" / "gate_exec.py"
KERNEL = (sys.executable, "-m", "orchestrator", "analyze")
_SCRUB = ("DASHBOARD_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_API_KEY", "TRADINGAGENTS_LLM_PROVIDER")


def _environ(**more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB and not k.startswith("TA_")}
    env["TA_STAGE_DELAY_MS"] = "0"
    env.update(more)
    return env


async def _backends(
    aiohttp_server: ServerFactory, tmp_path: Path, gate: Path, **env: str
) -> dict[Side, str]:
    command = (sys.executable, str(GATE), str(gate), *KERNEL)
    legacy = dataclasses.replace(
        LegacySettings.from_environ(_environ(**env), data_dir=tmp_path / "legacy"),
        analysis_command=command,
    )
    app = dataclasses.replace(
        AppSettings.from_environ(
            _environ(**env), host="127.0.0.1", port=0, data_dir=tmp_path / "app"
        ),
        analysis_command=command,
    )
    servers = {
        Side.LEGACY: await aiohttp_server(create_legacy(legacy)),
        Side.APP: await aiohttp_server(create_app_service(app)),
    }
    return {side: str(server.make_url("")).rstrip("/") for side, server in servers.items()}


async def _until_terminal(ws: aiohttp.ClientWebSocketResponse) -> list[str]:
    frames: list[str] = []
    while True:
        message = await ws.receive()
        assert message.type is aiohttp.WSMsgType.TEXT, message
        frames.append(message.data)
        if orjson.loads(message.data).get("status") not in (None, "running"):
            return frames


@pytest.mark.parametrize("authoritative", [Side.LEGACY, Side.APP])
async def test_analysis_frames_through_the_proxy_equal_a_direct_connection(
    aiohttp_server: ServerFactory, tmp_path: Path, authoritative: Side
) -> None:
    gate = tmp_path / "go"
    urls = await _backends(aiohttp_server, tmp_path, gate)
    env = {"TA_AUTHORITATIVE_WS_ANALYSIS": authoritative.value, "SHADOWPROXY_WS_SETTLE_S": "30"}
    proxy = await start_proxy(aiohttp_server, urls[Side.LEGACY], urls[Side.APP], tmp_path, env)
    async with aiohttp.ClientSession() as session:
        started = await session.post(
            proxy.url("/api/analysis/start"), json={"ticker": "AAPL", "date": DAY}
        )
        task_id = (await started.json())["task_id"]  # the legacy side's id (analysis group)
        await proxy.sink.wait_for(1)  # the start's comparison: the two ids are correlated
        twin = proxy.ctx.correlation.twin(task_id, authoritative)
        assert twin is not None
        direct_url = f"{urls[authoritative]}/ws/analysis/{twin}"
        async with (
            session.ws_connect(direct_url) as direct,
            session.ws_connect(proxy.url(f"/ws/analysis/{task_id}")) as proxied,
        ):
            first = await proxied.receive_str()
            assert first == await direct.receive_str()
            gate.write_text("go")
            direct_frames = await _until_terminal(direct)
            proxied_frames = await _until_terminal(proxied)
            assert proxied_frames == direct_frames  # count, order and bytes
            assert len(direct_frames) >= 6  # every stage plus the terminal snapshot
            assert proxied.protocol is None
            ws_comparison = await _ws_comparison(proxy)
    assert ws_comparison.outcome is Outcome.MATCH, ws_comparison
    assert ws_comparison.exchange.authoritative is authoritative
    assert ws_comparison.task_id == task_id
    assert ws_comparison.frames[authoritative.value] == len(direct_frames) + 1


async def _ws_comparison(proxy: WsProxy) -> Comparison:
    """The websocket's comparison (the start route's comparison comes first)."""
    while True:
        found = [c for c in proxy.sink.comparisons if c.exchange.kind is ExchangeKind.WS]
        if found:
            return found[0]
        await proxy.sink.wait_for(len(proxy.sink.comparisons) + 1)


@pytest.mark.parametrize("authoritative", [Side.LEGACY, Side.APP])
async def test_orchestrator_replies_through_the_proxy_equal_a_direct_connection(
    aiohttp_server: ServerFactory, tmp_path: Path, authoritative: Side
) -> None:
    urls = await _backends(aiohttp_server, tmp_path, tmp_path / "go")
    env = {"TA_AUTHORITATIVE_WS_ORCHESTRATOR": authoritative.value}
    proxy = await start_proxy(aiohttp_server, urls[Side.LEGACY], urls[Side.APP], tmp_path, env)
    request = {"tickers": ["MSFT", "AAPL"], "date": DAY}
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"{urls[authoritative]}/ws/orchestrator") as direct:
            for _ in range(2):  # the first run of a ticker fills the kernel's caches
                await direct.send_json(request)
                expected = await direct.receive_str()
        async with session.ws_connect(proxy.url("/ws/orchestrator")) as proxied:
            await proxied.send_json(request)
            reply = await proxied.receive_str()
            [comparison] = await proxy.sink.wait_for(1)
    # each reply stamps the moment it was computed; everything else is the same, key order too
    assert _unstamped(reply) == _unstamped(expected)
    assert [s["ticker"] for s in orjson.loads(reply)["signals"]] == ["MSFT", "AAPL"]
    assert comparison.outcome is Outcome.MATCH, comparison
    assert comparison.frames == {"legacy": 1, "app": 1}


def _unstamped(reply: str) -> list[object]:
    """The reply's items in order, without the per-signal `timestamp` (either shape)."""
    document = orjson.loads(reply)
    for signal in document["signals"]:
        holder = signal.get("result", signal)
        assert holder.pop("timestamp")
    return list(_items(document))


def _items(value: object) -> Iterator[object]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _items(item)
    elif isinstance(value, list):
        for item in value:
            yield from _items(item)
    else:
        yield value


@pytest.mark.parametrize(
    ("path", "code", "reason"),
    [
        pytest.param(
            "/ws/analysis/AAPL_20260413_120000_abcdef", 4001, "Unauthorized", id="analysis"
        ),
        pytest.param("/ws/orchestrator", 4401, "", id="orchestrator"),
    ],
)
async def test_the_backends_auth_closes_reach_the_client_exactly(
    aiohttp_server: ServerFactory, tmp_path: Path, path: str, code: int, reason: str
) -> None:
    urls = await _backends(aiohttp_server, tmp_path, tmp_path / "go", DASHBOARD_API_KEY="k")
    proxy = await start_proxy(aiohttp_server, urls[Side.LEGACY], urls[Side.APP], tmp_path)
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(proxy.url(path + "?api_key=wrong")) as ws:
            closing = await ws.receive()
        async with session.ws_connect(f"{urls[Side.LEGACY]}{path}?api_key=wrong") as direct:
            direct_closing = await direct.receive()
    assert (closing.type, closing.data, closing.extra) == (aiohttp.WSMsgType.CLOSE, code, reason)
    assert (closing.data, closing.extra) == (direct_closing.data, direct_closing.extra)
