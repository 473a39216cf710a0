"""The v1alpha1 task state and its transitions: the single place results are mapped.

Rule A of the application boundary (docs/upstream-contract.md §6) says results are mapped exactly
once and shared by REST, websockets, export and persistence. Every mutation of a task state happens
through these functions (create, stage, complete, fail, cancel, interrupt, portfolio progress), and
the projections in `projections.py` only read what they wrote. States are plain JSON objects because
they are persisted and served as such; key order is part of the contract.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

CONTRACT_VERSION = "v1alpha1"
EXECUTOR_TYPE = "legacy_subprocess"
STAGES = ("analysts", "research", "trading", "risk", "portfolio")
CANCEL_MESSAGE = "用户取消"

TaskState = dict[str, Any]


@dataclass(frozen=True, slots=True)
class AnalysisOutcome:
    """What the executor learned from the kernel's markers, before any contract mapping."""

    decision: str
    quant_signal: str | None
    llm_signal: str | None
    confidence: float | None
    report_path: str
    degrade_reason_codes: tuple[str, ...] = ()
    data_quality: Mapping[str, Any] | None = None
    source_diagnostics: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class TaskError:
    """A structured task error; `degradation` fields come from the kernel's RESULT_META."""

    code: str
    message: str
    retryable: bool
    reason_codes: tuple[str, ...] = ()
    data_quality: Mapping[str, Any] | None = None
    source_diagnostics: Mapping[str, Any] = field(default_factory=dict)

    def as_payload(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "retryable": self.retryable}


def rating_direction(rating: str | None) -> int:
    if rating in ("BUY", "OVERWEIGHT"):
        return 1
    if rating in ("SELL", "UNDERWEIGHT"):
        return -1
    return 0


def signal_block(rating: str | None, *, with_availability: bool) -> dict[str, Any]:
    block: dict[str, Any] = {"direction": rating_direction(rating), "rating": rating}
    if with_availability:
        block["available"] = rating is not None
    return block


def signals_block(decision: str, quant: str | None, llm: str | None) -> dict[str, Any]:
    return {
        "merged": signal_block(decision, with_availability=False),
        "quant": signal_block(quant, with_availability=True),
        "llm": signal_block(llm, with_availability=True),
    }


def new_stages() -> list[dict[str, Any]]:
    return [
        {"name": name, "status": "running" if i == 0 else "pending", "completed_at": None}
        for i, name in enumerate(STAGES)
    ]


def create_analysis_state(
    *, task_id: str, ticker: str, date: str, created_at: str, request_id: str
) -> TaskState:
    return {
        "task_id": task_id,
        "ticker": ticker,
        "date": date,
        "status": "running",
        "progress": 0,
        "current_stage": STAGES[0],
        "created_at": created_at,
        "elapsed_seconds": 0,
        "elapsed": 0,
        "stages": new_stages(),
        "logs": [],
        "result": None,
        "error": None,
        "request_id": request_id,
        "executor_type": EXECUTOR_TYPE,
        "contract_version": CONTRACT_VERSION,
        "result_ref": None,
        "degradation_summary": None,
        "data_quality_summary": None,
        "compat": {},
    }


def create_portfolio_state(
    *, task_id: str, total: int, created_at: str, request_id: str
) -> TaskState:
    return {
        "task_id": task_id,
        "type": "portfolio",
        "status": "running",
        "total": total,
        "completed": 0,
        "failed": 0,
        "current_ticker": None,
        "results": [],
        "error": None,
        "created_at": created_at,
        "request_id": request_id,
        "executor_type": EXECUTOR_TYPE,
        "contract_version": CONTRACT_VERSION,
        "result_ref": None,
        "degradation_summary": None,
        "data_quality_summary": None,
        "compat": {},
    }


