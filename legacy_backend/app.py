"""`create_app(settings)`: the route table, middlewares and the resources' lifetimes.

Routes are declared in upstream order (FastAPI matched in declaration order; aiohttp resolves
fixed paths before variable ones, which gives the same answers here). Restored task states and
the kernel are set up in `cleanup_ctx`, and its exit kills live analysis subprocesses before
cancelling the jobs that watch them, so a stopped server leaves no orphan process behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import structlog
from aiohttp import WSCloseCode, web

from legacy_backend import analysis_routes, portfolio_routes, reports, system_routes
from legacy_backend.access import cors_middleware
from legacy_backend.errors import Handler, error_middleware
from legacy_backend.kernel import KERNEL, Kernel
from legacy_backend.portfolio_batch import analyze_portfolio
from legacy_backend.portfolio_store import PortfolioStore
from legacy_backend.settings import MAX_BODY_BYTES, Settings
from legacy_backend.state import RUNTIME, SETTINGS, Runtime
from legacy_backend.task_store import TaskStore
from legacy_backend.websockets import ws_analysis, ws_orchestrator

log = structlog.get_logger("legacy_backend.app")


def _get(path: str, handler: Handler) -> web.RouteDef:
    return web.get(path, handler, allow_head=False)


def _routes() -> list[web.RouteDef]:
    """FastAPI answers HEAD on a GET route with 405, so aiohttp's implicit HEAD is turned off."""
    a, p = analysis_routes, portfolio_routes
    return [
        _get("/", system_routes.root),
        _get("/health", system_routes.health),
        _get("/api/config/check", system_routes.config_check),
        web.post("/api/config/apikey", system_routes.save_api_key),
        _get("/api/stocks/screen", system_routes.screen_stocks),
        web.post("/api/analysis/start", a.start_analysis),
        _get("/api/analysis/status/{task_id}", a.task_status),
        _get("/api/analysis/tasks", a.list_tasks),
        web.delete("/api/analysis/cancel/{task_id}", a.cancel_task),
        _get("/ws/analysis/{task_id}", ws_analysis),
        _get("/api/reports/list", reports.list_reports),
        _get("/api/reports/export", reports.export_reports),
        _get("/api/reports/{ticker}/{date}", reports.get_report),
        _get("/api/reports/{ticker}/{date}/pdf", reports.export_pdf),
        _get("/api/portfolio/watchlist", p.get_watchlist),
        web.post("/api/portfolio/watchlist", p.add_watchlist),
        web.delete("/api/portfolio/watchlist/{ticker}", p.remove_watchlist),
        _get("/api/portfolio/accounts", p.get_accounts),
        web.post("/api/portfolio/accounts", p.create_account),
        web.delete("/api/portfolio/accounts/{account_name}", p.delete_account),
        _get("/api/portfolio/positions", p.get_positions),
        web.post("/api/portfolio/positions", p.add_position),
        _get("/api/portfolio/positions/export", p.export_positions),
        web.delete("/api/portfolio/positions/{ticker}", p.remove_position),
        _get("/api/portfolio/recommendations", p.list_recommendations),
        _get("/api/portfolio/recommendations/{date}/{ticker}", p.get_recommendation),
        web.post("/api/portfolio/analyze", analyze_portfolio),
        _get("/ws/orchestrator", ws_orchestrator),
    ]


async def _runtime_ctx(app: web.Application) -> AsyncIterator[None]:
    runtime = app[RUNTIME]
    restored = await asyncio.to_thread(runtime.store.restore)
    runtime.task_results.update(restored)
    log.info(
        "legacy_backend_ready", data_dir=str(runtime.settings.data_dir), restored=len(restored)
    )
    yield
    # Cancel the jobs first: each one kills and reaps its own process without recording a
    # failure (LEGACY loses running tasks on restart); then sweep up any process left behind.
    await runtime.spawner.shutdown()
    await runtime.kill_processes()
    for sockets in list(runtime.connections.values()):
        for ws in list(sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


def create_app(settings: Settings) -> web.Application:
    """Raises ValueError (with a sentence) when the kernel cannot parse the environment."""
    app = web.Application(
        middlewares=[cors_middleware, error_middleware], client_max_size=MAX_BODY_BYTES
    )
    app[SETTINGS] = settings
    app[KERNEL] = Kernel(settings.subprocess_env())
    app[RUNTIME] = Runtime(
        settings=settings,
        store=TaskStore(settings.task_status_dir),
        portfolio=PortfolioStore(settings.portfolio_dir),
    )
    app.cleanup_ctx.append(_runtime_ctx)
    app.add_routes(_routes())
    return app
