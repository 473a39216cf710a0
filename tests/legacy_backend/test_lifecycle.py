"""Pure lifecycle pieces: ids, the stage algorithm, completion, markers."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest

from legacy_backend.lifecycle import (
    apply_stage,
    complete_analysis,
    make_batch_id,
    make_task_id,
    new_analysis_state,
    parse_markers,
)

NOW = datetime(2026, 4, 13, 12, 0, 0, 1)


def test_ids_use_local_time_and_six_hex() -> None:
    assert re.fullmatch(r"AAPL_20260413_120000_[0-9a-f]{6}", make_task_id("AAPL", NOW))
    assert re.fullmatch(r"port_2026-04-13_[0-9a-f]{6}", make_batch_id(NOW))


def statuses(state: dict[str, Any]) -> list[str]:
    return [stage["status"] for stage in state["stages"]]


@pytest.mark.parametrize(
    ("names", "progress", "current", "expected"),
    [
        pytest.param(
            ["analysts"],
            20,
            "analysts",
            ["completed", "running", "pending", "pending", "pending"],
            id="first",
        ),
        pytest.param(
            ["research"],
            40,
            "research",
            ["completed", "completed", "running", "pending", "pending"],
            id="skip-backfills",
        ),
        pytest.param(
            ["trading", "research"],
            40,
            "research",
            ["completed", "completed", "completed", "running", "pending"],
            id="out-of-order",
        ),
        pytest.param(["portfolio"], 100, "portfolio", ["completed"] * 5, id="last"),
        pytest.param(
            ["warmup"],
            0,
            "analysts",
            ["running", "pending", "pending", "pending", "pending"],
            id="unknown-ignored",
        ),
    ],
)
def test_apply_stage(names: list[str], progress: int, current: str, expected: list[str]) -> None:
    state = new_analysis_state("T", "AAPL", "2026-04-13", NOW)
    for name in names:
        apply_stage(state, name, NOW)
    assert (state["progress"], state["current_stage"], statuses(state)) == (
        progress,
        current,
        expected,
    )


def test_stage_keeps_first_completion_time_and_completion_backfills() -> None:
    state = new_analysis_state("T", "AAPL", "2026-04-13", NOW)
    apply_stage(state, "analysts", datetime(2026, 4, 13, 12, 0, 3))
    apply_stage(state, "research", datetime(2026, 4, 13, 12, 0, 9))
    complete_analysis(state, parse_markers([]), datetime(2026, 4, 13, 12, 2, 40))
    assert [stage["completed_at"] for stage in state["stages"]] == [
        "12:00:03",
        "12:00:09",
        "12:02:40",
        "12:02:40",
        "12:02:40",
    ]
    assert (state["decision"], state["confidence"], state["elapsed"]) == ("HOLD", None, 0)


@pytest.mark.parametrize(
    ("lines", "decision", "llm", "confidence"),
    [
        pytest.param([], "HOLD", None, None, id="nothing"),
        pytest.param(["ANALYSIS_COMPLETE:BUY\n"], "BUY", None, None, id="decision-only"),
        pytest.param(
            [
                'SIGNAL_DETAIL:{"llm_signal":"SELL","quant_signal":"HOLD","confidence":0.5}',
                "ANALYSIS_COMPLETE:UNDERWEIGHT",
            ],
            "UNDERWEIGHT",
            "SELL",
            0.5,
            id="all",
        ),
        pytest.param(
            ["SIGNAL_DETAIL:{broken", "ANALYSIS_COMPLETE:HOLD"],
            "HOLD",
            None,
            None,
            id="bad-json-ignored",
        ),
    ],
)
def test_parse_markers(
    lines: list[str], decision: str, llm: str | None, confidence: float | None
) -> None:
    markers = parse_markers(lines)
    assert (markers.decision, markers.llm_signal, markers.confidence) == (decision, llm, confidence)
