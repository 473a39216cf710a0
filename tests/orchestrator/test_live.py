"""Live mode: the exact NEW per-signal documents of docs/upstream-contract.md §3."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from orchestrator.config import OrchestratorConfig
from orchestrator.contracts import CombinedSignalFailure, FinalSignal, Signal
from orchestrator.faults import Faults
from orchestrator.live import LiveMode, failure_document, success_document
from orchestrator.orchestrator import TradingOrchestrator

STAMP = datetime(2026, 4, 11, 12, 1, tzinfo=UTC)
RESEARCH = {
    "research_status": "degraded",
    "research_mode": "degraded_synthesis",
    "timed_out_nodes": ["Bull Researcher"],
    "degraded_reason": "bull_researcher_timeout",
    "covered_dimensions": ["bear", "manager"],
    "manager_confidence": 0.5,
}


def test_degraded_success_document() -> None:
    llm = Signal(ticker="AAPL", direction=-1, confidence=0.6, source="llm", timestamp=STAMP)
    final = FinalSignal(
        ticker="AAPL",
        direction=-1,
        confidence=0.42,
        quant_signal=None,
        llm_signal=llm,
        timestamp=STAMP,
        degrade_reason_codes=("quant_signal_failed",),
        metadata={
            "source_diagnostics": {"quant": {"reason_code": "quant_signal_failed"}},
            "data_quality": {"state": "stale_data", "source": "quant"},
            "research": RESEARCH,
        },
    )
    assert success_document("AAPL", "2026-04-11", final) == {
        "contract_version": "v1alpha1",
        "ticker": "AAPL",
        "date": "2026-04-11",
        "status": "degraded_success",
        "result": {
            "direction": -1,
            "confidence": 0.42,
            "quant_direction": None,
            "llm_direction": -1,
            "timestamp": "2026-04-11T12:01:00+00:00",
        },
        "error": None,
        "degradation": {
            "degraded": True,
            "reason_codes": ["quant_signal_failed"],
            "source_diagnostics": {"quant": {"reason_code": "quant_signal_failed"}},
        },
        "data_quality": {"state": "stale_data", "source": "quant"},
        "research": RESEARCH,
    }


def test_completed_document_has_empty_diagnostics() -> None:
    quant = Signal(ticker="AAPL", direction=1, confidence=0.8, source="quant", timestamp=STAMP)
    llm = Signal(ticker="AAPL", direction=1, confidence=0.9, source="llm", timestamp=STAMP)
    final = FinalSignal("AAPL", 1, 1.0, quant, llm, timestamp=STAMP)
    document = success_document("AAPL", "2026-04-11", final)
    assert document["status"] == "completed"
    assert document["degradation"] == {
        "degraded": False,
        "reason_codes": [],
        "source_diagnostics": {},
    }
    assert document["result"]["quant_direction"] == 1
    assert document["data_quality"] is None
    assert document["research"] is None


def test_failure_document() -> None:
    failure = CombinedSignalFailure(
        "both quant and llm signals are None",
        reason_codes=["quant_no_data", "llm_signal_failed", "both_signals_unavailable"],
        source_diagnostics={
            "quant": {"reason_code": "quant_no_data"},
            "llm": {"reason_code": "llm_signal_failed", "error": "x", "research": RESEARCH},
        },
        data_quality={"state": "unknown", "source": "llm"},
    )
    assert failure_document("AAPL", "2026-04-11", failure) == {
        "contract_version": "v1alpha1",
        "ticker": "AAPL",
        "date": "2026-04-11",
        "status": "failed",
        "result": None,
        "error": {
            "code": "live_signal_failed",
            "message": "both quant and llm signals are None",
            "retryable": False,
        },
        "degradation": {
            "degraded": True,
            "reason_codes": ["quant_no_data", "llm_signal_failed", "both_signals_unavailable"],
            "source_diagnostics": {
                "quant": {"reason_code": "quant_no_data"},
                "llm": {"reason_code": "llm_signal_failed", "error": "x", "research": RESEARCH},
            },
        },
        "data_quality": {"state": "unknown", "source": "llm"},
        "research": RESEARCH,
    }


def test_plain_value_error_becomes_both_signals_unavailable() -> None:
    document = failure_document(
        "AAPL", "2026-04-11", ValueError("both quant and llm signals are None")
    )
    assert document["degradation"] == {
        "degraded": True,
        "reason_codes": ["both_signals_unavailable"],
        "source_diagnostics": {},
    }
    other = failure_document("AAPL", "2026-04-11", RuntimeError("disk full"))
    assert other["degradation"]["degraded"] is False
    assert other["data_quality"] is None


def test_run_once_keeps_order_and_isolates_failures(tmp_path: Path) -> None:
    config = OrchestratorConfig(cache_dir=str(tmp_path), faults=Faults(llm="fail"))
    live = LiveMode(TradingOrchestrator(config))
    documents = live.run_once(["AAPL", "600519.SS", "MSFT"], "2026-10-01")
    assert [d["ticker"] for d in documents] == ["AAPL", "600519.SS", "MSFT"]
    assert [d["status"] for d in documents] == ["degraded_success", "failed", "degraded_success"]
    failed = documents[1]
    assert failed["degradation"]["reason_codes"] == [
        "non_trading_day",
        "llm_signal_failed",
        "both_signals_unavailable",
    ]
    assert failed["error"]["code"] == "live_signal_failed"
    assert failed["data_quality"]["state"] == "non_trading_day"


def test_run_once_defaults_to_utc_today(tmp_path: Path) -> None:
    live = LiveMode(TradingOrchestrator(OrchestratorConfig(cache_dir=str(tmp_path))))
    documents = live.run_once(["AAPL"])
    assert documents[0]["date"] == datetime.now(UTC).date().isoformat()
    assert live.run_once([]) == []
