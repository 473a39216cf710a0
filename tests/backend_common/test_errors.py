"""Starlette-shaped bodies and the error-middleware skeleton, on a real aiohttp server."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Any

import pytest
import structlog
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from structlog.testing import capture_logs

from backend_common.errors import (
    detail_response,
    dumps_json,
    error_middleware,
    framework_error,
    json_response,
)

log = structlog.get_logger("tests.backend_common.errors")


class Teapot(Exception):
    """A backend's own error, rendered by its `known` hook."""


def known(exc: Exception) -> web.StreamResponse | None:
    if isinstance(exc, Teapot):
        return detail_response(418, str(exc))
    return None


async def ok(_request: web.Request) -> web.StreamResponse:
    return json_response({"ok": True})


async def teapot(_request: web.Request) -> web.StreamResponse:
    raise Teapot("short and stout")


async def bad_request(_request: web.Request) -> web.StreamResponse:
    raise web.HTTPBadRequest(reason="Nope")


async def redirect(_request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/ok")


async def crash(_request: web.Request) -> web.StreamResponse:
    raise RuntimeError("bug")


async def echo(request: web.Request) -> web.StreamResponse:
    return json_response({"size": len(await request.read())})


@pytest.fixture
async def client() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = web.Application(
        middlewares=[error_middleware(known, log=log, event="unhandled_test_error")],
        client_max_size=16,
    )
    app.router.add_get("/ok", ok)
    app.router.add_get("/teapot", teapot)
    app.router.add_get("/bad", bad_request)
    app.router.add_get("/redirect", redirect)
    app.router.add_get("/crash", crash)
    app.router.add_post("/echo", echo)
    app.router.add_put("/echo", echo)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("method", "path", "data", "status", "body"),
    [
        pytest.param("GET", "/ok", None, 200, b'{"ok":true}', id="handled"),
        pytest.param("GET", "/teapot", None, 418, b'{"detail":"short and stout"}', id="known"),
        pytest.param("GET", "/nowhere", None, 404, b'{"detail":"Not Found"}', id="no-route"),
        pytest.param("GET", "/bad", None, 400, b'{"detail":"Nope"}', id="http-error-reason"),
        pytest.param(
            "POST", "/echo", b"x" * 17, 413, b'{"detail":"Request body too large"}', id="too-large"
        ),
        pytest.param("POST", "/echo", b"x" * 8, 200, b'{"size":8}', id="under-the-limit"),
    ],
)
async def test_every_answer_is_a_json_body(
    client: TestClient[web.Request, web.Application],
    method: str,
    path: str,
    data: bytes | None,
    status: int,
    body: bytes,
) -> None:
    response = await client.request(method, path, data=data)
    assert (response.status, await response.read()) == (status, body)
    assert response.headers["Content-Type"] == "application/json"


async def test_wrong_method_is_a_405_with_the_sorted_allow_header(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.delete("/echo")
    assert (response.status, await response.read()) == (405, b'{"detail":"Method Not Allowed"}')
    assert response.headers["Allow"] == "POST, PUT"


async def test_a_redirect_is_not_an_error(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.get("/redirect", allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (302, "/ok")


async def test_an_unhandled_exception_is_logged_and_a_plain_500(
    client: TestClient[web.Request, web.Application],
) -> None:
    with capture_logs() as logs:
        response = await client.get("/crash")
        body = await response.text()
    assert (response.status, body) == (500, "Internal Server Error")
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "bug" not in body
    assert logs == [
        {
            "event": "unhandled_test_error",
            "log_level": "error",
            "method": "GET",
            "path": "/crash",
            "exc_info": True,
        }
    ]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param({"a": 1, "b": [1, 2]}, '{"a":1,"b":[1,2]}', id="compact"),
        pytest.param({"名": "贵州茅台"}, '{"名":"贵州茅台"}', id="non-ascii-kept"),
        pytest.param({"x": None, "y": 1.5}, '{"x":null,"y":1.5}', id="null-and-float"),
        pytest.param([], "[]", id="empty-list"),
    ],
)
def test_json_is_rendered_as_starlette_renders_it(value: Any, text: str) -> None:
    assert dumps_json(value) == text
    assert json_response(value).body == text.encode("utf-8")


@pytest.mark.parametrize(
    "value", [pytest.param(math.nan, id="nan"), pytest.param(math.inf, id="infinity")]
)
def test_non_finite_numbers_are_refused(value: float) -> None:
    with pytest.raises(ValueError, match="JSON compliant"):
        dumps_json({"x": value})


@pytest.mark.parametrize(
    ("exc", "status", "body"),
    [
        pytest.param(web.HTTPNotFound(), 404, b'{"detail":"Not Found"}', id="not-found"),
        pytest.param(
            web.HTTPRequestEntityTooLarge(max_size=1, actual_size=2),
            413,
            b'{"detail":"Request body too large"}',
            id="too-large",
        ),
        pytest.param(web.HTTPForbidden(), 403, b'{"detail":"Forbidden"}', id="reason-phrase"),
        pytest.param(web.HTTPConflict(reason="Taken"), 409, b'{"detail":"Taken"}', id="reason"),
    ],
)
def test_framework_errors_use_starlette_bodies(
    exc: web.HTTPException, status: int, body: bytes
) -> None:
    response = framework_error(exc)
    assert (response.status, response.body) == (status, body)
