"""FastAPI-shaped HTTP behaviour on aiohttp: error bodies, validation details, CORS, body limit.

The dashboard (and the proxy diffing us against the legacy backend) expects what Starlette
and FastAPI produce for free: `{"detail": ...}` errors, 422 lists of pydantic-style details,
404/405 JSON, a text/plain 500 and CORS preflights. Handlers raise `ApiError` or
`ValidationFailed`, services raise `NotFoundError` (404) or `RejectedError` (400); the
middlewares here turn everything into those shapes. The JSON, `detail` and framework-error
rendering is `backend_common.errors`, shared byte for byte with the legacy backend.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import structlog
from aiohttp import web

from app_service.errors import NotFoundError, RejectedError
from backend_common import errors as common
from backend_common.errors import Handler, detail_response
from backend_common.errors import dumps_json as dumps_json
from backend_common.errors import json_response as json_response

log = structlog.get_logger(__name__)

CORS_METHODS = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"


class ApiError(Exception):
    """An explicit HTTP error with a FastAPI `detail` string."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class ValidationFailed(Exception):
    """Request validation failed; `details` are pydantic-style dicts (type, loc, msg, input)."""

    def __init__(self, details: Sequence[dict[str, Any]]) -> None:
        super().__init__("validation failed")
        self.details = list(details)


def _known(exc: Exception) -> web.StreamResponse | None:
    """Handler and service errors: ApiError as given, 404, 400, and the 422 detail list."""
    if isinstance(exc, ApiError):
        return detail_response(exc.status, exc.detail)
    if isinstance(exc, NotFoundError):
        return detail_response(404, exc.detail)
    if isinstance(exc, RejectedError):
        return detail_response(400, exc.detail)
    if isinstance(exc, ValidationFailed):
        return detail_response(422, exc.details)
    return None


error_middleware = common.error_middleware(_known, log=log, event="unhandled_error")


def cors_middleware(
    origins: tuple[str, ...] | None,
) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Starlette CORSMiddleware semantics: `None` allows every origin, credentials are off."""

    def allowed(origin: str) -> bool:
        return origins is None or origin in origins

    def allow_origin_value(origin: str) -> str:
        return "*" if origins is None else origin

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        preflight = (
            request.method == "OPTIONS"
            and origin is not None
            and "Access-Control-Request-Method" in request.headers
        )
        if preflight and origin is not None:
            if not allowed(origin):
                return web.Response(status=400, text="Disallowed CORS origin")
            headers = {
                "Access-Control-Allow-Origin": allow_origin_value(origin),
                "Access-Control-Allow-Methods": CORS_METHODS,
                "Access-Control-Max-Age": "600",
            }
            requested = request.headers.get("Access-Control-Request-Headers")
            if requested:
                headers["Access-Control-Allow-Headers"] = requested
            if origins is not None:
                headers["Vary"] = "Origin"
            return web.Response(status=200, text="OK", headers=headers)
        response = await handler(request)
        if origin is not None and allowed(origin) and not response.prepared:
            response.headers["Access-Control-Allow-Origin"] = allow_origin_value(origin)
            if origins is not None:
                response.headers["Vary"] = "Origin"
        return response

    return middleware


async def read_json_body(request: web.Request) -> Any:
    """The body as JSON, `None` when empty; malformed JSON is FastAPI's `json_invalid` 422."""
    raw = await request.read()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        position = getattr(exc, "pos", 0)
        raise ValidationFailed(
            [
                {
                    "type": "json_invalid",
                    "loc": ["body", position],
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": getattr(exc, "msg", str(exc))},
                }
            ]
        ) from None


async def read_object_body(request: web.Request) -> dict[str, Any]:
    """A body declared as a dict: anything but a JSON object is a 422."""
    body = await read_json_body(request)
    if body is None:
        raise ValidationFailed(
            [{"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}]
        )
    if not isinstance(body, dict):
        raise ValidationFailed(
            [
                {
                    "type": "dict_type",
                    "loc": ["body"],
                    "msg": "Input should be a valid dictionary",
                    "input": body,
                }
            ]
        )
    return body


def query_int(request: web.Request, name: str, *, default: int, ge: int, le: int | None) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    loc = ["query", name]
    try:
        value = int(raw.strip())
    except ValueError:
        raise ValidationFailed(
            [
                {
                    "type": "int_parsing",
                    "loc": loc,
                    "msg": "Input should be a valid integer, unable to parse string as an integer",
                    "input": raw,
                }
            ]
        ) from None
    if value < ge:
        raise ValidationFailed(
            [
                {
                    "type": "greater_than_equal",
                    "loc": loc,
                    "msg": f"Input should be greater than or equal to {ge}",
                    "input": raw,
                    "ctx": {"ge": ge},
                }
            ]
        )
    if le is not None and value > le:
        raise ValidationFailed(
            [
                {
                    "type": "less_than_equal",
                    "loc": loc,
                    "msg": f"Input should be less than or equal to {le}",
                    "input": raw,
                    "ctx": {"le": le},
                }
            ]
        )
    return value


DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


def pagination(request: web.Request) -> tuple[int, int]:
    limit = query_int(request, "limit", default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    offset = query_int(request, "offset", default=0, ge=0, le=None)
    return limit, offset
