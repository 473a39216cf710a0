"""`create_app(settings)`: wires stores, services and transport into one aiohttp application.

Objects are built here unopened; the SQLite file is opened, in-flight tasks from a previous run
are marked interrupted, and running subprocesses are killed on shutdown, all inside one
`cleanup_ctx`, so tests and `__main__` get the same lifecycle.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from app_service.analysis import AnalysisService
from app_service.executor import SubprocessAnalysisExecutor
from app_service.jobs import JobService, TaskEvents
from app_service.live import LiveSignalService
from app_service.persistence.portfolio_files import PortfolioFiles
from app_service.persistence.report_files import ReportFiles
from app_service.persistence.sqlite_store import SqliteTaskStore
from app_service.persistence.task_files import LegacyTaskJsonFiles, ResultContractFiles
from app_service.portfolio import PortfolioService
from app_service.reports import ReportService
from app_service.settings import Settings
from app_service.tasks import TaskSet
from app_service.transport import routes_analysis, routes_portfolio, routes_system, websockets
from app_service.transport.context import ANALYSIS, JOBS, LIVE, PORTFOLIO, REPORTS, SETTINGS
from app_service.transport.http import cors_middleware, error_middleware

SQLITE_STORE = web.AppKey("sqlite_store", SqliteTaskStore)


def create_app(settings: Settings) -> web.Application:
    app = web.Application(
        middlewares=[cors_middleware(settings.cors_origins), error_middleware],
        client_max_size=settings.max_body_bytes,
    )
    child_env = settings.child_environ()
    store = SqliteTaskStore(settings.sqlite_path)
    jobs = JobService(
        store=store,
        legacy=LegacyTaskJsonFiles(settings.task_status_dir),
        results=ResultContractFiles(settings.task_status_dir),
        flags=settings.flags,
        events=TaskEvents(),
    )
    portfolio_files = PortfolioFiles(settings.portfolio_dir)
    analysis = AnalysisService(
        jobs=jobs,
        executor=SubprocessAnalysisExecutor(
            command=settings.analysis_command,
            environ=child_env,
            provider=settings.llm_provider,
            config_path=settings.config_path,
            stdout_timeout_s=settings.stdout_timeout_s,
        ),
        portfolio=portfolio_files,
        tasks=TaskSet(),
        retry_delay_s=settings.retry_delay_s,
    )
    app[SETTINGS] = settings
    app[SQLITE_STORE] = store
    app[JOBS] = jobs
    app[ANALYSIS] = analysis
    app[PORTFOLIO] = PortfolioService(
        gateway=portfolio_files,
        environ=child_env,
        compat_fields=settings.flags.legacy_compat_fields,
    )
    app[LIVE] = LiveSignalService(child_env)
    app[REPORTS] = ReportService(ReportFiles(settings.results_dir))
    for table in (
        routes_system.routes,
        routes_analysis.routes,
        routes_portfolio.routes,
        websockets.routes,
    ):
        app.add_routes(table)
    app.cleanup_ctx.append(_lifecycle)
    return app


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    for folder in (settings.task_status_dir, settings.results_dir, settings.cache_dir):
        folder.mkdir(parents=True, exist_ok=True)
    store = app[SQLITE_STORE]
    await store.open()
    try:
        await app[JOBS].fail_interrupted()
        yield
        await app[ANALYSIS].shutdown()
    finally:
        await store.close()
