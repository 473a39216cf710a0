"""The research debate (bull, bear, manager) with a per-node time guard and provenance.

A stuck or failing node must not sink the analysis: the guard gives each node
`research_node_timeout_secs`, then records what was lost (the six provenance fields of
docs/upstream-contract.md §5.7) and substitutes a plainly marked fallback. A degraded debate is
metadata, never a failure.

The three nodes here are rule-based: they argue from the indicator readings of `features.observe`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from typing import Any

from orchestrator.features import MarketFeatures, observe

PROVENANCE_KEYS = (
    "research_status",
    "research_mode",
    "timed_out_nodes",
    "degraded_reason",
    "covered_dimensions",
    "manager_confidence",
)

NODES: dict[str, str] = {
    "bull": "Bull Researcher",
    "bear": "Bear Researcher",
    "manager": "Research Manager",
}

DebateState = dict[str, Any]
NodeFn = Callable[[DebateState, threading.Event], str]


def initial_debate_state() -> DebateState:
    return {
        "history": "",
        "bull_history": "",
        "bear_history": "",
        "current_response": "",
        "judge_decision": "",
        "investment_plan": "",
        "count": 0,
        "research_status": "full",
        "research_mode": "debate",
        "timed_out_nodes": [],
        "degraded_reason": None,
        "covered_dimensions": [],
        "manager_confidence": None,
    }


def extract_research_provenance(debate_state: object) -> dict[str, Any] | None:
    if not isinstance(debate_state, dict):
        return None
    found = {key: debate_state[key] for key in PROVENANCE_KEYS if key in debate_state}
    return found or None


def _append(state: DebateState, side_key: str, text: str) -> None:
    state["history"] = f"{state['history']}\n{text}".strip()
    state[side_key] = f"{state[side_key]}\n{text}".strip()
    state["current_response"] = text
    state["count"] += 1


def _record_success(state: DebateState, dimension: str, output: str) -> None:
    state["covered_dimensions"].append(dimension)
    if dimension == "manager":
        state["judge_decision"] = state["investment_plan"] = state["current_response"] = output
        if state["manager_confidence"] is None:
            state["manager_confidence"] = 1.0 if state["research_status"] == "full" else 0.5
    else:
        _append(state, f"{dimension}_history", output)


def _record_failure(state: DebateState, dimension: str, reason: str, timed_out: bool) -> None:
    name = NODES[dimension]
    state["research_status"] = "degraded"
    state["research_mode"] = "degraded_synthesis"
    state["degraded_reason"] = f"{name.lower().replace(' ', '_')}_{reason}"
    if timed_out:
        state["timed_out_nodes"].append(name)
    if dimension == "manager":
        state["manager_confidence"] = 0.0
        fallback = f"Recommendation: HOLD — the {name} was unavailable ({reason})."
        state["judge_decision"] = state["investment_plan"] = state["current_response"] = fallback
    else:
        _append(
            state, f"{dimension}_history", f"[DEGRADED] {name} argument unavailable ({reason})."
        )


def run_node(state: DebateState, dimension: str, node: NodeFn, timeout: float) -> None:
    """Run one node in a daemon thread; on timeout or exception, record the fallback instead.

    The thread is told to stop through an Event when it overruns; a daemon thread never keeps
    the CLI process alive if a node ignores that.
    """
    outcome: dict[str, str | BaseException] = {}
    cancel = threading.Event()

    def target() -> None:
        try:
            outcome["output"] = node(dict(state), cancel)
        except BaseException as exc:  # reported to the guard below, never lost
            outcome["error"] = exc

    worker = threading.Thread(target=target, name=f"research-{dimension}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        cancel.set()
        _record_failure(state, dimension, "timeout", timed_out=True)
        return
    error = outcome.get("error")
    if isinstance(error, BaseException):
        _record_failure(state, dimension, type(error).__name__.lower(), timed_out=False)
        return
    _record_success(state, dimension, str(outcome["output"]))


def rule_based_nodes(features: MarketFeatures) -> dict[str, NodeFn]:
    readings = observe(features)

    def bull(_state: DebateState, _cancel: threading.Event) -> str:
        points = "; ".join(readings.bullish) or "no indicator supports a long position"
        return f"Bull Analyst: {points}."

    def bear(_state: DebateState, _cancel: threading.Event) -> str:
        points = "; ".join(readings.bearish) or "no indicator argues against the stock"
        return f"Bear Analyst: {points}."

    def manager(state: DebateState, _cancel: threading.Event) -> str:
        heard = state["covered_dimensions"]
        bull_weight = len(readings.bullish) if "bull" in heard else 0
        bear_weight = len(readings.bearish) if "bear" in heard else 0
        stance = "HOLD"
        if bull_weight > bear_weight:
            stance = "OVERWEIGHT"
        elif bear_weight > bull_weight:
            stance = "UNDERWEIGHT"
        return (
            f"Recommendation: {stance} — weighed {bull_weight} bullish against "
            f"{bear_weight} bearish points (arguments heard: {', '.join(heard) or 'none'})."
        )

    return {"bull": bull, "bear": bear, "manager": manager}


def _never_answers(_state: DebateState, cancel: threading.Event) -> str:
    cancel.wait()
    return "cancelled"


def run_research(
    features: MarketFeatures,
    timeout: float,
    stalled: Collection[str] = (),
) -> DebateState:
    """Bull, then bear, then manager; `stalled` names nodes that never answer (a fault switch)."""
    state = initial_debate_state()
    chosen = rule_based_nodes(features)
    for dimension in NODES:
        node = _never_answers if dimension in stalled else chosen[dimension]
        run_node(state, dimension, node, timeout)
    return state
