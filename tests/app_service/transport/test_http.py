"""Every HTTP route's framework behaviour: auth, errors, validation, CORS, traversal, config."""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from ..conftest import ClientFactory, base_environ

UNAUTHORIZED = {"detail": "Unauthorized: valid X-API-Key header required"}

PROTECTED = [
    pytest.param("GET", "/api/stocks/screen", id="screen"),
    pytest.param("POST", "/api/analysis/start", id="start"),
    pytest.param("GET", "/api/analysis/status/AAPL_20260413_120000_ab12cd", id="status"),
    pytest.param("GET", "/api/analysis/tasks", id="tasks"),
    pytest.param("DELETE", "/api/analysis/cancel/AAPL_20260413_120000_ab12cd", id="cancel"),
    pytest.param("GET", "/api/reports/list", id="reports-list"),
    pytest.param("GET", "/api/reports/AAPL/2026-04-13", id="report"),
    pytest.param("GET", "/api/reports/export", id="reports-export"),
    pytest.param("GET", "/api/reports/AAPL/2026-04-13/pdf", id="pdf"),
    pytest.param("GET", "/api/portfolio/watchlist", id="watchlist"),
    pytest.param("POST", "/api/portfolio/watchlist", id="watchlist-add"),
    pytest.param("DELETE", "/api/portfolio/watchlist/AAPL", id="watchlist-remove"),
    pytest.param("GET", "/api/portfolio/accounts", id="accounts"),
    pytest.param("POST", "/api/portfolio/accounts", id="accounts-add"),
    pytest.param("DELETE", "/api/portfolio/accounts/main", id="accounts-remove"),
    pytest.param("GET", "/api/portfolio/positions", id="positions"),
    pytest.param("POST", "/api/portfolio/positions", id="positions-add"),
    pytest.param("DELETE", "/api/portfolio/positions/AAPL?position_id=x", id="positions-rm"),
    pytest.param("GET", "/api/portfolio/positions/export", id="positions-export"),
    pytest.param("GET", "/api/portfolio/recommendations", id="recommendations"),
    pytest.param("GET", "/api/portfolio/recommendations/2026-04-13/AAPL", id="recommendation"),
    pytest.param("POST", "/api/portfolio/analyze", id="portfolio-analyze"),
    pytest.param("GET", "/api/_internal/dual_stats", id="dual-stats"),
]


@pytest.fixture
async def locked(make_client: ClientFactory) -> TestClient[Any, Any]:
    return await make_client(base_environ(DASHBOARD_API_KEY="s3cret", ANTHROPIC_API_KEY="prov"))


@pytest.mark.parametrize(("method", "path"), PROTECTED)
async def test_protected_routes_need_the_dashboard_key(
    locked: TestClient[Any, Any], method: str, path: str
) -> None:
    body = {"ticker": "AAPL", "account_name": "a", "shares": 1, "cost_price": 1}
    for headers in ({}, {"api-key": "wrong"}, {"X-API-Key": "s3cret"}, {"api-key": "prov"}):
        resp = await locked.request(method, path, json=body, headers=headers)
        assert resp.status == 401, headers
        assert await resp.json() == UNAUTHORIZED


async def test_the_right_key_passes(locked: TestClient[Any, Any]) -> None:
    resp = await locked.get("/api/analysis/tasks", headers={"api-key": "s3cret"})
    assert resp.status == 200


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param(
            "/", {"message": "TradingAgents Web Dashboard API", "version": "0.1.0"}, id="root"
        ),
        pytest.param("/health", {"status": "ok"}, id="health"),
        pytest.param("/api/config/check", {"configured": False}, id="config-check"),
    ],
)
async def test_public_routes(locked: TestClient[Any, Any], path: str, expected: Any) -> None:
    resp = await locked.get(path)
    assert resp.status == 200
    assert await resp.json() == expected