def apply_stage(state: TaskState, name: str, *, clock: str, elapsed_seconds: int) -> bool:
    """Advance to stage `name`; unknown names are ignored and return False.

    See docs/upstream-contract.md §2.2.
    """
    if name not in STAGES:
        return False
    index = STAGES.index(name)
    stages: list[dict[str, Any]] = state["stages"]
    for i in range(index + 1):
        if stages[i]["completed_at"] is None:
            stages[i]["completed_at"] = clock
        stages[i]["status"] = "completed"
    if index + 1 < len(stages) and stages[index + 1]["status"] == "pending":
        stages[index + 1]["status"] = "running"
    state["progress"] = int((index + 1) / len(STAGES) * 100)
    state["current_stage"] = name
    state["elapsed_seconds"] = elapsed_seconds
    state["elapsed"] = elapsed_seconds
    return True


def build_result_contract(
    state: Mapping[str, Any], outcome: AnalysisOutcome, *, elapsed_seconds: int
) -> dict[str, Any]:
    """The result contract of a successful run, keyed the way the file is written.

    See docs/upstream-contract.md §2.4.
    """
    codes = list(outcome.degrade_reason_codes)
    lane_missing = outcome.quant_signal is None or outcome.llm_signal is None
    degraded = bool(codes) or bool(outcome.data_quality) or lane_missing
    return {
        "contract_version": CONTRACT_VERSION,
        "task_id": state["task_id"],
        "ticker": state["ticker"],
        "date": state["date"],
        "status": "degraded_success" if degraded else "completed",
        "progress": 100,
        "current_stage": STAGES[-1],
        "created_at": state["created_at"],
        "elapsed_seconds": elapsed_seconds,
        "elapsed": elapsed_seconds,
        "degradation": {
            "degraded": degraded,
            "reason_codes": codes,
            "source_diagnostics": dict(outcome.source_diagnostics or {}),
        },
        "data_quality": dict(outcome.data_quality) if outcome.data_quality else None,
        "result": {
            "decision": outcome.decision,
            "confidence": outcome.confidence,
            "signals": signals_block(outcome.decision, outcome.quant_signal, outcome.llm_signal),
            "degraded": degraded,
            "report": {"path": outcome.report_path, "available": True},
        },
        "error": None,
    }


def complete_analysis(state: TaskState, contract: Mapping[str, Any], *, result_ref: str) -> None:
    for key in ("status", "progress", "current_stage", "elapsed_seconds", "elapsed"):
        state[key] = contract[key]
    result = contract["result"]
    state["result"] = result
    state["error"] = contract.get("error")
    state["degradation_summary"] = contract.get("degradation") or {
        "degraded": bool(result.get("degraded")),
        "report_available": bool((result.get("report") or {}).get("available")),
    }
    state["data_quality_summary"] = contract.get("data_quality")
    signals = result["signals"]
    state["compat"] = {
        "decision": result["decision"],
        "quant_signal": signals["quant"]["rating"],
        "llm_signal": signals["llm"]["rating"],
        "confidence": result["confidence"],
    }
    state["result_ref"] = result_ref


def fail_task(state: TaskState, error: TaskError, *, elapsed_seconds: int | None) -> None:
    """Failure keeps progress and stages where they were, so the UI shows how far it got."""
    state["status"] = "failed"
    if elapsed_seconds is not None and "elapsed_seconds" in state:
        state["elapsed_seconds"] = elapsed_seconds
        state["elapsed"] = elapsed_seconds
    if "result" in state:
        state["result"] = None
    state["error"] = error.as_payload()
    if error.reason_codes or error.data_quality or error.source_diagnostics:
        state["degradation_summary"] = {
            "degraded": bool(error.reason_codes or error.data_quality),
            "reason_codes": list(error.reason_codes),
            "source_diagnostics": dict(error.source_diagnostics),
        }
    state["data_quality_summary"] = dict(error.data_quality) if error.data_quality else None


def cancel_task(state: TaskState) -> None:
    """NEW keeps the cancelled task readable with a structured error.

    See docs/migration.md §6, trigger 1.
    """
    state["status"] = "cancelled"
    state["error"] = {"code": "cancelled", "message": CANCEL_MESSAGE, "retryable": False}


def interrupted_error() -> TaskError:
    return TaskError(
        code="interrupted",
        message="analysis was interrupted by a backend restart; start it again",
        retryable=True,
    )


def is_terminal(state: Mapping[str, Any]) -> bool:
    return state.get("status") != "running"
