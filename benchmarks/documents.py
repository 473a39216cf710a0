"""The documents the fake backends serve: one analysis in the legacy and the v1alpha1 shape."""

from __future__ import annotations

from typing import Any

import orjson

LEGACY_ID = "AAPL_20260413_120000_ab12cd"
APP_ID = "AAPL_20260413_120000_9f8e7d"
STAGES = ("analysts", "research", "trading", "risk", "portfolio")


def legacy_status() -> dict[str, Any]:
    return {
        "task_id": LEGACY_ID,
        "ticker": "AAPL",
        "date": "2026-04-13",
        "status": "completed",
        "progress": 100,
        "current_stage": "portfolio",
        "created_at": "2026-04-13T12:00:00.000001",
        "elapsed": 0,
        "stages": [{"status": "completed", "completed_at": "12:00:03"} for _ in STAGES],
        "logs": [],
        "decision": "UNDERWEIGHT",
        "quant_signal": "SELL",
        "llm_signal": "HOLD",
        "confidence": 0.6153846153846154,
        "error": None,
    }


def app_status() -> dict[str, Any]:
    result = {
        "decision": "UNDERWEIGHT",
        "confidence": 0.6153846153846154,
        "signals": {
            "merged": {"direction": -1, "rating": "UNDERWEIGHT"},
            "quant": {"direction": -1, "rating": "SELL", "available": True},
            "llm": {"direction": 0, "rating": "HOLD", "available": True},
        },
        "degraded": False,
        "report": {"path": "results/AAPL/2026-04-13/complete_report.md", "available": True},
    }
    return {
        "contract_version": "v1alpha1",
        "task_id": APP_ID,
        "request_id": "3f2c8d0e9a7b4c1d8e2f3a4b5c6d7e9f",
        "executor_type": "legacy_subprocess",
        "result_ref": f"results/{APP_ID}/result.v1alpha1.json",
        "status": "completed",
        "created_at": "2026-04-13T12:00:00.412345",
        "degradation_summary": {"degraded": False, "reason_codes": []},
        "data_quality_summary": None,
        "error": None,
        "ticker": "AAPL",
        "date": "2026-04-13",
        "progress": 100,
        "current_stage": "portfolio",
        "elapsed_seconds": 161,
        "stages": [
            {"name": name, "status": "completed", "completed_at": "12:00:04"} for name in STAGES
        ],
        "result": result,
        "compat": {
            "decision": "UNDERWEIGHT",
            "quant_signal": "SELL",
            "llm_signal": "HOLD",
            "confidence": 0.6153846153846154,
        },
    }


LOG_LINE = "12:00:03 [analysts] market, news and fundamentals reports written; research debate next"


def padded(document: dict[str, Any], size: int) -> dict[str, Any]:
    """The document with log lines (`logs`, not a key field) until it is at least `size` bytes."""
    base = len(orjson.dumps({**document, "logs": []}))
    per_line = len(orjson.dumps(LOG_LINE)) + 1  # the quoted line and its comma
    lines = max(0, -(-(size - base) // per_line))  # ceiling division
    return {**document, "logs": [LOG_LINE] * lines}


def mismatched(document: dict[str, Any]) -> dict[str, Any]:
    """The same analysis with another decision: one key field differs, whichever the shape."""
    changed = {**document}
    if "result" in document:
        changed["result"] = {**document["result"], "decision": "OVERWEIGHT"}
    else:
        changed["decision"] = "OVERWEIGHT"
    return changed