async def test_framework_errors(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/api/nothing/here")
    assert (resp.status, await resp.json()) == (404, {"detail": "Not Found"})
    assert resp.headers["Content-Type"] == "application/json"
    resp = await client.put("/health")
    assert (resp.status, await resp.json()) == (405, {"detail": "Method Not Allowed"})
    assert "GET" in resp.headers["Allow"]
    resp = await client.post("/api/portfolio/watchlist", json={"name": "no ticker"})
    assert resp.status == 500
    assert resp.content_type == "text/plain"
    assert await resp.text() == "Internal Server Error"
    resp = await client.post(
        "/api/portfolio/watchlist", data=io.BytesIO(b"{" + b" " * (1024 * 1024 + 1))
    )
    assert (resp.status, await resp.json()) == (413, {"detail": "Request body too large"})


@pytest.mark.parametrize(
    ("method", "path", "body", "detail"),
    [
        pytest.param(
            "POST",
            "/api/analysis/start",
            {"date": "2026-04-13"},
            [
                {
                    "type": "missing",
                    "loc": ["body", "ticker"],
                    "msg": "Field required",
                    "input": {"date": "2026-04-13"},
                }
            ],
            id="missing-ticker",
        ),
        pytest.param(
            "POST",
            "/api/analysis/start",
            ["AAPL"],
            [
                {
                    "type": "model_attributes_type",
                    "loc": ["body"],
                    "msg": "Input should be a valid dictionary or object to extract fields from",
                    "input": ["AAPL"],
                }
            ],
            id="start-not-an-object",
        ),
        pytest.param(
            "POST",
            "/api/portfolio/watchlist",
            "AAPL",
            [
                {
                    "type": "dict_type",
                    "loc": ["body"],
                    "msg": "Input should be a valid dictionary",
                    "input": "AAPL",
                }
            ],
            id="watchlist-not-an-object",
        ),
        pytest.param(
            "GET",
            "/api/reports/list?limit=0",
            None,
            [
                {
                    "type": "greater_than_equal",
                    "loc": ["query", "limit"],
                    "msg": "Input should be greater than or equal to 1",
                    "input": "0",
                    "ctx": {"ge": 1},
                }
            ],
            id="limit-zero",
        ),
        pytest.param(
            "GET",
            "/api/portfolio/recommendations?limit=501",
            None,
            [
                {
                    "type": "less_than_equal",
                    "loc": ["query", "limit"],
                    "msg": "Input should be less than or equal to 500",
                    "input": "501",
                    "ctx": {"le": 500},
                }
            ],
            id="limit-over-max",
        ),
        pytest.param(
            "GET",
            "/api/reports/list?offset=-1",
            None,
            [
                {
                    "type": "greater_than_equal",
                    "loc": ["query", "offset"],
                    "msg": "Input should be greater than or equal to 0",
                    "input": "-1",
                    "ctx": {"ge": 0},
                }
            ],
            id="negative-offset",
        ),
        pytest.param(
            "GET",
            "/api/reports/list?limit=ten",
            None,
            [
                {
                    "type": "int_parsing",
                    "loc": ["query", "limit"],
                    "msg": "Input should be a valid integer, unable to parse string as an integer",
                    "input": "ten",
                }
            ],
            id="limit-not-int",
        ),
    ],
)
async def test_validation_errors(
    client: TestClient[Any, Any], method: str, path: str, body: Any, detail: Any
) -> None:
    resp = await client.request(method, path, json=body)
    assert resp.status == 422
    assert await resp.json() == {"detail": detail}


async def test_malformed_json_is_422(client: TestClient[Any, Any]) -> None:
    resp = await client.post("/api/analysis/start", data=b'{"ticker": ')
    assert resp.status == 422
    (detail,) = (await resp.json())["detail"]
    assert detail["type"] == "json_invalid"
    assert detail["loc"][0] == "body"


@pytest.mark.parametrize(
    "ticker",
    [
        pytest.param("../etc", id="dotdot"),
        pytest.param("A/B", id="slash"),
        pytest.param("A\\B", id="backslash"),
        pytest.param("", id="empty"),
    ],
)
async def test_bad_ticker_is_400_and_creates_nothing(
    client: TestClient[Any, Any], data_dir: Path, ticker: str
) -> None:
    resp = await client.post("/api/analysis/start", json={"ticker": ticker})
    assert resp.status == 400
    assert isinstance((await resp.json())["detail"], str)
    assert list((data_dir / "task_status").glob("*.json")) == []


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/api/analysis/status/..%2F..%2Fapp", id="encoded-slash"),
        pytest.param("/api/analysis/status/..", id="dotdot"),
        pytest.param("/api/analysis/status/a%5Cb", id="encoded-backslash"),
        pytest.param("/api/analysis/status/%2e%2e", id="encoded-dots"),
    ],
)
async def test_task_id_traversal_is_404(client: TestClient[Any, Any], path: str) -> None:
    resp = await client.get(path)
    assert resp.status == 404


