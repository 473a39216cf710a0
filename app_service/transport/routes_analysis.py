"""Analysis routes: parse, authenticate, call a use case, serialize. Nothing else.

Bad input to start maps to HTTP here: ValueError → 400, RuntimeError → 500 with the message
(the NEW route's mapping); `NotFoundError`/`RejectedError` are mapped by the error middleware.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from app_service.persistence.task_files import is_safe_id
from app_service.transport.context import ANALYSIS, JOBS, SETTINGS, require_auth
from app_service.transport.http import ApiError, ValidationFailed, json_response, read_json_body

routes = web.RouteTableDef()


def _start_body(body: Any) -> tuple[str, str | None]:
    """Validate `{"ticker": str, "date": str | null}` the way the upstream pydantic model did."""
    if body is None:
        raise ValidationFailed(
            [{"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}]
        )
    if not isinstance(body, dict):
        raise ValidationFailed(
            [
                {
                    "type": "model_attributes_type",
                    "loc": ["body"],
                    "msg": "Input should be a valid dictionary or object to extract fields from",
                    "input": body,
                }
            ]
        )
    errors: list[dict[str, Any]] = []
    if "ticker" not in body:
        errors.append(
            {"type": "missing", "loc": ["body", "ticker"], "msg": "Field required", "input": body}
        )
    for field in ("ticker", "date"):
        value = body.get(field)
        if field in body and not isinstance(value, str) and not (field == "date" and value is None):
            errors.append(
                {
                    "type": "string_type",
                    "loc": ["body", field],
                    "msg": "Input should be a valid string",
                    "input": value,
                }
            )
    if errors:
        raise ValidationFailed(errors)
    return body["ticker"], body.get("date")


def _task_id(request: web.Request) -> str:
    task_id = request.match_info["task_id"]
    if not is_safe_id(task_id):
        raise ApiError(404, "Task not found")
    return task_id


@routes.post("/api/analysis/start")
async def start(request: web.Request) -> web.Response:
    ticker, date = _start_body(await read_json_body(request))
    require_auth(request)
    try:
        accepted = await request.app[ANALYSIS].start_analysis(ticker, date)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    except RuntimeError as exc:
        raise ApiError(500, str(exc)) from None
    return json_response(accepted)


@routes.get("/api/analysis/status/{task_id}")
async def status(request: web.Request) -> web.Response:
    require_auth(request)
    return json_response(await request.app[ANALYSIS].get_analysis_status(_task_id(request)))


@routes.get("/api/analysis/tasks")
async def tasks(request: web.Request) -> web.Response:
    require_auth(request)
    return json_response(await request.app[ANALYSIS].list_analysis_tasks())


@routes.delete("/api/analysis/cancel/{task_id}")
async def cancel(request: web.Request) -> web.Response:
    require_auth(request)
    return json_response(await request.app[ANALYSIS].cancel_analysis(_task_id(request)))


@routes.post("/api/portfolio/analyze")
async def portfolio_analyze(request: web.Request) -> web.Response:
    require_auth(request)
    return json_response(await request.app[ANALYSIS].start_portfolio_analysis())


@routes.get("/api/_internal/dual_stats")
async def dual_stats(request: web.Request) -> web.Response:
    """Operators watch these counters before flipping a read or write flag."""
    require_auth(request)
    flags = request.app[SETTINGS].flags
    return json_response(
        {
            **request.app[JOBS].stats.as_dict(),
            "flags": {
                "dual_read": flags.dual_read,
                "dual_write": flags.dual_write,
                "ws_v1alpha1": flags.ws_v1alpha1,
                "legacy_compat_fields": flags.legacy_compat_fields,
                "result_contract_version": flags.result_contract_version,
            },
        }
    )
