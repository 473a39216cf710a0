"""The two dashboard generations against what each backend really answers.

The documents are shaped as the backends build them: legacy's raw task state
(legacy_backend/lifecycle.py, runner) and its task list and recommendation records
(analysis_routes.task_summary, lifecycle.recommendation); the app's public projection, task
summary and normalized recommendation (app_service/projections.py, recommendations.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from shadowproxy.contracts.builtin import (
    BUILTIN_CONTRACTS,
    LEGACY_DASHBOARD,
    V1ALPHA1_DASHBOARD,
)
from shadowproxy.contracts.check import violations
from shadowproxy.contracts.inspect import Inspector
from shadowproxy.contracts.model import Surface
from shadowproxy.types import JSONValue, Role, Side

STATUS = Surface("GET", "/api/analysis/status/{task_id}")
SOCKET = Surface("GET", "/ws/analysis/{task_id}", "progress")
TASKS = Surface("GET", "/api/analysis/tasks")
RECOMMENDATIONS = Surface("GET", "/api/portfolio/recommendations")
STAGES = ("analysts", "research", "trading", "risk", "portfolio")
LEGACY_ID, APP_ID = "AAPL_20260413_120000_ab12cd", "AAPL_20260413_120000_9f8e7d"
Document = dict[str, Any]


def legacy_status(status: str = "completed", **changes: Any) -> Document:
    done = status == "completed"
    return {
        "task_id": LEGACY_ID,
        "ticker": "AAPL",
        "date": "2026-04-13",
        "status": status,
        "progress": 100 if done else 40,
        "current_stage": "portfolio" if done else "research",
        "created_at": "2026-04-13T12:00:00.000001",
        "elapsed": 0,
        "stages": [{"status": "completed", "completed_at": "12:00:03"} for _ in STAGES],
        "logs": [],
        "decision": "UNDERWEIGHT" if done else None,
        "quant_signal": "SELL" if done else None,
        "llm_signal": "HOLD" if done else None,
        "confidence": 0.6153846153846154 if done else None,
        "error": "用户取消" if status == "failed" else None,
    } | changes


def app_status(status: str = "degraded_success", **changes: Any) -> Document:
    finished = status in ("completed", "degraded_success")
    result = {
        "decision": "UNDERWEIGHT",
        "confidence": 0.6153846153846154,
        "signals": {
            "merged": {"direction": -1, "rating": "UNDERWEIGHT"},
            "quant": {"direction": -1, "rating": "SELL", "available": True},
            "llm": {"direction": 0, "rating": "HOLD", "available": True},
        },
        "degraded": True,
        "report": {"path": "results/AAPL/2026-04-13/complete_report.md", "available": True},
    }
    document: Document = {
        "contract_version": "v1alpha1",
        "task_id": APP_ID,
        "request_id": "3f2c8d0e9a7b4c1d8e2f3a4b5c6d7e9f",
        "executor_type": "legacy_subprocess",
        "result_ref": f"results/{APP_ID}/result.v1alpha1.json" if finished else None,
        "status": status,
        "created_at": "2026-04-13T12:00:00.412345",
        "degradation_summary": {"degraded": True, "reason_codes": ["quant_not_configured"]},
        "data_quality_summary": None,
        "error": None,
        "ticker": "AAPL",
        "date": "2026-04-13",
        "progress": 100 if finished else 40,
        "current_stage": "portfolio",
        "elapsed_seconds": 161,
        "stages": [{"name": n, "status": "completed", "completed_at": "12:00:04"} for n in STAGES],
        "result": result if finished else None,
    }
    if finished:
        document["compat"] = {
            "decision": "UNDERWEIGHT",
            "quant_signal": "SELL",
            "llm_signal": "HOLD",
            "confidence": 0.6153846153846154,
        }
    return document | changes


def portfolio_status(status: str = "completed") -> Document:
    """A batch's status document: the same in both backends but for the app's extra keys."""
    return {
        "task_id": "port_2026-04-13_0f3a9c",
        "type": "portfolio",
        "status": status,
        "total": 2,
        "completed": 2,
        "failed": 0,
        "current_ticker": None,
        "results": [],
        "error": None,
        "created_at": "2026-04-13T12:00:00",
    }


def breaks(consumer: str, surface: Surface, document: JSONValue) -> list[tuple[str, str, Any]]:
    reads = BUILTIN_CONTRACTS[consumer].reads[surface]
    return [(v.field, v.kind.value, v.got) for v in violations(reads, document)]


def known(consumer: str, surface: Surface, document: JSONValue) -> list[str | None]:
    return [v.known for v in violations(BUILTIN_CONTRACTS[consumer].reads[surface], document)]


# ---------------------------------------------------------------- the two contracts


def test_the_builtin_contracts() -> None:
    assert list(BUILTIN_CONTRACTS) == [LEGACY_DASHBOARD, V1ALPHA1_DASHBOARD]
    legacy, v1alpha1 = BUILTIN_CONTRACTS.values()
    assert legacy.routes() == v1alpha1.routes()
    assert {STATUS, SOCKET, TASKS, RECOMMENDATIONS} <= set(legacy.reads)
    assert set(legacy.reads) == set(v1alpha1.reads)
    # the routes both generations read alike
    for surface in (Surface("GET", "/api/config/check"), Surface("GET", "/api/stocks/screen")):
        assert legacy.reads[surface] == v1alpha1.reads[surface]
    # the status document and the progress frame are read the same way
    for contract in (legacy, v1alpha1):
        assert contract.reads[STATUS] == contract.reads[SOCKET]


# ---------------------------------------------------------------- the status document


def test_legacy_dashboard_on_both_status_documents() -> None:
    assert breaks(LEGACY_DASHBOARD, STATUS, legacy_status()) == []
    assert sorted(breaks(LEGACY_DASHBOARD, STATUS, app_status())) == [
        ("confidence", "missing", "absent"),
        ("decision", "missing", "absent"),
        ("llm_signal", "missing", "absent"),
        ("quant_signal", "missing", "absent"),
        ("status", "unknown_value", "degraded_success"),
    ]


def test_legacy_dashboard_on_a_completed_app_document() -> None:
    """Without degraded_success the status is understood; the flat result is still gone."""
    assert sorted(breaks(LEGACY_DASHBOARD, STATUS, app_status("completed"))) == [
        ("confidence", "missing", "absent"),
        ("decision", "missing", "absent"),
        ("llm_signal", "missing", "absent"),
        ("quant_signal", "missing", "absent"),
    ]


def test_v1alpha1_dashboard_on_both_status_documents() -> None:
    assert breaks(V1ALPHA1_DASHBOARD, STATUS, app_status()) == []
    assert breaks(V1ALPHA1_DASHBOARD, STATUS, app_status("completed")) == []
    assert sorted(breaks(V1ALPHA1_DASHBOARD, STATUS, legacy_status())) == [
        ("result.confidence", "missing", "absent"),
        ("result.decision", "missing", "absent"),
        ("result.signals.llm.rating", "missing", "absent"),
        ("result.signals.quant.rating", "missing", "absent"),
    ]


def test_v1alpha1_dashboard_falls_back_to_compat_and_back() -> None:
    compat_only = app_status(result=None)
    assert breaks(V1ALPHA1_DASHBOARD, STATUS, compat_only) == []
    no_compat = app_status()
    del no_compat["compat"]
    assert breaks(V1ALPHA1_DASHBOARD, STATUS, no_compat) == []
    neither = app_status(result=None)
    del neither["compat"]
    assert [name for name, _, _ in breaks(V1ALPHA1_DASHBOARD, STATUS, neither)] == [
        "result.decision",
        "result.signals.llm.rating",
        "result.signals.quant.rating",
        "result.confidence",
    ]


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(legacy_status("running"), id="legacy running"),
        pytest.param(legacy_status("failed"), id="legacy failed (cancelled)"),
        pytest.param(legacy_status("pending"), id="legacy pending"),
        pytest.param(app_status("running"), id="app running"),
        pytest.param(app_status("failed"), id="app failed"),
        pytest.param(
            app_status(
                "cancelled", error={"code": "cancelled", "message": "x", "retryable": False}
            ),
            id="app cancelled",
        ),
        pytest.param(portfolio_status(), id="portfolio batch done"),
        pytest.param(portfolio_status("running"), id="portfolio batch running"),
    ],
)
def test_no_result_is_read_before_there_is_one(document: Document) -> None:
    for consumer in BUILTIN_CONTRACTS:
        assert breaks(consumer, STATUS, document) == []


def test_a_confidence_may_be_a_number_or_text_but_not_an_object() -> None:
    assert breaks(LEGACY_DASHBOARD, STATUS, legacy_status(confidence="61%")) == []
    assert breaks(LEGACY_DASHBOARD, STATUS, legacy_status(confidence={"value": 0.6})) == [
        ("confidence", "type_changed", "object")
    ]


def test_optional_monitor_reads_still_check_their_type() -> None:
    document = legacy_status(progress="100", stages=[{"status": 1}])
    assert breaks(LEGACY_DASHBOARD, STATUS, document) == [
        ("progress", "type_changed", "string"),
        ("stages[].status", "type_changed", "number"),
    ]


def test_progress_frames_are_read_as_the_status_document() -> None:
    legacy_frame = {"type": "progress", **legacy_status()}
    app_frame = {"type": "progress", **app_status()}
    for consumer in BUILTIN_CONTRACTS.values():
        assert SOCKET in consumer.reads  # frames are read by their `type`
    assert breaks(LEGACY_DASHBOARD, SOCKET, legacy_frame) == []
    assert breaks(V1ALPHA1_DASHBOARD, SOCKET, app_frame) == []
    assert len(breaks(LEGACY_DASHBOARD, SOCKET, app_frame)) == 5
    # the portfolio socket's frames are `type: "portfolio"`, which no contract reads
    portfolio = Surface("GET", SOCKET.route, str(portfolio_status().get("type", "portfolio")))
    for consumer in BUILTIN_CONTRACTS.values():
        assert portfolio not in consumer.reads


# ---------------------------------------------------------------- the task list


def legacy_row(status: str = "completed", **changes: Any) -> Document:
    """analysis_routes.task_summary of a legacy analysis state."""
    done = status == "completed"
    return {
        "task_id": LEGACY_ID,
        "ticker": "AAPL",
        "date": "2026-04-13",
        "status": status,
        "progress": 100 if done else 40,
        "decision": "UNDERWEIGHT" if done else None,
        "error": "用户取消" if status == "failed" else None,
        "created_at": "2026-04-13T12:00:00.000001",
    } | changes


def app_row(status: str = "degraded_success", **changes: Any) -> Document:
    """projections.to_task_summary of an app analysis state (compat fields on)."""
    finished = status in ("completed", "degraded_success")
    row: Document = {
        "task_id": APP_ID,
        "contract_version": "v1alpha1",
        "request_id": "3f2c8d0e9a7b4c1d8e2f3a4b5c6d7e9f",
        "executor_type": "legacy_subprocess",
        "result_ref": f"results/{APP_ID}/result.v1alpha1.json" if finished else None,
        "status": status,
        "created_at": "2026-04-13T12:00:00.412345",
        "error": None,
        "data_quality_summary": None,
        "degradation_summary": None,
        "ticker": "AAPL",
        "date": "2026-04-13",
        "progress": 100 if finished else 40,
        "current_stage": "portfolio",
        "summary": {
            "decision": "UNDERWEIGHT" if finished else None,
            "confidence": 0.62 if finished else None,
            "degraded": status == "degraded_success",
        },
    }
    if finished:
        row["compat"] = {"decision": "UNDERWEIGHT", "confidence": 0.62}
    return row | changes


def app_portfolio_row(status: str = "completed") -> Document:
    """projections.to_task_summary of an app batch: `type`, no summary, no compat."""
    return {
        "task_id": "port_2026-04-13_77aa01",
        "contract_version": "v1alpha1",
        "request_id": "port_2026-04-13_77aa01",
        "executor_type": "legacy_subprocess",
        "result_ref": None,
        "status": status,
        "created_at": "2026-04-13T12:00:00",
        "error": None,
        "data_quality_summary": None,
        "degradation_summary": None,
        "type": "portfolio",
        "total": 2,
        "completed": 2,
        "failed": 0,
        "current_ticker": None,
    }


def legacy_list(*rows: Document) -> Document:
    return {"tasks": list(rows), "total": len(rows)}


def app_list(*rows: Document) -> Document:
    return {"contract_version": "v1alpha1", "tasks": list(rows), "total": len(rows)}


APP_ERROR = {"code": "analysis_failed", "message": "boom", "retryable": True}
CANCELLED = {"code": "cancelled", "message": "cancelled by the user", "retryable": False}


def test_each_dashboard_reads_its_own_backends_task_list() -> None:
    legacy = legacy_list(legacy_row(), legacy_row("running"), legacy_row("failed"))
    assert breaks(LEGACY_DASHBOARD, TASKS, legacy) == []
    app = app_list(app_row(), app_row("completed"), app_row("running"), app_portfolio_row())
    assert breaks(V1ALPHA1_DASHBOARD, TASKS, app) == []
    assert breaks(V1ALPHA1_DASHBOARD, TASKS, legacy) == [
        ("tasks[].result.decision", "missing", "absent")
    ]
    assert breaks(LEGACY_DASHBOARD, TASKS, app) == [
        ("tasks[].status", "unknown_value", "degraded_success"),
        ("tasks[].decision", "missing", "absent"),
    ]


def test_an_error_object_breaks_only_the_legacy_dashboard() -> None:
    document = app_list(app_row("completed"), app_row("failed", error=APP_ERROR))
    assert breaks(LEGACY_DASHBOARD, TASKS, document) == [
        ("tasks[].error", "type_changed", "object"),
        ("tasks[].decision", "missing", "absent"),  # the completed row
    ]
    assert breaks(V1ALPHA1_DASHBOARD, TASKS, document) == []
    text = app_list(app_row("failed", error="boom"))
    assert breaks(LEGACY_DASHBOARD, TASKS, text) == []


def test_cancelled_is_unknown_to_both_and_known_to_the_v1alpha1_one() -> None:
    document = app_list(app_row("running"), app_row("cancelled", error=CANCELLED))
    assert breaks(LEGACY_DASHBOARD, TASKS, document) == [
        ("tasks[].status", "unknown_value", "cancelled"),
        ("tasks[].error", "type_changed", "object"),
    ]
    assert known(LEGACY_DASHBOARD, TASKS, document) == [None, None]
    assert breaks(V1ALPHA1_DASHBOARD, TASKS, document) == [
        ("tasks[].status", "unknown_value", "cancelled")
    ]
    (reason,) = known(V1ALPHA1_DASHBOARD, TASKS, document)
    assert reason is not None
    assert "cancelled" in reason


def test_a_known_cancelled_row_does_not_hide_an_unknown_status() -> None:
    document = app_list(app_row("cancelled"), app_row("paused"))
    assert breaks(V1ALPHA1_DASHBOARD, TASKS, document) == [
        ("tasks[].status", "unknown_value", "paused")
    ]
    assert known(V1ALPHA1_DASHBOARD, TASKS, document) == [None]


def test_the_known_cancelled_break_is_reported_and_not_counted() -> None:
    inspector = Inspector(list(BUILTIN_CONTRACTS.values()), None)
    app = app_list(app_row("cancelled", error=CANCELLED))
    legacy = legacy_list(legacy_row("failed"))
    findings = inspector.answers("GET", TASKS.route, Side.APP, legacy, app)
    assert findings is not None
    v1alpha1 = [b for b in findings.breaks if b.consumer == V1ALPHA1_DASHBOARD]
    assert [(b.field, b.side, b.counts) for b in v1alpha1] == [
        ("tasks[].status", Role.AUTHORITATIVE, False)
    ]
    assert not findings.broken(V1ALPHA1_DASHBOARD, Role.AUTHORITATIVE)
    assert findings.broken(LEGACY_DASHBOARD, Role.AUTHORITATIVE)


@pytest.mark.parametrize("consumer", [LEGACY_DASHBOARD, V1ALPHA1_DASHBOARD])
def test_portfolio_rows_need_no_decision(consumer: str) -> None:
    batch = app_portfolio_row("completed")
    assert "decision" not in batch
    assert breaks(consumer, TASKS, app_list(batch)) == []
    assert breaks(consumer, TASKS, legacy_list(batch | {"decision": None})) == []


def test_unfinished_rows_need_no_decision() -> None:
    for status in ("pending", "running", "failed"):
        assert breaks(LEGACY_DASHBOARD, TASKS, legacy_list(legacy_row(status))) == []
        assert breaks(V1ALPHA1_DASHBOARD, TASKS, app_list(app_row(status))) == []


def test_an_empty_task_list_breaks_no_one() -> None:
    for consumer in BUILTIN_CONTRACTS:
        assert breaks(consumer, TASKS, legacy_list()) == []
        assert breaks(consumer, TASKS, app_list()) == []
        assert breaks(consumer, TASKS, {"total": 0}) == [("tasks", "missing", "absent")]


# ---------------------------------------------------------------- recommendations


def legacy_recommendation(ticker: str = "AAPL") -> Document:
    """lifecycle.recommendation: the flat record a legacy batch saves."""
    return {
        "ticker": ticker,
        "name": ticker,
        "analysis_date": "2026-04-13",
        "decision": "BUY",
        "quant_signal": "BUY",
        "llm_signal": "HOLD",
        "confidence": 0.7,
        "created_at": "2026-04-13T12:03:00",
    }


def app_recommendation(ticker: str = "AAPL", *, compat: bool = True) -> Document:
    """recommendations.normalize: the contract-shaped record the app serves."""
    record: Document = {
        "contract_version": "v1alpha1",
        "ticker": ticker,
        "name": ticker,
        "date": "2026-04-13",
        "status": "completed",
        "created_at": "2026-04-13T12:03:00",
        "result": {
            "decision": "BUY",
            "confidence": 0.7,
            "signals": {
                "merged": {"direction": 1, "rating": "BUY"},
                "quant": {"direction": 1, "rating": "BUY", "available": True},
                "llm": {"direction": 0, "rating": "HOLD", "available": True},
            },
            "degraded": False,
        },
        "degradation": {"degraded": False, "reason_codes": []},
        "data_quality": None,
    }
    if compat:
        record["compat"] = {
            "analysis_date": "2026-04-13",
            "decision": "BUY",
            "quant_signal": "BUY",
            "llm_signal": "HOLD",
            "confidence": 0.7,
        }
    return record


def page(*records: Document, app: bool) -> Document:
    document: Document = {"recommendations": list(records), "total": len(records)}
    document |= {"limit": 50, "offset": 0}
    return {"contract_version": "v1alpha1", **document} if app else document


def test_recommendations_flat_versus_contract_shaped() -> None:
    legacy = page(legacy_recommendation(), legacy_recommendation("MSFT"), app=False)
    app = page(app_recommendation(), app_recommendation("MSFT"), app=True)
    assert breaks(LEGACY_DASHBOARD, RECOMMENDATIONS, legacy) == []
    assert breaks(LEGACY_DASHBOARD, RECOMMENDATIONS, app) == [
        ("recommendations[].decision", "missing", "absent"),
        ("recommendations[].analysis_date", "missing", "absent"),
    ]
    assert breaks(V1ALPHA1_DASHBOARD, RECOMMENDATIONS, app) == []
    assert breaks(V1ALPHA1_DASHBOARD, RECOMMENDATIONS, legacy) == [
        ("recommendations[].result.decision", "missing", "absent"),
        ("recommendations[].date", "missing", "absent"),
    ]


def test_recommendations_read_compat_or_result() -> None:
    without_compat = page(app_recommendation(compat=False), app=True)
    assert breaks(V1ALPHA1_DASHBOARD, RECOMMENDATIONS, without_compat) == []
    compat_only = app_recommendation()
    del compat_only["result"], compat_only["date"]
    assert breaks(V1ALPHA1_DASHBOARD, RECOMMENDATIONS, page(compat_only, app=True)) == []


def test_an_empty_recommendation_page_breaks_no_one() -> None:
    for consumer in BUILTIN_CONTRACTS:
        assert breaks(consumer, RECOMMENDATIONS, page(app=False)) == []


# ---------------------------------------------------------------- the shared routes


@pytest.mark.parametrize("consumer", [LEGACY_DASHBOARD, V1ALPHA1_DASHBOARD])
def test_shared_routes(consumer: str) -> None:
    config = Surface("GET", "/api/config/check")
    assert breaks(consumer, config, {"configured": True}) == []
    assert breaks(consumer, config, {"configured": False}) == [
        ("configured", "unknown_value", False)
    ]
    assert breaks(consumer, config, {"configured": "yes"}) == [
        ("configured", "type_changed", "string")
    ]
    accounts = Surface("GET", "/api/portfolio/accounts")
    assert breaks(consumer, accounts, {"accounts": ["默认账户", "ira"]}) == []
    assert breaks(consumer, accounts, {"accounts": [{"name": "ira"}]}) == [
        ("accounts[]", "type_changed", "object")
    ]
    positions = Surface("GET", "/api/portfolio/positions")
    row: Document = {"position_id": 3, "ticker": "AAPL", "cost_price": 180.5, "current_price": None}
    assert breaks(consumer, positions, {"positions": [row]}) == []
    assert breaks(consumer, positions, {"positions": [row | {"unrealized_pnl": "1.5"}]}) == [
        ("positions[].unrealized_pnl", "type_changed", "string")
    ]
    start = Surface("POST", "/api/analysis/start")
    assert breaks(consumer, start, {"task_id": LEGACY_ID, "status": "running"}) == []
    assert breaks(consumer, start, {"detail": "Not Found"}) == [("task_id", "missing", "absent")]
