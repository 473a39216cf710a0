"""The small routes: root message, health, provider-key check, key saving and screening.

`POST /api/config/apikey` reproduces LEGACY exactly: it validated the body and then called a
helper that did not exist, so every well-formed request ended in the same 500. Screening needed
a module upstream never shipped (always a 500 there); here it says so with a 501.
"""

from __future__ import annotations

from aiohttp import web

from legacy_backend.access import require_auth
from legacy_backend.errors import ApiError, json_response
from legacy_backend.state import SETTINGS
from legacy_backend.validation import read_optional_dict_body

ROOT_MESSAGE = {"message": "TradingAgents Web Dashboard API", "version": "0.1.0"}
LEGACY_SAVE_FAILURE = "Failed to save API key: name '_tauri_invoke' is not defined"


async def root(request: web.Request) -> web.Response:
    return json_response(ROOT_MESSAGE)


async def health(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def config_check(request: web.Request) -> web.Response:
    return json_response({"configured": request.app[SETTINGS].provider_configured})


async def save_api_key(request: web.Request) -> web.Response:
    body = await read_optional_dict_body(request)
    key = body.get("api_key") if body is not None else None
    if not isinstance(key, str) or not key:
        raise ApiError(400, "api_key is required")
    if not key.strip():
        raise ApiError(400, "api_key cannot be empty")
    raise ApiError(500, LEGACY_SAVE_FAILURE)


async def screen_stocks(request: web.Request) -> web.Response:
    require_auth(request)
    raise ApiError(501, "Stock screening is not implemented in this backend")
