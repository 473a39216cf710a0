"""Framework-shaped answers: auth, CORS, 404/405/413/422/500 bodies and the small routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

ClientFactory = Any
UNAUTHORIZED = {"detail": "Unauthorized: valid X-API-Key header required"}


async def test_root_and_health(client: TestClient[web.Request, web.Application]) -> None:
    root = await client.get("/")
    assert await root.json() == {"message": "TradingAgents Web Dashboard API", "version": "0.1.0"}
    assert root.headers["Content-Type"] == "application/json"
    assert await (await client.get("/health")).read() == b'{"status":"ok"}'


@pytest.mark.parametrize(
    ("env", "configured"),
    [
        pytest.param({}, False, id="no-keys"),
        pytest.param({"ANTHROPIC_API_KEY": "a"}, True, id="anthropic"),
        pytest.param({"MINIMAX_API_KEY": "m"}, True, id="minimax"),
        pytest.param({"OPENAI_API_KEY": "o"}, False, id="openai-does-not-count"),
    ],
)
async def test_config_check(
    start_client: ClientFactory, env: dict[str, str], configured: bool
) -> None:
    client = await start_client({**env, "DASHBOARD_API_KEY": "d"})
    response = await client.get("/api/config/check")  # no auth on this route
    assert await response.json() == {"configured": configured}


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        pytest.param(None, 400, "api_key is required", id="no-body"),
        pytest.param({}, 400, "api_key is required", id="no-key"),
        pytest.param({"api_key": ""}, 400, "api_key is required", id="empty-key"),
        pytest.param({"api_key": "   "}, 400, "api_key cannot be empty", id="blank-key"),
        pytest.param(
            {"api_key": "sk"},
            500,
            "Failed to save API key: name '_tauri_invoke' is not defined",
            id="legacy-500",
        ),
    ],
)
async def test_save_api_key_reproduces_legacy(
    start_client: ClientFactory, body: dict[str, str] | None, status: int, detail: str
) -> None:
    client = await start_client({"DASHBOARD_API_KEY": "d"})  # LEGACY: no auth on this route
    response = (
        await client.post("/api/config/apikey", json=body)
        if body is not None
        else await client.post("/api/config/apikey")
    )
    assert (response.status, await response.json()) == (status, {"detail": detail})


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/api/stocks/screen?mode=china_strict", id="screen"),
        pytest.param("/api/reports/AAPL/2026-04-13/pdf", id="pdf"),
    ],
)
async def test_unimplemented_exports_are_501(
    client: TestClient[web.Request, web.Application], path: str
) -> None:
    response = await client.get(path)
    assert response.status == 501
    assert set(await response.json()) == {"detail"}


@pytest.mark.parametrize(
    ("env", "header", "status"),
    [
        pytest.param({}, None, 200, id="open-no-header"),
        pytest.param({}, "anything", 200, id="open-any-header"),
        pytest.param({"DASHBOARD_API_KEY": "k1"}, "k1", 200, id="dashboard-key"),
        pytest.param({"DASHBOARD_API_KEY": "k1"}, "k2", 401, id="wrong-key"),
        pytest.param({"DASHBOARD_API_KEY": "k1"}, None, 401, id="missing-header"),
        pytest.param({"DASHBOARD_API_KEY": "k1"}, "", 401, id="empty-header"),
        pytest.param({"ANTHROPIC_API_KEY": "ak"}, "ak", 200, id="anthropic-fallback"),
        pytest.param({"ANTHROPIC_API_KEY": "ak"}, None, 401, id="anthropic-fallback-locks"),
        pytest.param(
            {"DASHBOARD_API_KEY": "k1", "ANTHROPIC_API_KEY": "ak"}, "ak", 401, id="dashboard-wins"
        ),
    ],
)
async def test_api_key_header(
    start_client: ClientFactory, env: dict[str, str], header: str | None, status: int
) -> None:
    client = await start_client(env)
    headers = {"api-key": header} if header is not None else {}
    response = await client.get("/api/analysis/tasks", headers=headers)
    assert response.status == status
    if status == 401:
        assert await response.json() == UNAUTHORIZED


async def test_x_api_key_header_is_not_read(start_client: ClientFactory) -> None:
    client = await start_client({"DASHBOARD_API_KEY": "k1"})
    response = await client.get("/api/portfolio/watchlist", headers={"X-API-Key": "k1"})
    assert (response.status, await response.json()) == (401, UNAUTHORIZED)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("GET", "/api/stocks/screen", id="screen"),
        pytest.param("POST", "/api/analysis/start", id="start"),
        pytest.param("GET", "/api/analysis/status/x", id="status"),
        pytest.param("DELETE", "/api/analysis/cancel/x", id="cancel"),
        pytest.param("GET", "/api/reports/list", id="reports"),
        pytest.param("GET", "/api/reports/export", id="export"),
        pytest.param("GET", "/api/reports/A/2026-01-01", id="report"),
        pytest.param("GET", "/api/portfolio/accounts", id="accounts"),
        pytest.param("DELETE", "/api/portfolio/positions/A?position_id=p", id="position-delete"),
        pytest.param("GET", "/api/portfolio/positions/export", id="positions-export"),
        pytest.param("GET", "/api/portfolio/recommendations", id="recommendations"),
        pytest.param("POST", "/api/portfolio/analyze", id="batch"),
    ],
)
async def test_every_guarded_route_needs_the_key(
    start_client: ClientFactory, method: str, path: str
) -> None:
    client = await start_client({"DASHBOARD_API_KEY": "k1"})
    kwargs: dict[str, Any] = {"json": {"ticker": "AAPL"}} if method == "POST" else {}
    response = await client.request(method, path, **kwargs)
    assert (response.status, await response.json()) == (401, UNAUTHORIZED)


async def test_validation_runs_before_auth(start_client: ClientFactory) -> None:
    client = await start_client({"DASHBOARD_API_KEY": "k1"})
    response = await client.post("/api/analysis/start", json={"date": "2026-04-13"})
    assert response.status == 422


async def test_unknown_path_and_wrong_method(
    client: TestClient[web.Request, web.Application],
) -> None:
    missing = await client.get("/api/nope")
    assert (missing.status, await missing.json()) == (404, {"detail": "Not Found"})
    wrong = await client.put("/health")
    assert (wrong.status, await wrong.json()) == (405, {"detail": "Method Not Allowed"})
    head = await client.head("/health")  # FastAPI adds no implicit HEAD to GET routes
    assert head.status == 405


@pytest.mark.parametrize(
    ("body", "content", "detail"),
    [
        pytest.param(
            b"{}",
            "application/json",
            [{"type": "missing", "loc": ["body", "ticker"], "msg": "Field required", "input": {}}],
            id="missing-ticker",
        ),
        pytest.param(
            b'{"ticker": 5}',
            "application/json",
            [
                {
                    "type": "string_type",
                    "loc": ["body", "ticker"],
                    "msg": "Input should be a valid string",
                    "input": 5,
                }
            ],
            id="ticker-not-string",
        ),
        pytest.param(
            b"[1]",
            "application/json",
            [
                {
                    "type": "model_attributes_type",
                    "loc": ["body"],
                    "msg": "Input should be a valid dictionary or object to extract fields from",
                    "input": [1],
                }
            ],
            id="not-an-object",
        ),
        pytest.param(
            b'{"ticker":',
            "application/json",
            [
                {
                    "type": "json_invalid",
                    "loc": ["body", 10],
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": "Expecting value"},
                }
            ],
            id="malformed-json",
        ),
        pytest.param(
            b"",
            "application/json",
            [{"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}],
            id="no-body",
        ),
    ],
)
async def test_start_validation_errors(
    client: TestClient[web.Request, web.Application], body: bytes, content: str, detail: Any
) -> None:
    response = await client.post(
        "/api/analysis/start", data=body, headers={"Content-Type": content}
    )
    assert (response.status, await response.json()) == (422, {"detail": detail})


async def test_dict_body_routes_reject_non_objects(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.post("/api/portfolio/watchlist", json=["AAPL"])
    expected = [
        {
            "type": "dict_type",
            "loc": ["body"],
            "msg": "Input should be a valid dictionary",
            "input": ["AAPL"],
        }
    ]
    assert (response.status, await response.json()) == (422, {"detail": expected})


async def _oversized_body() -> AsyncIterator[bytes]:
    yield b'{"ticker":"'
    for _ in range(17):
        yield b"A" * 65536
    yield b'"}'


async def test_oversized_body_is_413_json(client: TestClient[web.Request, web.Application]) -> None:
    response = await client.post(
        "/api/analysis/start", data=_oversized_body(), headers={"Content-Type": "application/json"}
    )
    assert response.status == 413
    assert set(await response.json()) == {"detail"}


async def test_uncaught_key_error_is_plain_500(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.post("/api/portfolio/watchlist", json={"name": "no ticker"})
    assert response.status == 500
    assert response.headers["Content-Type"].startswith("text/plain")
    assert await response.text() == "Internal Server Error"


@pytest.mark.parametrize(
    ("origins", "origin", "status", "allow_origin"),
    [
        pytest.param("*", "http://ui.example", 200, "*", id="all-origins"),
        pytest.param(
            "http://a.example, http://b.example",
            "http://b.example",
            200,
            "http://b.example",
            id="listed",
        ),
        pytest.param("http://a.example", "http://evil.example", 400, None, id="disallowed"),
    ],
)
async def test_cors_preflight(
    start_client: ClientFactory, origins: str, origin: str, status: int, allow_origin: str | None
) -> None:
    client = await start_client({"CORS_ORIGINS": origins})
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "api-key, content-type",
    }
    response = await client.options("/api/analysis/start", headers=headers)
    assert response.status == status
    if status == 400:
        assert await response.text() == "Disallowed CORS origin"
        return
    assert response.headers["Access-Control-Allow-Origin"] == allow_origin
    assert (
        response.headers["Access-Control-Allow-Methods"]
        == "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"
    )
    assert response.headers["Access-Control-Allow-Headers"] == "api-key, content-type"
    assert response.headers["Access-Control-Max-Age"] == "600"
    assert "Access-Control-Allow-Credentials" not in response.headers


@pytest.mark.parametrize(
    ("origins", "origin", "allow_origin"),
    [
        pytest.param("*", "http://ui.example", "*", id="all-origins"),
        pytest.param("http://a.example", "http://a.example", "http://a.example", id="listed"),
        pytest.param("http://a.example", "http://evil.example", None, id="not-listed"),
    ],
)
async def test_cors_simple_request(
    start_client: ClientFactory, origins: str, origin: str, allow_origin: str | None
) -> None:
    client = await start_client({"CORS_ORIGINS": origins})
    response = await client.get("/health", headers={"Origin": origin})
    assert response.status == 200
    assert response.headers.get("Access-Control-Allow-Origin") == allow_origin
