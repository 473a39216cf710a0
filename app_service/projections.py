"""Read-only views of a task state: the public v1alpha1 payloads and the legacy shape.

`to_public_task_payload` and `to_task_summary` are docs/upstream-contract.md §2.5,
key order included.
`to_legacy_state` is the one mapping to the LEGACY §2.1 shape; it feeds the compatibility JSON
(dual-write), the dual-read comparison and the legacy websocket serializer, so all three agree
by construction. `normalize_restored` upgrades a state read from disk (§2.5 restore rules).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app_service.contracts import CONTRACT_VERSION, EXECUTOR_TYPE, TaskState

KEY_FIELDS = ("status", "progress", "current_stage", "decision", "error")
_COMPAT_SIGNAL_KEYS = ("decision", "quant_signal", "llm_signal", "confidence")
_LEGACY_STATUS = {"degraded_success": "completed", "cancelled": "failed"}


def _compat(state: Mapping[str, Any]) -> dict[str, Any]:
    compat = state.get("compat") or {}
    return {k: v for k, v in compat.items() if v is not None}


def to_public_task_payload(
    state: Mapping[str, Any], contract: Mapping[str, Any] | None, *, compat_fields: bool
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "contract_version": state.get("contract_version", CONTRACT_VERSION),
        "task_id": state["task_id"],
        "request_id": state.get("request_id"),
        "executor_type": state.get("executor_type"),
        "result_ref": state.get("result_ref"),
        "status": state.get("status"),
        "created_at": state.get("created_at"),
        "degradation_summary": state.get("degradation_summary"),
        "data_quality_summary": state.get("data_quality_summary"),
        "error": contract.get("error") if contract is not None else state.get("error"),
    }
    if state.get("type") == "portfolio":
        for key in ("type", "total", "completed", "failed", "current_ticker", "results"):
            payload[key] = state.get(key)
    else:
        for key in ("ticker", "date", "progress", "current_stage", "elapsed_seconds", "stages"):
            payload[key] = state.get(key)
        payload["result"] = contract.get("result") if contract is not None else state.get("result")
    compat = _compat(state)
    if compat_fields and compat:
        payload["compat"] = compat
    return payload


def to_task_summary(
    state: Mapping[str, Any], contract: Mapping[str, Any] | None, *, compat_fields: bool
) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "task_id": state["task_id"],
        "contract_version": state.get("contract_version", CONTRACT_VERSION),
        "request_id": state.get("request_id"),
        "executor_type": state.get("executor_type"),
        "result_ref": state.get("result_ref"),
        "status": state.get("status"),
        "created_at": state.get("created_at"),
        "error": state.get("error"),
        "data_quality_summary": state.get("data_quality_summary"),
        "degradation_summary": state.get("degradation_summary"),
    }
    if state.get("type") == "portfolio":
        for key in ("type", "total", "completed", "failed", "current_ticker"):
            summary[key] = state.get(key)
        return summary
    result = (contract.get("result") if contract is not None else state.get("result")) or {}
    for key in ("ticker", "date", "progress", "current_stage"):
        summary[key] = state.get(key)
    summary["summary"] = {
        "decision": result.get("decision"),
        "confidence": result.get("confidence"),
        "degraded": bool(result.get("degraded", False)),
    }
    compat = _compat(state)
    if compat_fields and compat:
        summary["compat"] = compat
    return summary


def _error_text(error: Any) -> str | None:
    if error is None or isinstance(error, str):
        return error
    if isinstance(error, Mapping):
        return str(error.get("message", ""))
    return str(error)


def legacy_recommendation(record: Mapping[str, Any]) -> dict[str, Any]:
    """A contract-shaped recommendation seen through LEGACY eyes (its flat `compat` view)."""
    compat = record.get("compat") or {}
    return {
        "ticker": record.get("ticker"),
        "name": record.get("name"),
        "analysis_date": compat.get("analysis_date", record.get("date")),
        "decision": compat.get("decision"),
        "quant_signal": compat.get("quant_signal"),
        "llm_signal": compat.get("llm_signal"),
        "confidence": compat.get("confidence"),
        "created_at": record.get("created_at"),
    }


def to_legacy_state(state: Mapping[str, Any]) -> dict[str, Any]:
    status = state.get("status")
    status = _LEGACY_STATUS.get(str(status), status)
    if state.get("type") == "portfolio":
        return {
            "task_id": state["task_id"],
            "type": "portfolio",
            "status": status,
            "total": state.get("total"),
            "completed": state.get("completed"),
            "failed": state.get("failed"),
            "current_ticker": state.get("current_ticker"),
            "results": [legacy_recommendation(r) for r in state.get("results") or []],
            "error": _error_text(state.get("error")),
            "created_at": state.get("created_at"),
        }
    result = state.get("result") or {}
    signals = result.get("signals") or {}
    compat = state.get("compat") or {}

    def pick(key: str, from_result: Any) -> Any:
        return from_result if from_result is not None else compat.get(key)

    return {
        "task_id": state["task_id"],
        "ticker": state.get("ticker"),
        "date": state.get("date"),
        "status": status,
        "progress": state.get("progress", 0),
        "current_stage": state.get("current_stage"),
        "created_at": state.get("created_at"),
        "elapsed": 0,
        "stages": [
            {"status": s.get("status"), "completed_at": s.get("completed_at")}
            for s in state.get("stages") or []
        ],
        "logs": [],
        "decision": pick("decision", result.get("decision")),
        "quant_signal": pick("quant_signal", (signals.get("quant") or {}).get("rating")),
        "llm_signal": pick("llm_signal", (signals.get("llm") or {}).get("rating")),
        "confidence": pick("confidence", result.get("confidence")),
        "error": _error_text(state.get("error")),
    }


def key_fields(legacy_state: Mapping[str, Any]) -> dict[str, Any]:
    """The five fields compared between the stores during the shadow period.

    See docs/migration.md §3, phase 2.
    """
    return {key: legacy_state.get(key) for key in KEY_FIELDS}


def differing_fields(left: Mapping[str, Any], right: Mapping[str, Any]) -> list[str]:
    a, b = key_fields(to_legacy_state(left)), key_fields(to_legacy_state(right))
    return [key for key in KEY_FIELDS if a[key] != b[key]]


def normalize_restored(raw: Mapping[str, Any]) -> TaskState:
    """Upgrade a state persisted by an older writer (§2.5 restore normalization)."""
    state: TaskState = dict(raw)
    state.setdefault("request_id", state["task_id"])
    state.setdefault("executor_type", EXECUTOR_TYPE)
    state.setdefault("contract_version", CONTRACT_VERSION)
    state.setdefault("result_ref", None)
    state.setdefault("degradation_summary", None)
    if "data_quality" in state and state.get("data_quality_summary") is None:
        state["data_quality_summary"] = state["data_quality"]
    state.setdefault("data_quality_summary", None)
    compat = dict(state.get("compat") or {})
    for key in _COMPAT_SIGNAL_KEYS:
        if key in state and key not in compat:
            compat[key] = state[key]
    state["compat"] = compat
    if state.get("type") != "portfolio":
        state.setdefault("elapsed_seconds", 0)
        state.setdefault("result", None)
    return state
