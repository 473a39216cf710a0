"""Websocket routes: auth close codes, ping/pong, bad input, and the orchestrator signals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient

ClientFactory = Any


@pytest.mark.parametrize(
    ("path", "code"),
    [
        pytest.param("/ws/analysis/any", 4001, id="analysis"),
        pytest.param("/ws/orchestrator", 4401, id="orchestrator"),
    ],
)
@pytest.mark.parametrize(
    "query", [pytest.param("", id="no-key"), pytest.param("?api_key=wrong", id="wrong-key")]
)
async def test_unauthorized_socket_is_closed_with_upstream_code(
    start_client: ClientFactory, path: str, code: int, query: str
) -> None:
    client = await start_client({"DASHBOARD_API_KEY": "k1"})
    async with client.ws_connect(path + query) as ws:
        message = await ws.receive()
    assert message.type is WSMsgType.CLOSE
    assert message.data == code
    assert message.extra == ("Unauthorized" if code == 4001 else "")


async def test_authorized_socket_with_anthropic_fallback_key(start_client: ClientFactory) -> None:
    client = await start_client({"ANTHROPIC_API_KEY": "ak"})
    async with client.ws_connect("/ws/analysis/unknown?api_key=ak") as ws:
        await ws.send_str('{"type":"ping"}')
        assert await ws.receive_json() == {"type": "pong"}


async def test_unknown_task_gets_no_snapshot_but_answers_pings(
    client: TestClient[web.Request, web.Application],
) -> None:
    async with client.ws_connect("/ws/analysis/nobody") as ws:
        await ws.send_str('{"type":"ping"}')
        assert await ws.receive_json() == {"type": "pong"}


@pytest.mark.parametrize(
    "frame",
    [pytest.param("not json", id="text"), pytest.param("{", id="truncated")],
)
async def test_non_json_ends_that_socket_only(
    client: TestClient[web.Request, web.Application], frame: str
) -> None:
    async with client.ws_connect("/ws/analysis/x") as ws:
        await ws.send_str(frame)
        message = await ws.receive()
    assert (message.type, message.data) == (WSMsgType.CLOSE, 1011)
    assert (await client.get("/health")).status == 200
    async with client.ws_connect("/ws/analysis/x") as again:
        await again.send_str('{"type":"ping"}')
        assert await again.receive_json() == {"type": "pong"}


async def test_orchestrator_signals_keep_ticker_order_and_legacy_shape(
    client: TestClient[web.Request, web.Application],
) -> None:
    async with client.ws_connect("/ws/orchestrator") as ws:
        await ws.send_json({"tickers": ["MSFT", "AAPL"], "date": "2026-04-13"})
        reply = await ws.receive_json()
        await ws.send_json({"type": "ping"})
        empty = await ws.receive_json()
    assert list(reply) == ["signals"]
    first, second = reply["signals"]
    assert (first["ticker"], second["ticker"]) == ("MSFT", "AAPL")
    assert list(first) == [
        "ticker",
        "date",
        "direction",
        "confidence",
        "quant_direction",
        "llm_direction",
        "timestamp",
    ]
    assert first["date"] == "2026-04-13"
    assert first["direction"] in {-1, 0, 1}
    assert 0.0 <= first["confidence"] <= 1.0
    assert datetime.fromisoformat(first["timestamp"]).utcoffset() is not None
    assert "contract_version" not in first
    assert empty == {"signals": []}


async def test_orchestrator_failure_is_a_per_ticker_error(start_client: ClientFactory) -> None:
    client = await start_client({"TA_FAULT_LLM": "fail", "TA_FAULT_QUANT": "fail"})
    async with client.ws_connect("/ws/orchestrator") as ws:
        await ws.send_json({"tickers": ["AAPL"], "date": "2026-04-13"})
        reply = await ws.receive_json()
    assert reply == {
        "signals": [
            {"ticker": "AAPL", "date": "2026-04-13", "error": "both quant and llm signals are None"}
        ]
    }


async def test_orchestrator_one_lane_down_gives_null_direction(start_client: ClientFactory) -> None:
    client = await start_client({"TA_FAULT_QUANT": "fail"})
    async with client.ws_connect("/ws/orchestrator") as ws:
        await ws.send_json({"tickers": ["AAPL"], "date": "2026-04-13"})
        [signal] = (await ws.receive_json())["signals"]
    assert signal["quant_direction"] is None
    assert signal["llm_direction"] in {-1, 0, 1}


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        pytest.param("nope", "Expecting value: line 1 column 1 (char 0)", id="invalid-json"),
        pytest.param("[1]", "'list' object has no attribute 'get'", id="not-an-object"),
        pytest.param(
            '{"tickers":["A"],"date":"../../x"}',
            "date must be a YYYY-MM-DD string",
            id="date-traversal",
        ),
    ],
)
async def test_orchestrator_bad_request_sends_error_and_closes(
    client: TestClient[web.Request, web.Application], frame: str, error: str
) -> None:
    async with client.ws_connect("/ws/orchestrator") as ws:
        await ws.send_str(frame)
        assert await ws.receive_json() == {"error": error}
        closing = await ws.receive()
    assert closing.type is WSMsgType.CLOSE


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/ws/analysis/x", id="analysis"),
        pytest.param("/ws/orchestrator", id="orchestrator"),
    ],
)
async def test_plain_http_on_a_websocket_route_is_404(
    client: TestClient[web.Request, web.Application], path: str
) -> None:
    response = await client.get(path)
    assert (response.status, await response.json()) == (404, {"detail": "Not Found"})