async def test_cors_allow_all(client: TestClient[Any, Any]) -> None:
    resp = await client.options(
        "/api/analysis/start",
        headers={
            "Origin": "http://ui.test",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "api-key, content-type",
        },
    )
    assert resp.status == 200
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert (
        resp.headers["Access-Control-Allow-Methods"]
        == "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"
    )
    assert resp.headers["Access-Control-Allow-Headers"] == "api-key, content-type"
    assert resp.headers["Access-Control-Max-Age"] == "600"
    assert "Access-Control-Allow-Credentials" not in resp.headers
    simple = await client.get("/health", headers={"Origin": "http://ui.test"})
    assert simple.headers["Access-Control-Allow-Origin"] == "*"


async def test_cors_origin_list(make_client: ClientFactory) -> None:
    client = await make_client(base_environ(CORS_ORIGINS="http://ok.test"))
    preflight = {"Access-Control-Request-Method": "GET"}
    bad = await client.options("/health", headers={"Origin": "http://evil.test", **preflight})
    assert (bad.status, await bad.text()) == (400, "Disallowed CORS origin")
    good = await client.options("/health", headers={"Origin": "http://ok.test", **preflight})
    assert good.headers["Access-Control-Allow-Origin"] == "http://ok.test"
    simple = await client.get("/health", headers={"Origin": "http://evil.test"})
    assert "Access-Control-Allow-Origin" not in simple.headers


async def test_not_implemented_routes(client: TestClient[Any, Any]) -> None:
    for path in ("/api/stocks/screen?mode=china_strict", "/api/reports/AAPL/2026-04-13/pdf"):
        resp = await client.get(path)
        assert resp.status == 501
        assert isinstance((await resp.json())["detail"], str)


async def test_api_key_setup_from_localhost(client: TestClient[Any, Any], data_dir: Path) -> None:
    resp = await client.post("/api/config/apikey", json={})
    assert (resp.status, await resp.json()) == (400, {"detail": "api_key is required"})
    resp = await client.post("/api/config/apikey", json={"api_key": "   "})
    assert (resp.status, await resp.json()) == (400, {"detail": "api_key cannot be empty"})
    resp = await client.post("/api/config/apikey", json={"api_key": "sk-1"})
    assert await resp.json() == {"ok": True, "saved": True}
    config = data_dir / "config.json"
    assert json.loads(config.read_text()) == {"api_key": "sk-1"}
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert await (await client.get("/api/config/check")).json() == {"configured": True}


async def test_api_key_setup_needs_the_dashboard_key_when_set(
    locked: TestClient[Any, Any],
) -> None:
    resp = await locked.post("/api/config/apikey", json={"api_key": "sk-1"})
    assert resp.status == 401
    resp = await locked.post(
        "/api/config/apikey", json={"api_key": "sk-1"}, headers={"api-key": "s3cret"}
    )
    assert await resp.json() == {"ok": True, "saved": True}


async def test_config_check_sees_the_provider_key(make_client: ClientFactory) -> None:
    env = base_environ(TRADINGAGENTS_LLM_PROVIDER="openai", OPENAI_API_KEY="sk-env")
    client = await make_client(env)
    assert await (await client.get("/api/config/check")).json() == {"configured": True}
