"""Starlette-shaped JSON and error responses on aiohttp, the part both backends render alike.

The upstream backends got these shapes for free from FastAPI/Starlette and the proxy diffs status
and body, so both backends must render a JSON body, a `{"detail": ...}` error, aiohttp's own
404/405/413 refusals and an unhandled exception byte for byte the same way. The two copies were
identical; each backend still owns its exception classes (legacy's `ApiError` carries any
`detail`, the app service's a string plus its domain errors) and says how they map, through the
`known` hook of `error_middleware`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware
from structlog.typing import FilteringBoundLogger

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
KnownErrors = Callable[[Exception], web.StreamResponse | None]


def dumps_json(value: Any) -> str:
    """Starlette's JSONResponse rendering: compact separators, non-ASCII kept as is, no NaN."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def json_response(value: Any, status: int = 200) -> web.Response:
    """`application/json` without a charset parameter, as Starlette sends it."""
    return web.Response(
        body=dumps_json(value).encode("utf-8"), status=status, content_type="application/json"
    )


def detail_response(status: int, detail: Any) -> web.Response:
    """FastAPI's HTTPException body: `{"detail": ...}`."""
    return json_response({"detail": detail}, status=status)


def internal_server_error() -> web.Response:
    """Starlette's answer to an exception nobody caught: a plain-text 500, no traceback."""
    return web.Response(status=500, text="Internal Server Error", content_type="text/plain")


def framework_error(exc: web.HTTPException) -> web.Response:
    """aiohttp's own refusals (no route, wrong method, body too large), rendered as Starlette's."""
    if isinstance(exc, web.HTTPNotFound):
        return detail_response(404, "Not Found")
    if isinstance(exc, web.HTTPMethodNotAllowed):
        response = detail_response(405, "Method Not Allowed")
        response.headers["Allow"] = ", ".join(sorted(exc.allowed_methods))
        return response
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return detail_response(413, "Request body too large")
    return detail_response(exc.status, exc.reason)


def error_middleware(known: KnownErrors, *, log: FilteringBoundLogger, event: str) -> Middleware:
    """The middleware both backends install first.

    `known(exc)` renders the backend's own exceptions (or returns None); aiohttp's HTTP errors
    (status >= 400) become `framework_error`, redirects and other < 400 exceptions propagate, and
    anything else is logged as `event` with the method and path and answered with a plain 500.
    """

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return framework_error(exc)
        except Exception as exc:
            response = known(exc)
            if response is not None:
                return response
            log.exception(event, method=request.method, path=request.path)
            return internal_server_error()

    return middleware
