"""`POST /api/portfolio/analyze`: the LEGACY serial batch over the whole watchlist.

Each ticker runs the same analysis subprocess to completion (no stage parsing, as upstream's
`communicate()` loop), with up to three attempts; a success saves a flat recommendation record.
The batch state lives in the task map next to analysis tasks, so status, the task list, cancel
and the websocket all see it. LEGACY inserted the state before checking the provider key, which
leaves a dangling "running" batch on that 500; the bug is kept because
docs/upstream-contract.md §8 item 4 expects it.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import structlog
from aiohttp import web

from legacy_backend.access import require_auth
from legacy_backend.analysis_routes import require_provider_key
from legacy_backend.errors import ApiError, json_response
from legacy_backend.lifecycle import make_batch_id, new_batch_state, parse_markers, recommendation
from legacy_backend.runner import persist_and_broadcast, run_to_completion
from legacy_backend.state import RUNTIME, Runtime

log = structlog.get_logger("legacy_backend.portfolio_batch")

MAX_RETRY_COUNT = 2  # upstream constant: 3 attempts in all
EMPTY_WATCHLIST = "自选股为空，请先添加股票"


async def _analyze_ticker(
    runtime: Runtime, batch_id: str, entry: dict[str, Any], date: str
) -> dict[str, Any] | None:
    ticker = str(entry.get("ticker"))
    for attempt in range(MAX_RETRY_COUNT + 1):
        if attempt:
            await asyncio.sleep(runtime.settings.retry_delay_secs)
        try:
            returncode, stdout, stderr = await run_to_completion(runtime, batch_id, ticker, date)
        except OSError as exc:
            log.warning("batch_attempt_failed", task_id=batch_id, ticker=ticker, error=str(exc))
            continue
        if returncode == 0:
            record = recommendation(
                ticker,
                entry.get("name", ticker),
                date,
                parse_markers(stdout.splitlines()),
                datetime.now(),
            )
            await asyncio.to_thread(runtime.portfolio.save_recommendation, date, ticker, record)
            return record
        log.warning(
            "batch_attempt_failed",
            task_id=batch_id,
            ticker=ticker,
            attempt=attempt + 1,
            returncode=returncode,
            stderr_tail=stderr[-200:],
        )
    return None


async def run_batch(
    runtime: Runtime, batch_id: str, watchlist: list[dict[str, Any]], date: str
) -> None:
    state = runtime.task_results[batch_id]
    try:
        for index, entry in enumerate(watchlist):
            state["current_ticker"] = entry.get("ticker")
            state["status"] = "running"
            state["completed"] = index
            await runtime.broadcast(batch_id)
            record = await _analyze_ticker(runtime, batch_id, entry, date)
            if record is None:
                state["failed"] += 1
            else:
                state["results"].append(record)
                state["completed"] = index + 1
            await runtime.broadcast(batch_id)
        state["status"] = "completed"
        state["current_ticker"] = None
    except Exception as exc:  # CancelledError is a BaseException: the canceller owns the state
        log.exception("batch_crashed", task_id=batch_id)
        state["status"] = "failed"
        state["error"] = str(exc)
    log.info("batch_finished", task_id=batch_id, status=state["status"], failed=state["failed"])
    await persist_and_broadcast(runtime, batch_id)


async def analyze_portfolio(request: web.Request) -> web.Response:
    require_auth(request)
    runtime = request.app[RUNTIME]
    watchlist = await asyncio.to_thread(runtime.portfolio.watchlist)
    if not watchlist:
        raise ApiError(400, EMPTY_WATCHLIST)
    now = datetime.now()
    batch_id = make_batch_id(now)
    date = now.strftime("%Y-%m-%d")
    runtime.task_results[batch_id] = new_batch_state(batch_id, len(watchlist))
    require_provider_key(runtime)
    runtime.analysis_tasks[batch_id] = runtime.spawner.spawn(
        run_batch(runtime, batch_id, watchlist, date), name=f"batch:{batch_id}"
    )
    log.info("batch_started", task_id=batch_id, total=len(watchlist))
    return json_response({"task_id": batch_id, "total": len(watchlist), "status": "running"})
