"""Typed application state shared by the route modules, and the dashboard key check.

Handlers find their services through these `web.AppKey`s; `create_app` is the only writer.
The key check is the NEW rule: `DASHBOARD_API_KEY` only (LEGACY also accepted the provider
key), compared in constant time.
"""

from __future__ import annotations

import hmac

from aiohttp import web

from app_service.analysis import AnalysisService
from app_service.jobs import JobService
from app_service.live import LiveSignalService
from app_service.portfolio import PortfolioService
from app_service.reports import ReportService
from app_service.settings import Settings
from app_service.transport.http import ApiError

SETTINGS = web.AppKey("settings", Settings)
ANALYSIS = web.AppKey("analysis", AnalysisService)
JOBS = web.AppKey("jobs", JobService)
PORTFOLIO = web.AppKey("portfolio", PortfolioService)
LIVE = web.AppKey("live", LiveSignalService)
REPORTS = web.AppKey("reports", ReportService)

UNAUTHORIZED = "Unauthorized: valid X-API-Key header required"
LOCAL_HOSTS = frozenset({"127.0.0.1", "::1", "localhost", "testclient"})


def key_matches(settings: Settings, provided: str | None) -> bool:
    required = settings.dashboard_api_key
    if not required:
        return True
    if not provided:
        return False
    return hmac.compare_digest(provided.encode(), required.encode())


def require_auth(request: web.Request) -> None:
    if not key_matches(request.app[SETTINGS], request.headers.get("api-key")):
        raise ApiError(401, UNAUTHORIZED)
