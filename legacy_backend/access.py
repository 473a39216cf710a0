"""Who may call what: the `api-key` check and the CORS policy, both as upstream configured them.

Auth is checked per route, not in a middleware, because FastAPI validated the request before the
handler ran its `_check_api_key`: a bad body is a 422 even without a key, and the proxy diffs
that ordering. CORS reproduces Starlette's CORSMiddleware with allow_methods/headers `*` and
credentials off, the upstream configuration.
"""

from __future__ import annotations

import hmac

from aiohttp import hdrs, web

from legacy_backend.errors import ApiError, Handler
from legacy_backend.state import SETTINGS

UNAUTHORIZED = "Unauthorized: valid X-API-Key header required"
PREFLIGHT_METHODS = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"
PREFLIGHT_MAX_AGE = "600"


def key_matches(required: str | None, offered: str | None) -> bool:
    """No required key: everyone passes. Otherwise only the exact, non-empty key does."""
    if not required:
        return True
    if not offered:
        return False
    return hmac.compare_digest(offered.encode("utf-8"), required.encode("utf-8"))


def require_auth(request: web.Request) -> None:
    """The upstream `api-key` header (FastAPI's `api_key` parameter); X-API-Key is not read."""
    if not key_matches(request.app[SETTINGS].dashboard_api_key, request.headers.get("api-key")):
        raise ApiError(401, UNAUTHORIZED)


def ws_authorized(request: web.Request) -> bool:
    return key_matches(request.app[SETTINGS].dashboard_api_key, request.query.get("api_key"))


def _origin_allowed(origins: tuple[str, ...], origin: str) -> bool:
    return "*" in origins or origin in origins


def _preflight(origins: tuple[str, ...], request: web.Request, origin: str) -> web.Response:
    if not _origin_allowed(origins, origin):
        return web.Response(status=400, text="Disallowed CORS origin", content_type="text/plain")
    response = web.Response(status=200, text="OK", content_type="text/plain")
    _allow_origin(origins, origin, response)
    response.headers["Access-Control-Allow-Methods"] = PREFLIGHT_METHODS
    response.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
    requested = request.headers.get(hdrs.ACCESS_CONTROL_REQUEST_HEADERS)
    if requested:
        response.headers["Access-Control-Allow-Headers"] = requested
    return response


def _allow_origin(origins: tuple[str, ...], origin: str, response: web.StreamResponse) -> None:
    if "*" in origins:
        response.headers["Access-Control-Allow-Origin"] = "*"
    else:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers.add(hdrs.VARY, "Origin")


@web.middleware
async def cors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    origin = request.headers.get(hdrs.ORIGIN)
    is_websocket = request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"
    if origin is None or is_websocket:
        return await handler(request)
    origins = request.app[SETTINGS].cors_origins
    if (
        request.method == hdrs.METH_OPTIONS
        and hdrs.ACCESS_CONTROL_REQUEST_METHOD in request.headers
    ):
        return _preflight(origins, request, origin)
    response = await handler(request)
    if _origin_allowed(origins, origin):
        _allow_origin(origins, origin, response)
    return response
