"""The contract mappers and projections: pure table tests over
docs/upstream-contract.md §2.2, §2.4, §2.5 and §4.5."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from app_service import contracts
from app_service.contracts import AnalysisOutcome, TaskError
from app_service.projections import (
    differing_fields,
    normalize_restored,
    to_legacy_state,
    to_public_task_payload,
    to_task_summary,
)
from app_service.recommendations import build_record, normalize


def _state() -> dict[str, Any]:
    return contracts.create_analysis_state(
        task_id="AAPL_20260413_120000_ab12cd",
        ticker="AAPL",
        date="2026-04-13",
        created_at="2026-04-13T12:00:00.000001",
        request_id="r" * 32,
    )


def _outcome(**kw: Any) -> AnalysisOutcome:
    values: dict[str, Any] = {
        "decision": "OVERWEIGHT",
        "quant_signal": "HOLD",
        "llm_signal": "BUY",
        "confidence": 0.63,
        "report_path": "results/AAPL/2026-04-13/complete_report.md",
    }
    values.update(kw)
    return AnalysisOutcome(**values)


def test_created_state_key_order() -> None:
    assert list(_state()) == [
        "task_id", "ticker", "date", "status", "progress", "current_stage", "created_at",
        "elapsed_seconds", "elapsed", "stages", "logs", "result", "error", "request_id",
        "executor_type", "contract_version", "result_ref", "degradation_summary",
        "data_quality_summary", "compat",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("stage", "progress", "statuses"),
    [
        pytest.param("analysts", 20, "CRPPP", id="analysts"),
        pytest.param("research", 40, "CCRPP", id="research"),
        pytest.param("trading", 60, "CCCRP", id="trading-skips-ahead"),
        pytest.param("portfolio", 100, "CCCCC", id="portfolio"),
    ],
)
def test_stage_algorithm(stage: str, progress: int, statuses: str) -> None:
    """`statuses` spells the five stages: C completed, R running, P pending."""
    names = {"C": "completed", "R": "running", "P": "pending"}
    state = _state()
    assert contracts.apply_stage(state, stage, clock="12:00:01", elapsed_seconds=3)
    assert state["progress"] == progress
    assert state["current_stage"] == stage
    assert [s["status"] for s in state["stages"]] == [names[c] for c in statuses]
    assert state["elapsed_seconds"] == 3


def test_stage_keeps_existing_timestamps_and_ignores_unknown_names() -> None:
    state = _state()
    contracts.apply_stage(state, "analysts", clock="12:00:01", elapsed_seconds=1)
    contracts.apply_stage(state, "research", clock="12:00:09", elapsed_seconds=9)
    assert [s["completed_at"] for s in state["stages"][:2]] == ["12:00:01", "12:00:09"]
    before = copy.deepcopy(state)
    assert not contracts.apply_stage(state, "graph_node_7", clock="12:00:10", elapsed_seconds=10)
    assert state == before


@pytest.mark.parametrize(
    ("outcome", "status", "degraded"),
    [
        pytest.param(_outcome(), "completed", False, id="clean"),
        pytest.param(
            _outcome(degrade_reason_codes=("quant_not_configured",)),
            "degraded_success",
            True,
            id="reason-codes",
        ),
        pytest.param(
            _outcome(data_quality={"state": "stale_data"}),
            "degraded_success",
            True,
            id="data-quality",
        ),
        pytest.param(_outcome(quant_signal=None), "degraded_success", True, id="missing-lane"),
    ],
)
def test_result_contract_degraded_rules(
    outcome: AnalysisOutcome, status: str, degraded: bool
) -> None:
    contract = contracts.build_result_contract(_state(), outcome, elapsed_seconds=161)
    assert contract["status"] == status
    assert contract["result"]["degraded"] is degraded
    assert contract["degradation"]["degraded"] is degraded


def test_result_contract_signals_and_completion() -> None:
    state = _state()
    contract = contracts.build_result_contract(
        state, _outcome(degrade_reason_codes=("quant_not_configured",)), elapsed_seconds=161
    )
    assert contract["result"]["signals"] == {
        "merged": {"direction": 1, "rating": "OVERWEIGHT"},
        "quant": {"direction": 0, "rating": "HOLD", "available": True},
        "llm": {"direction": 1, "rating": "BUY", "available": True},
    }
    contracts.complete_analysis(state, contract, result_ref="results/x/result.v1alpha1.json")
    assert state["status"] == "degraded_success"
    assert state["compat"] == {
        "decision": "OVERWEIGHT",
        "quant_signal": "HOLD",
        "llm_signal": "BUY",
        "confidence": 0.63,
    }
    assert state["degradation_summary"]["reason_codes"] == ["quant_not_configured"]
    assert state["result_ref"] == "results/x/result.v1alpha1.json"


def test_public_payload_key_order_and_compat_filtering() -> None:
    state = _state()
    state["compat"] = {"decision": "HOLD", "confidence": None}
    payload = to_public_task_payload(state, None, compat_fields=True)
    assert list(payload) == [
        "contract_version", "task_id", "request_id", "executor_type", "result_ref", "status",
        "created_at", "degradation_summary", "data_quality_summary", "error", "ticker", "date",
        "progress", "current_stage", "elapsed_seconds", "stages", "result", "compat",
    ]  # fmt: skip
    assert payload["compat"] == {"decision": "HOLD"}
    assert "compat" not in to_public_task_payload(state, None, compat_fields=False)
    assert "compat" not in to_public_task_payload(_state(), None, compat_fields=True)


def test_public_payload_prefers_the_contract() -> None:
    state = _state()
    contract = {"result": {"decision": "SELL"}, "error": None}
    state["error"] = {"code": "x", "message": "stale", "retryable": False}
    payload = to_public_task_payload(state, contract, compat_fields=True)
    assert payload["result"] == {"decision": "SELL"}
    assert payload["error"] is None


def test_summary_shape() -> None:
    summary = to_task_summary(_state(), None, compat_fields=True)
    assert list(summary) == [
        "task_id", "contract_version", "request_id", "executor_type", "result_ref", "status",
        "created_at", "error", "data_quality_summary", "degradation_summary", "ticker", "date",
        "progress", "current_stage", "summary",
    ]  # fmt: skip
    assert summary["summary"] == {"decision": None, "confidence": None, "degraded": False}


def test_portfolio_projections() -> None:
    state = contracts.create_portfolio_state(
        task_id="port_2026-04-13_0f3a9c", total=2, created_at="t", request_id="r"
    )
    payload = to_public_task_payload(state, None, compat_fields=True)
    assert list(payload)[-6:] == [
        "type",
        "total",
        "completed",
        "failed",
        "current_ticker",
        "results",
    ]
    summary = to_task_summary(state, None, compat_fields=True)
    assert "results" not in summary
    assert list(summary)[-5:] == ["type", "total", "completed", "failed", "current_ticker"]


def test_failure_and_cancel_are_structured() -> None:
    state = _state()
    contracts.apply_stage(state, "analysts", clock="c", elapsed_seconds=1)
    error = TaskError(
        code="analysis_failed",
        message="boom",
        retryable=False,
        reason_codes=("llm_signal_failed",),
        data_quality={"state": "unknown"},
    )
    contracts.fail_task(state, error, elapsed_seconds=4)
    assert state["error"] == {"code": "analysis_failed", "message": "boom", "retryable": False}
    assert state["progress"] == 20
    assert state["degradation_summary"]["degraded"] is True
    assert state["data_quality_summary"] == {"state": "unknown"}
    contracts.cancel_task(state)
    assert state["status"] == "cancelled"
    assert state["error"] == {"code": "cancelled", "message": "用户取消", "retryable": False}


@pytest.mark.parametrize(
    ("status", "legacy_status"),
    [
        pytest.param("degraded_success", "completed", id="degraded-success"),
        pytest.param("cancelled", "failed", id="cancelled"),
        pytest.param("running", "running", id="running"),
    ],
)
def test_legacy_projection(status: str, legacy_status: str) -> None:
    state = _state()
    state["status"] = status
    state["error"] = {"code": "c", "message": "用户取消", "retryable": False}
    legacy = to_legacy_state(state)
    assert list(legacy) == [
        "task_id", "ticker", "date", "status", "progress", "current_stage", "created_at",
        "elapsed", "stages", "logs", "decision", "quant_signal", "llm_signal", "confidence",
        "error",
    ]  # fmt: skip
    assert legacy["status"] == legacy_status
    assert legacy["error"] == "用户取消"
    assert legacy["stages"][0] == {"status": "running", "completed_at": None}


def test_restore_normalization_of_a_legacy_file() -> None:
    legacy = {
        "task_id": "AAPL_1",
        "status": "completed",
        "decision": "BUY",
        "quant_signal": "HOLD",
        "llm_signal": "BUY",
        "confidence": 0.7,
        "data_quality": {"state": "ok"},
        "compat": {"decision": "KEEP"},
    }
    state = normalize_restored(legacy)
    assert state["request_id"] == "AAPL_1"
    assert state["executor_type"] == "legacy_subprocess"
    assert state["contract_version"] == "v1alpha1"
    assert state["result_ref"] is None
    assert state["data_quality_summary"] == {"state": "ok"}
    assert state["compat"] == {
        "decision": "KEEP",
        "quant_signal": "HOLD",
        "llm_signal": "BUY",
        "confidence": 0.7,
    }
    assert state["result"] is None
    assert state["elapsed_seconds"] == 0


def test_restore_of_an_empty_legacy_task_gets_empty_compat() -> None:
    state = normalize_restored({"task_id": "T1", "status": "running"})
    assert state["compat"] == {}
    assert state["request_id"] == "T1"


def test_key_field_comparison_goes_through_the_legacy_mapping() -> None:
    new = _state()
    contract = contracts.build_result_contract(new, _outcome(), elapsed_seconds=1)
    contracts.complete_analysis(new, contract, result_ref="r")
    restored = normalize_restored(to_legacy_state(new))
    assert differing_fields(new, restored) == []
    restored["compat"]["decision"] = "SELL"
    restored["progress"] = 80
    assert differing_fields(new, restored) == ["progress", "decision"]


def test_recommendation_record_has_the_three_degraded_rules() -> None:
    record = build_record(
        ticker="AAPL",
        name="Apple",
        date="2026-04-13",
        created_at="t",
        outcome=_outcome(degrade_reason_codes=("quant_not_configured",)),
    )
    assert record["status"] == "degraded_success"
    assert record["degradation"] == {"degraded": True, "reason_codes": ["quant_not_configured"]}
    assert record["result"]["degraded"] is False
    assert "report" not in record["result"]
    assert record["compat"]["analysis_date"] == "2026-04-13"


def test_flat_recommendation_normalizes_to_contract_form() -> None:
    flat = {
        "ticker": "AAPL",
        "name": "Apple",
        "analysis_date": "2026-04-01",
        "decision": "OVERWEIGHT",
        "quant_signal": "HOLD",
        "llm_signal": None,
        "confidence": 0.42,
        "created_at": "t",
    }
    out = normalize(flat, ticker="AAPL", date="2026-04-13", compat_fields=True)
    assert out["contract_version"] == "v1alpha1"
    assert out["date"] == "2026-04-13"
    assert out["status"] == "completed"
    assert out["result"]["signals"]["quant"] == {
        "direction": 0,
        "rating": "HOLD",
        "available": True,
    }
    assert out["result"]["signals"]["llm"]["available"] is False
    assert out["result"]["degraded"] is True
    assert out["degradation"] == {"degraded": True, "reason_codes": []}
    assert out["compat"]["confidence"] == 0.42
    assert "compat" not in normalize(flat, ticker="AAPL", date="2026-04-13", compat_fields=False)


def test_contract_recommendation_passes_through() -> None:
    record = {"contract_version": "v1alpha1", "result": {"decision": "HOLD"}, "compat": {}}
    out = normalize(record, ticker="MSFT", date="2026-04-13", compat_fields=True)
    assert out == {**record, "ticker": "MSFT", "date": "2026-04-13"}
