"""The LEGACY task state and its transitions, as pure functions over the raw dict.

Upstream mutated `app.state.task_results[task_id]` in place and served that very dict from the
status route and the websocket, so the key order, the positional unnamed stages, `elapsed`
stuck at 0 and the top-level signal fields are all part of the contract. These functions keep
that shape; `runner.py` decides when to call them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

STAGES = ("analysts", "research", "trading", "risk", "portfolio")
CANCELLED_ERROR = "用户取消"
UNKNOWN_ERROR = "Unknown error"
STDERR_TAIL = 1000


def _hex6() -> str:
    return uuid.uuid4().hex[:6]


def make_task_id(ticker: str, now: datetime) -> str:
    return f"{ticker}_{now.strftime('%Y%m%d_%H%M%S')}_{_hex6()}"


def make_batch_id(now: datetime) -> str:
    return f"port_{now.strftime('%Y-%m-%d')}_{_hex6()}"


def clock(now: datetime) -> str:
    return now.strftime("%H:%M:%S")


def new_analysis_state(task_id: str, ticker: str, date: str, now: datetime) -> dict[str, Any]:
    stages = [{"status": "pending", "completed_at": None} for _ in STAGES]
    stages[0]["status"] = "running"
    return {
        "task_id": task_id,
        "ticker": ticker,
        "date": date,
        "status": "running",
        "progress": 0,
        "current_stage": STAGES[0],
        "created_at": now.isoformat(),
        "elapsed": 0,
        "stages": stages,
        "logs": [],
        "decision": None,
        "quant_signal": None,
        "llm_signal": None,
        "confidence": None,
        "error": None,
    }


def new_batch_state(task_id: str, total: int) -> dict[str, Any]:
    # LEGACY `0cd40a9ba` has no created_at here, so the tasks list shows null for it.
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
    }


def _complete_stage(stage: dict[str, Any], at: str) -> None:
    if stage.get("status") != "completed":
        stage["status"] = "completed"
        stage["completed_at"] = at
    elif stage.get("completed_at") is None:
        stage["completed_at"] = at


def apply_stage(state: dict[str, Any], name: str, now: datetime) -> bool:
    """One `STAGE:<name>` line; returns False for an unknown stage name.

    See docs/upstream-contract.md §2.2.
    """
    if name not in STAGES:
        return False
    index = STAGES.index(name)
    at = clock(now)
    stages = state["stages"]
    for stage in stages[: index + 1]:
        _complete_stage(stage, at)
    if index + 1 < len(stages) and stages[index + 1]["status"] == "pending":
        stages[index + 1]["status"] = "running"
    state["progress"] = int((index + 1) / len(STAGES) * 100)
    state["current_stage"] = name
    return True


@dataclass(frozen=True, slots=True)
class Markers:
    """What LEGACY read from a finished run's stdout; every marker is optional."""

    decision: str
    quant_signal: Any
    llm_signal: Any
    confidence: Any


def parse_markers(lines: Iterable[str]) -> Markers:
    detail: dict[str, Any] = {}
    decision = "HOLD"
    for raw in lines:
        line = raw.strip()
        if line.startswith("SIGNAL_DETAIL:"):
            try:
                parsed = json.loads(line.split(":", 1)[1])
            except ValueError:
                continue
            if isinstance(parsed, dict):
                detail = parsed
        elif line.startswith("ANALYSIS_COMPLETE:"):
            decision = line.split(":", 1)[1].strip() or "HOLD"
    return Markers(
        decision=decision,
        quant_signal=detail.get("quant_signal"),
        llm_signal=detail.get("llm_signal"),
        confidence=detail.get("confidence"),
    )


def stage_name(line: str) -> str | None:
    stripped = line.strip()
    if stripped.startswith("STAGE:"):
        return stripped.split(":", 1)[1].strip()
    return None


def complete_analysis(state: dict[str, Any], markers: Markers, now: datetime) -> None:
    at = clock(now)
    state["status"] = "completed"
    state["progress"] = 100
    state["current_stage"] = STAGES[-1]
    for stage in state["stages"]:
        _complete_stage(stage, at)
    state["decision"] = markers.decision
    state["quant_signal"] = markers.quant_signal
    state["llm_signal"] = markers.llm_signal
    state["confidence"] = markers.confidence


def failure_text(stderr: str) -> str:
    return stderr[-STDERR_TAIL:] if stderr else UNKNOWN_ERROR


def fail(state: dict[str, Any], error: str) -> None:
    state["status"] = "failed"
    state["error"] = error


def recommendation(
    ticker: str, name: str, date: str, markers: Markers, now: datetime
) -> dict[str, Any]:
    """The flat LEGACY recommendation record saved per ticker by a portfolio batch."""
    return {
        "ticker": ticker,
        "name": name,
        "analysis_date": date,
        "decision": markers.decision,
        "quant_signal": markers.quant_signal,
        "llm_signal": markers.llm_signal,
        "confidence": markers.confidence,
        "created_at": now.isoformat(),
    }
