"""System, configuration and report routes.

Reports stay LEGACY-shaped in NEW (the historical report contract was never implemented), so
they must match the legacy backend byte for byte. Screening and PDF export depend on code that
is not part of this project; they answer 501 with a JSON `detail` rather than pretend.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from aiohttp import web

from app_service.persistence.task_files import atomic_write_json
from app_service.providers import resolve_provider_key
from app_service.transport.context import (
    LOCAL_HOSTS,
    REPORTS,
    SETTINGS,
    UNAUTHORIZED,
    key_matches,
    require_auth,
)
from app_service.transport.http import ApiError, json_response, pagination, read_json_body

routes = web.RouteTableDef()


@routes.get("/")
async def root(request: web.Request) -> web.Response:
    return json_response({"message": "TradingAgents Web Dashboard API", "version": "0.1.0"})


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


@routes.get("/api/config/check")
async def config_check(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    key = await asyncio.to_thread(
        resolve_provider_key, settings.environ, settings.llm_provider, settings.config_path
    )
    return json_response({"configured": key is not None})


def _save_key(path: Path, key: str) -> None:
    atomic_write_json(path, {"api_key": key})
    os.chmod(path, 0o600)


@routes.post("/api/config/apikey")
async def save_api_key(request: web.Request) -> web.Response:
    """With a dashboard key the caller must present it; without one, only localhost may."""
    settings = request.app[SETTINGS]
    if settings.dashboard_api_key:
        if not key_matches(settings, request.headers.get("api-key")):
            raise ApiError(401, UNAUTHORIZED)
    elif request.remote not in LOCAL_HOSTS:
        raise ApiError(403, "API key setup is only allowed from localhost")
    body = await read_json_body(request)
    key = body.get("api_key") if isinstance(body, dict) else None
    if not isinstance(key, str):
        raise ApiError(400, "api_key is required")
    if not key.strip():
        raise ApiError(400, "api_key cannot be empty")
    try:
        await asyncio.to_thread(_save_key, settings.config_path, key.strip())
    except OSError as exc:
        raise ApiError(500, f"Failed to save API key: {exc}") from None
    return json_response({"ok": True, "saved": True})


@routes.get("/api/stocks/screen")
async def screen(request: web.Request) -> web.Response:
    require_auth(request)
    raise ApiError(
        501, "Stock screening is not available: the SEPA screener is not part of this service"
    )


@routes.get("/api/reports/list")
async def list_reports(request: web.Request) -> web.Response:
    limit, offset = pagination(request)
    require_auth(request)
    return json_response(await request.app[REPORTS].list_reports(limit=limit, offset=offset))


@routes.get("/api/reports/export")
async def export_reports(request: web.Request) -> web.Response:
    require_auth(request)
    text = await request.app[REPORTS].export_csv()
    return web.Response(
        text=text,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": "attachment; filename=tradingagents_reports.csv"},
    )


@routes.get("/api/reports/{ticker}/{date}")
async def get_report(request: web.Request) -> web.Response:
    require_auth(request)
    ticker, date = request.match_info["ticker"], request.match_info["date"]
    return json_response(await request.app[REPORTS].get_report(ticker, date))


@routes.get("/api/reports/{ticker}/{date}/pdf")
async def report_pdf(request: web.Request) -> web.Response:
    require_auth(request)
    raise ApiError(501, "PDF export is not available in this service; use the markdown report")
