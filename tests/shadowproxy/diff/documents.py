"""Upstream-shaped bodies for the diff tests, both sides, and the helpers that compare them.

Legacy states follow docs/upstream-contract.md §2.1 (raw state, positional stages, flat decision,
string error); app payloads follow §2.4/§2.5 (public projection, named stages, result contract,
error object); task lists §1.2 #8; portfolio batches and the cancel notice §2.6.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from shadowproxy.diff.config import DiffConfig
from shadowproxy.diff.engine import DiffEngine, ValueComparison
from shadowproxy.types import (
    AcceptedDifference,
    DiffKind,
    Exchange,
    IdAliases,
    JSONValue,
    Observation,
    RouteGroup,
    Side,
)

from ..factories import aliases, exchange, observation

AAPL_L, AAPL_A = "AAPL_20260413_120000_ab12cd", "AAPL_20260413_120000_9f8e7d"
MSFT_L, MSFT_A = "MSFT_20260413_115900_01ab23", "MSFT_20260413_115900_cd45ef"
PORT_L, PORT_A = "port_2026-04-13_0f3a9c", "port_2026-04-13_77aa01"
IDS = aliases({AAPL_A: AAPL_L, MSFT_A: MSFT_L, PORT_A: PORT_L})  # every pair correlated
STATUS_ROUTE = "/api/analysis/status/{task_id}"
STAGES = ("analysts", "research", "trading", "risk", "portfolio")
ENGINE = DiffEngine()


def compare(
    profile: str, legacy: JSONValue, app: JSONValue, ids: IdAliases = IDS, route: str = "/r"
) -> ValueComparison:
    """Two parsed bodies through the default engine (the path websocket frames take)."""
    return ENGINE.compare_values(profile, legacy, app, ids, route=route)


def fields(values: ValueComparison) -> list[tuple[str, DiffKind]]:
    return [(d.field, d.kind) for d in values.differences]


def engine_with(*known: AcceptedDifference, max_differences: int = 50) -> DiffEngine:
    """An engine with only these known differences (no built-in ones), on 2026-05-01."""
    config = DiffConfig(known_differences=known, max_differences=max_differences)
    return DiffEngine(config, today=lambda: dt.date(2026, 5, 1))


# ---------------------------------------------------------------- HTTP: the status route


def status_exchange(
    profile: str = "status_document", authoritative: Side = Side.LEGACY
) -> Exchange:
    """A poll of AAPL's status, as the client asked it (legacy id)."""
    return exchange(
        route_group=RouteGroup.ANALYSIS,
        route=STATUS_ROUTE,
        path=f"/api/analysis/status/{AAPL_L}",
        authoritative=authoritative,
        profile=profile,
    )


def legacy_ok(body: bytes | JSONValue, status: int = 200) -> Observation:
    """Legacy's answer with a JSON content type, whatever the body (bytes are sent as they are)."""
    return observation(Side.LEGACY, status, body, content_type="application/json")


def app_ok(body: bytes | JSONValue, status: int = 200) -> Observation:
    return observation(Side.APP, status, body, content_type="application/json")


# ---------------------------------------------------------------- one analysis (§2.1, §2.5)


def stage_statuses(done: int) -> list[str]:
    """Stage statuses after `done` stage events (0 = just created), as §2.2 mutates them."""
    statuses = ["completed"] * done + ["running"] + ["pending"] * 4
    return statuses[:5]


