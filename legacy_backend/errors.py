"""FastAPI-shaped errors on aiohttp: every failure a client can see has the upstream body.

The upstream backend got these shapes for free from FastAPI/Starlette; the proxy diffs status and
body, so an aiohttp default (HTML 404, text 405, traceback 500) would be a false mismatch on
every error path. Handlers raise `ApiError`; `error_middleware` renders it and maps aiohttp's own
HTTP exceptions and any unhandled exception to the Starlette bodies.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web

log = structlog.get_logger("legacy_backend.errors")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """An HTTPException in FastAPI terms: a status and a `detail` (text or validation list)."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


def dumps(payload: Any) -> bytes:
    """Starlette's JSONResponse rendering: compact, UTF-8, non-ASCII kept as is."""
    return json.dumps(
        payload, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


def json_response(payload: Any, status: int = 200) -> web.Response:
    return web.Response(body=dumps(payload), status=status, content_type="application/json")


def detail_response(status: int, detail: Any) -> web.Response:
    return json_response({"detail": detail}, status=status)


def _plain_500() -> web.Response:
    return web.Response(status=500, text="Internal Server Error", content_type="text/plain")


def internal_error(event: str, **context: Any) -> web.Response:
    """Starlette's answer to an exception upstream left uncaught, after logging what happened."""
    log.error(event, **context)
    return _plain_500()


def _framework_error(exc: web.HTTPException) -> web.Response:
    if isinstance(exc, web.HTTPNotFound):
        return detail_response(404, "Not Found")
    if isinstance(exc, web.HTTPMethodNotAllowed):
        response = detail_response(405, "Method Not Allowed")
        response.headers["Allow"] = ", ".join(sorted(exc.allowed_methods))
        return response
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return detail_response(413, "Request body too large")
    return detail_response(exc.status, exc.reason)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return detail_response(exc.status, exc.detail)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _framework_error(exc)
    except Exception:
        log.exception("unhandled_exception", method=request.method, path=request.path)
        return _plain_500()
