"""Research node guard and provenance (docs/upstream-contract.md §5.7)."""

from __future__ import annotations

import threading

import pytest

from orchestrator.features import MarketFeatures
from orchestrator.research import (
    DebateState,
    NodeFn,
    extract_research_provenance,
    initial_debate_state,
    run_node,
    run_research,
)

FEATURES = MarketFeatures(
    last_date="2026-04-13",
    last_close=100.0,
    bars=40,
    trend_20d_pct=5.0,
    momentum_5d_pct=-2.0,
    rsi_14=50.0,
    band_position=0.5,
)


def _answer(text: str) -> NodeFn:
    def node(_state: DebateState, _cancel: threading.Event) -> str:
        return text

    return node


def _stuck(_state: DebateState, cancel: threading.Event) -> str:
    cancel.wait()
    return "late"


def _broken(_state: DebateState, _cancel: threading.Event) -> str:
    raise ConnectionError("socket closed")


def test_clean_run_is_full_debate() -> None:
    state = run_research(FEATURES, timeout=5)
    assert extract_research_provenance(state) == {
        "research_status": "full",
        "research_mode": "debate",
        "timed_out_nodes": [],
        "degraded_reason": None,
        "covered_dimensions": ["bull", "bear", "manager"],
        "manager_confidence": 1.0,
    }
    assert state["bull_history"].startswith("Bull Analyst: 20-day trend is up 5.00%")
    assert state["bear_history"].startswith("Bear Analyst: 5-day momentum is negative")
    assert state["investment_plan"].startswith("Recommendation: HOLD")
    assert state["count"] == 2


def test_manager_timeout_falls_back_to_hold() -> None:
    state = run_research(FEATURES, timeout=0.05, stalled={"manager"})
    assert state["research_status"] == "degraded"
    assert state["research_mode"] == "degraded_synthesis"
    assert state["timed_out_nodes"] == ["Research Manager"]
    assert state["degraded_reason"] == "research_manager_timeout"
    assert state["manager_confidence"] == 0.0
    assert state["investment_plan"].startswith("Recommendation: HOLD")
    assert state["judge_decision"] == state["investment_plan"] == state["current_response"]
    assert state["covered_dimensions"] == ["bull", "bear"]


def test_bull_success_records_coverage() -> None:
    state = initial_debate_state()
    run_node(state, "bull", _answer("Bull Analyst: up."), timeout=5)
    assert state["covered_dimensions"] == ["bull"]
    assert state["bull_history"] == state["history"] == state["current_response"]
    assert state["research_mode"] == "debate"
    assert state["count"] == 1


@pytest.mark.parametrize(
    ("status", "confidence"),
    [pytest.param("full", 1.0, id="full"), pytest.param("degraded", 0.5, id="degraded")],
)
def test_manager_success_sets_confidence(status: str, confidence: float) -> None:
    state = initial_debate_state()
    state["research_status"] = status
    run_node(state, "manager", _answer("Recommendation: BUY"), timeout=5)
    assert state["manager_confidence"] == confidence
    assert state["investment_plan"] == "Recommendation: BUY"


def test_exception_fallback_names_the_exception_without_timeout() -> None:
    state = initial_debate_state()
    run_node(state, "bear", _broken, timeout=5)
    assert state["degraded_reason"] == "bear_researcher_connectionerror"
    assert state["timed_out_nodes"] == []
    assert state["bear_history"].startswith("[DEGRADED] Bear Researcher")
    assert state["current_response"] == state["bear_history"]
    assert state["count"] == 1


def test_bull_timeout_marks_the_side() -> None:
    state = initial_debate_state()
    run_node(state, "bull", _stuck, timeout=0.05)
    assert state["timed_out_nodes"] == ["Bull Researcher"]
    assert state["degraded_reason"] == "bull_researcher_timeout"
    assert "[DEGRADED] Bull Researcher argument unavailable (timeout)" in state["history"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, None, id="none"),
        pytest.param("text", None, id="not-a-mapping"),
        pytest.param({"history": "x"}, None, id="no-provenance-keys"),
        pytest.param(
            {"research_status": "degraded", "history": "x"},
            {"research_status": "degraded"},
            id="subset",
        ),
    ],
)
def test_extract_research_provenance(value: object, expected: object) -> None:
    assert extract_research_provenance(value) == expected
