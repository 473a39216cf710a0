"""`/api/analysis/*`: start, status, task list and cancel, with the LEGACY payloads.

Handlers own the task state and the job, as upstream `main.py` did: start inserts the raw state
and spawns the runner; status returns that raw dict; cancel kills the process, marks a task with
a registered job as failed/"用户取消", persists, broadcasts, and then deletes the persisted file
(so the cancelled task vanishes after a restart, a LEGACY trait the proxy expects).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from datetime import datetime
from typing import Any

import structlog
from aiohttp import web

from legacy_backend.access import require_auth
from legacy_backend.errors import ApiError, json_response
from legacy_backend.lifecycle import CANCELLED_ERROR, fail, make_task_id, new_analysis_state
from legacy_backend.paths import has_traversal
from legacy_backend.runner import run_analysis
from legacy_backend.state import RUNTIME, Runtime
from legacy_backend.validation import read_analysis_request

log = structlog.get_logger("legacy_backend.analysis_routes")

TASK_NOT_FOUND = "Task not found"


def require_provider_key(runtime: Runtime) -> None:
    """LEGACY refused synchronously when the provider key was missing (no task created)."""
    missing = runtime.settings.missing_provider_key()
    if missing is not None:
        raise ApiError(500, f"{missing} environment variable not set")


def local_today() -> str:
    return datetime.now().strftime("%Y-%m-%d")


async def start_analysis(request: web.Request) -> web.Response:
    body = await read_analysis_request(request)
    require_auth(request)
    runtime = request.app[RUNTIME]
    require_provider_key(runtime)
    date = body.date or local_today()
    if has_traversal(body.ticker) or has_traversal(date):
        raise ApiError(404, "Not Found")
    now = datetime.now()
    task_id = make_task_id(body.ticker, now)
    runtime.task_results[task_id] = new_analysis_state(task_id, body.ticker, date, now)
    await runtime.broadcast(task_id)
    runtime.analysis_tasks[task_id] = runtime.spawner.spawn(
        run_analysis(runtime, task_id, body.ticker, date), name=f"analysis:{task_id}"
    )
    log.info("analysis_started", task_id=task_id, ticker=body.ticker, date=date)
    return json_response(
        {"task_id": task_id, "ticker": body.ticker, "date": date, "status": "running"}
    )


def _task_or_404(runtime: Runtime, task_id: str) -> dict[str, Any]:
    state = runtime.task_results.get(task_id)
    if state is None:
        raise ApiError(404, TASK_NOT_FOUND)
    return state


async def task_status(request: web.Request) -> web.Response:
    require_auth(request)
    runtime = request.app[RUNTIME]
    return json_response(_task_or_404(runtime, request.match_info["task_id"]))


def task_summary(task_id: str, state: dict[str, Any]) -> dict[str, Any]:
    return {
        "task_id": task_id,
        "ticker": state.get("ticker"),
        "date": state.get("date"),
        "status": state.get("status"),
        "progress": state.get("progress", 0),
        "decision": state.get("decision"),
        "error": state.get("error"),
        "created_at": state.get("created_at"),
    }


async def list_tasks(request: web.Request) -> web.Response:
    require_auth(request)
    runtime = request.app[RUNTIME]
    tasks = [task_summary(task_id, state) for task_id, state in runtime.task_results.items()]
    tasks.sort(key=lambda task: task["created_at"] or "", reverse=True)
    return json_response({"tasks": tasks, "total": len(tasks)})


async def cancel_task(request: web.Request) -> web.Response:
    require_auth(request)
    runtime = request.app[RUNTIME]
    task_id = request.match_info["task_id"]
    state = _task_or_404(runtime, task_id)
    process = runtime.processes.get(task_id)
    if process is not None and process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    job = runtime.analysis_tasks.get(task_id)
    if job is not None:
        job.cancel()
        fail(state, CANCELLED_ERROR)
        await asyncio.to_thread(runtime.store.save, copy.deepcopy(state))
        await runtime.broadcast(task_id)
    # No temp script to delete: the analysis runs as `python -m orchestrator`, not a temp file.
    await asyncio.to_thread(runtime.store.delete, task_id)
    log.info("analysis_cancelled", task_id=task_id, had_job=job is not None)
    return json_response({"task_id": task_id, "status": "cancelled"})
