"""Each divergence class is caught through the real proxy, with the right outcome and field.

Two fake dashboards (real aiohttp servers on port 0) answer the TradingAgents routes in their
own shapes — legacy raw state, app v1alpha1 projection — and the shadow diverges on purpose. The
real proxy app sits in front with the real diff-log sink (`JsonlDiffSink` under `tmp_path`) and a
Prometheus registry; every assertion reads what an operator would read: the JSONL lines, the
`/metrics` samples, and the bytes the client received (always the authoritative side's, exactly).

Ids are correlated the real way: the client starts the analysis through the proxy, both sides
mint their own task id, and status reads are rewritten for the shadow.

The reordered live-signal list is a websocket divergence (`/ws/orchestrator`); it is caught
through the real proxy and relay in `test_ws_divergences.py`
(`test_reordered_signals_are_a_mismatch_on_the_order`). Its HTTP analogue here is a task list
in another order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from shadowproxy.types import Side

from ..dashboards import (
    DATE,
    SHORT_TIMEOUT_S,
    STATUS_ROUTE,
    TASKS_ROUTE,
    Dashboard,
    Document,
    StackFactory,
    app_status,
    legacy_status,
)


@dataclass
class Divergence:
    """What the shadow does differently, and what the operator must then see."""

    legacy: Callable[[str], Document | None]
    app: Callable[[str], Document | None]
    outcome: str
    fields: list[tuple[str, str]]  # (field, kind) of the record's differences, in order
    reason: str | None = None  # the record's `reason`, when it is not derived from the fields
    app_status_code: int = 200
    app_delay_s: float = 0.0  # > 0: the shadow answers after SHORT_TIMEOUT_S
    authoritative: Side = Side.LEGACY


def same(**result: Any) -> tuple[Callable[[str], Document], Callable[[str], Document]]:
    return (lambda t: legacy_status(t)), (lambda t: app_status(t, **result))


CASES = {
    "decision-changed": Divergence(
        *same(decision="UNDERWEIGHT"), "mismatch", [("decision", "changed")]
    ),
    "decision-changed-app-authoritative": Divergence(
        *same(decision="UNDERWEIGHT"),
        "mismatch",
        [("decision", "changed")],
        authoritative=Side.APP,
    ),
    "confidence-beyond-tolerance": Divergence(
        *same(confidence=0.64), "mismatch", [("confidence", "changed")]
    ),
    "confidence-within-tolerance": Divergence(*same(confidence=0.634), "match", []),
    "error-text-lost": Divergence(
        lambda t: legacy_status(
            t, status="failed", error="Traceback ...\nANALYSIS_ERROR:quant backtest failed\n"
        ),
        lambda t: app_status(
            t, status="failed", error={"code": "analysis_failed", "message": "", "retryable": False}
        ),
        "mismatch",
        [("error.message", "changed")],
    ),
    "status-vocabulary-changed": Divergence(
        lambda t: legacy_status(t),
        lambda t: app_status(t, status="succeeded"),
        "mismatch",
        [("status", "changed")],
    ),
    "missing-field": Divergence(
        lambda t: legacy_status(t),
        lambda t: {k: v for k, v in app_status(t).items() if k != "current_stage"},
        "mismatch",
        [("current_stage", "missing")],
    ),
    "shadow-500": Divergence(
        *same(), "shadow_error", [], reason="shadow app: HTTP 500", app_status_code=500
    ),
    "shadow-timeout": Divergence(
        *same(), "shadow_error", [], reason="shadow app: timed out", app_delay_s=3
    ),
    "404-for-a-task-the-other-side-has": Divergence(
        lambda t: legacy_status(t), lambda t: None, "mismatch", [("status_code", "changed")]
    ),
}


@pytest.mark.parametrize("case", [pytest.param(c, id=name) for name, c in CASES.items()])
async def test_a_status_divergence_is_caught_with_its_outcome_and_field(
    start_stack: StackFactory, case: Divergence
) -> None:
    legacy = Dashboard(Side.LEGACY, case.legacy)
    app = Dashboard(Side.APP, case.app, status_code=case.app_status_code, delay_s=case.app_delay_s)
    timed_out = case.app_delay_s > 0
    timeout = {"SHADOWPROXY_SHADOW_TIMEOUT_S": str(SHORT_TIMEOUT_S)} if timed_out else {}
    stack = await start_stack(legacy, app, case.authoritative, **timeout)
    started = await stack.client.post("/api/analysis/start", json={"ticker": "AAPL", "date": DATE})
    task_id = (await started.json())["task_id"]
    assert task_id == stack.side(case.authoritative).task_id("AAPL")

    response = await stack.client.get(f"/api/analysis/status/{task_id}")
    body = await response.read()
    authoritative = stack.side(case.authoritative)
    assert body == authoritative.served[-1], "the client gets the authoritative bytes"
    assert response.headers["X-Shadowproxy-Authoritative"] == case.authoritative.value

    start_record, record = await stack.records(2)
    assert start_record["outcome"] == "match"
    assert record["route"] == STATUS_ROUTE
    assert record["authoritative"] == case.authoritative.value
    assert record["task_id"] == legacy.task_id("AAPL")  # the legacy-side id names the analysis
    assert record["outcome"] == case.outcome, record
    assert [(d["field"], d["kind"]) for d in record["differences"]] == case.fields
    if case.reason is not None:
        assert record["reason"] == case.reason
    app_status = None if timed_out else case.app_status_code
    assert (record["app"]["status"], record["app"]["error"]) == (
        404 if case.app(task_id) is None else app_status,
        "timed out" if timed_out else None,
    )
    status_labels = {"route_group": "analysis", "route": STATUS_ROUTE}
    assert stack.metric("shadowproxy_comparisons_total", **status_labels, outcome=case.outcome) == 1
    for name, _ in case.fields:
        labels = {"route_group": "analysis", "field": name}
        assert stack.metric("shadowproxy_field_mismatches_total", **labels) == 1


@pytest.mark.parametrize("authoritative", [Side.LEGACY, Side.APP])
async def test_a_reordered_task_list_is_a_mismatch_on_the_order(
    start_stack: StackFactory, authoritative: Side
) -> None:
    legacy = Dashboard(Side.LEGACY, legacy_status)
    app = Dashboard(Side.APP, app_status, reverse_list=True)
    stack = await start_stack(legacy, app, authoritative)
    for ticker in ("AAPL", "MSFT"):
        await stack.client.post("/api/analysis/start", json={"ticker": ticker, "date": DATE})
    response = await stack.client.get(TASKS_ROUTE)
    assert await response.read() == stack.side(authoritative).served[-1]

    *_, record = await stack.records(3)
    assert record["route"] == TASKS_ROUTE
    assert record["outcome"] == "mismatch"
    order = [legacy.task_id("AAPL"), legacy.task_id("MSFT")]  # app ids mapped to their twins
    assert record["differences"] == [
        {"field": "tasks.order", "kind": "reordered", "legacy": order, "app": order[::-1]}
    ]
    labels = {"route_group": "analysis", "route": TASKS_ROUTE, "outcome": "mismatch"}
    assert stack.metric("shadowproxy_comparisons_total", **labels) == 1
    assert (
        stack.metric(
            "shadowproxy_field_mismatches_total", route_group="analysis", field="tasks.order"
        )
        == 1
    )
