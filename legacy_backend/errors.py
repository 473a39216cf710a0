"""FastAPI-shaped errors on aiohttp: every failure a client can see has the upstream body.

The upstream backend got these shapes for free from FastAPI/Starlette; the proxy diffs status and
body, so an aiohttp default (HTML 404, text 405, traceback 500) would be a false mismatch on
every error path. Handlers raise `ApiError`; `error_middleware` renders it and maps aiohttp's own
HTTP exceptions and any unhandled exception to the Starlette bodies. The rendering itself is
`backend_common.errors`, shared byte for byte with the app service.
"""

from __future__ import annotations

from typing import Any

import structlog
from aiohttp import web

from backend_common import errors as common
from backend_common.errors import Handler as Handler
from backend_common.errors import detail_response
from backend_common.errors import json_response as json_response

log = structlog.get_logger("legacy_backend.errors")


class ApiError(Exception):
    """An HTTPException in FastAPI terms: a status and a `detail` (text or validation list)."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


def dumps(payload: Any) -> bytes:
    """Starlette's JSONResponse rendering: compact, UTF-8, non-ASCII kept as is."""
    return common.dumps_json(payload).encode("utf-8")


def internal_error(event: str, **context: Any) -> web.Response:
    """Starlette's answer to an exception upstream left uncaught, after logging what happened."""
    log.error(event, **context)
    return common.internal_server_error()


def _known(exc: Exception) -> web.StreamResponse | None:
    if isinstance(exc, ApiError):
        return detail_response(exc.status, exc.detail)
    return None


error_middleware = common.error_middleware(_known, log=log, event="unhandled_exception")