def legacy_state(
    *,
    status: str = "completed",
    done: int = 5,
    decision: str | None = "OVERWEIGHT",
    confidence: float | None = 0.63,
    error: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    terminal = status != "running"
    return {
        "task_id": AAPL_L,
        "ticker": "AAPL",
        "date": "2026-04-13",
        "status": status,
        "progress": done * 20,
        "current_stage": STAGES[max(done - 1, 0)],
        "created_at": "2026-04-13T12:00:00.000001",
        "elapsed": 0,
        "stages": [
            {"status": s, "completed_at": "12:00:03" if s == "completed" else None}
            for s in stage_statuses(done)
        ],
        "logs": [],
        "decision": decision if terminal else None,
        "quant_signal": "HOLD" if terminal and decision else None,
        "llm_signal": "BUY" if terminal and decision else None,
        "confidence": confidence if terminal else None,
        "error": error,
        **extra,
    }


def app_result(decision: str = "OVERWEIGHT", confidence: float = 0.63) -> dict[str, Any]:
    return {
        "decision": decision,
        "confidence": confidence,
        "signals": {
            "merged": {"direction": 1, "rating": decision},
            "quant": {"direction": 0, "rating": "HOLD", "available": True},
            "llm": {"direction": 1, "rating": "BUY", "available": True},
        },
        "degraded": True,
        "report": {"path": "results/AAPL/2026-04-13/complete_report.md", "available": True},
    }


def app_status(
    *,
    status: str = "degraded_success",
    done: int = 5,
    result: dict[str, Any] | None = None,
    error: Any = None,
    drop: tuple[str, ...] = (),
    **extra: Any,
) -> dict[str, Any]:
    running = status == "running"
    document: dict[str, Any] = {
        "contract_version": "v1alpha1",
        "task_id": AAPL_A,
        "request_id": "3f2c8d0e9a7b4c1d8e2f3a4b5c6d7e9f",
        "executor_type": "legacy_subprocess",
        "result_ref": None if running else f"results/{AAPL_A}/result.v1alpha1.json",
        "status": status,
        "created_at": "2026-04-13T12:00:00.412345",
        "degradation_summary": None
        if running
        else {"degraded": True, "reason_codes": ["quant_not_configured"]},
        "data_quality_summary": None,
        "error": error,
        "ticker": "AAPL",
        "date": "2026-04-13",
        "progress": done * 20,
        "current_stage": STAGES[max(done - 1, 0)],
        "elapsed_seconds": 161,
        "stages": [
            {"name": name, "status": s, "completed_at": "12:00:04" if s == "completed" else None}
            for name, s in zip(STAGES, stage_statuses(done), strict=True)
        ],
        "result": None
        if running or status in ("failed", "cancelled")
        else (result or app_result()),
        **extra,
    }
    if document["result"]:
        document["compat"] = {
            "decision": document["result"]["decision"],
            "quant_signal": "HOLD",
            "llm_signal": "BUY",
            "confidence": document["result"]["confidence"],
        }
    for key in drop:
        document.pop(key)
    return document


# ---------------------------------------------------------------- a cancelled analysis (§2.6)


def cancelled_legacy(error: str = "用户取消") -> dict[str, Any]:
    """A completed legacy task that was then cancelled: the raw state keeps its results."""
    return {
        "task_id": AAPL_L,
        "ticker": "AAPL",
        "date": "2026-04-13",
        "status": "failed",
        "progress": 100,
        "current_stage": "portfolio",
        "stages": [{"status": "completed", "completed_at": "12:00:03"}] * 5,
        "decision": "SELL",
        "quant_signal": "HOLD",
        "llm_signal": "UNDERWEIGHT",
        "confidence": 0.9,
        "error": error,
    }


def cancelled_app(error: Any) -> dict[str, Any]:
    """The app's cancelled task: its result stays; a completed one shows its contract's error."""
    signals = {"quant": {"rating": "HOLD"}, "llm": {"rating": "UNDERWEIGHT"}}
    return {
        "contract_version": "v1alpha1",
        "task_id": AAPL_A,
        "status": "cancelled",
        "error": error,
        "ticker": "AAPL",
        "date": "2026-04-13",
        "progress": 100,
        "current_stage": "portfolio",
        "stages": [{"name": name, "status": "completed"} for name in STAGES],
        "result": {"decision": "SELL", "confidence": 0.9, "signals": signals},
    }


# ---------------------------------------------------------------- portfolio batches


def legacy_batch(
    *, status: str = "completed", completed: int = 2, decision: str = "OVERWEIGHT"
) -> dict[str, Any]:
    records = [
        {
            "ticker": ticker,
            "name": ticker,
            "analysis_date": "2026-04-13",
            "decision": decision if ticker == "AAPL" else "HOLD",
            "quant_signal": "HOLD",
            "llm_signal": "BUY",
            "confidence": 0.63,
            "created_at": "2026-04-13T12:03:00.000001",
        }
        for ticker in ("AAPL", "MSFT")[:completed]
    ]
    return {
        "task_id": PORT_L,
        "type": "portfolio",
        "status": status,
        "total": 2,
        "completed": completed,
        "failed": 0,
        "current_ticker": None if status == "completed" else "MSFT",
        "results": records,
        "error": None,
    }


def app_batch(
    *, status: str = "completed", completed: int = 2, decision: str = "OVERWEIGHT"
) -> dict[str, Any]:
    records = [
        {
            "contract_version": "v1alpha1",
            "ticker": ticker,
            "name": ticker,
            "date": "2026-04-13",
            "status": "degraded_success",
            "created_at": "2026-04-13T12:03:01.000001",
            "result": {"decision": decision if ticker == "AAPL" else "HOLD", "confidence": 0.63},
            "compat": {"analysis_date": "2026-04-13", "decision": decision},
        }
        for ticker in ("AAPL", "MSFT")[:completed]
    ]
    return {
        "contract_version": "v1alpha1",
        "task_id": PORT_A,
        "request_id": "aa" * 16,
        "executor_type": "legacy_subprocess",
        "result_ref": None,
        "status": status,
        "created_at": "2026-04-13T12:00:00.000001",
        "degradation_summary": None,
        "data_quality_summary": None,
        "error": None,
        "type": "portfolio",
        "total": 2,
        "completed": completed,
        "failed": 0,
        "current_ticker": None if status == "completed" else "MSFT",
        "results": records,
    }


# ---------------------------------------------------------------- the task list (§1.2 #8, §2.5)


def legacy_item(
    task_id: str, ticker: str, status: str = "completed", progress: int = 100
) -> dict[str, Any]:
    done = status != "running"
    return {
        "task_id": task_id,
        "ticker": ticker,
        "date": "2026-04-13",
        "status": status,
        "progress": progress,
        "decision": "OVERWEIGHT" if done else None,
        "error": None,
        "created_at": "2026-04-13T12:00:00.000001",
    }


def app_item(
    task_id: str,
    ticker: str,
    status: str = "degraded_success",
    progress: int = 100,
    stage: str = "portfolio",
) -> dict[str, Any]:
    done = status != "running"
    return {
        "task_id": task_id,
        "contract_version": "v1alpha1",
        "request_id": "ab" * 16,
        "executor_type": "legacy_subprocess",
        "result_ref": None,
        "status": status,
        "created_at": "2026-04-13T12:00:00.500000",
        "error": None,
        "data_quality_summary": None,
        "degradation_summary": None,
        "ticker": ticker,
        "date": "2026-04-13",
        "progress": progress,
        "current_stage": stage,
        "summary": {
            "decision": "OVERWEIGHT" if done else None,
            "confidence": 0.63 if done else None,
            "degraded": done,
        },
    }


def legacy_tasks(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"tasks": list(entries), "total": len(entries)}


def app_tasks(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"contract_version": "v1alpha1", "tasks": list(entries), "total": len(entries)}
