"""`TradingOrchestrator.get_combined_signal`: lanes, reason codes, diagnostics, summary
(docs/upstream-contract.md §5.3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from orchestrator.config import OrchestratorConfig
from orchestrator.contracts import CombinedSignalFailure
from orchestrator.faults import Faults
from orchestrator.market_data import CsvMarketData
from orchestrator.orchestrator import TradingOrchestrator, summarize_data_quality

DAY = "2026-04-13"


def _orchestrator(tmp_path: Path, **config: Any) -> TradingOrchestrator:
    config.setdefault("cache_dir", str(tmp_path / "cache"))
    return TradingOrchestrator(OrchestratorConfig(**config))


def test_clean_run_merges_both_lanes(tmp_path: Path) -> None:
    final = _orchestrator(tmp_path).get_combined_signal("AAPL", DAY)
    assert final.quant_signal is not None
    assert final.llm_signal is not None
    assert final.degrade_reason_codes == ()
    assert "source_diagnostics" not in final.metadata
    assert "data_quality" not in final.metadata
    assert final.metadata["research"]["research_status"] == "full"


def test_quant_error_drops_to_llm_only(tmp_path: Path) -> None:
    final = _orchestrator(tmp_path, faults=Faults(quant="fail")).get_combined_signal("AAPL", DAY)
    assert final.quant_signal is None
    assert final.llm_signal is not None
    assert final.degrade_reason_codes == ("quant_signal_failed",)
    assert final.metadata["source_diagnostics"] == {"quant": {"reason_code": "quant_signal_failed"}}
    assert final.confidence == pytest.approx(min(final.llm_signal.confidence * 0.7, 0.9))
    assert final.direction == final.llm_signal.direction


def test_llm_error_drops_to_quant_only(tmp_path: Path) -> None:
    final = _orchestrator(tmp_path, faults=Faults(llm="fail")).get_combined_signal("AAPL", DAY)
    assert final.llm_signal is None
    assert final.quant_signal is not None
    assert final.degrade_reason_codes == ("llm_signal_failed",)
    diagnostic = final.metadata["source_diagnostics"]["llm"]
    assert diagnostic["reason_code"] == "llm_signal_failed"
    assert diagnostic["error"] == "LLM propagate failed (TA_FAULT_LLM=fail)"
    assert final.confidence == pytest.approx(min(final.quant_signal.confidence * 0.8, 0.8))
    assert "research" not in final.metadata


def test_both_degraded_raises_combined_failure(tmp_path: Path) -> None:
    orchestrator = TradingOrchestrator(
        OrchestratorConfig(cache_dir=str(tmp_path / "cache")), CsvMarketData(tmp_path / "empty")
    )
    with pytest.raises(CombinedSignalFailure) as caught:
        orchestrator.get_combined_signal("AAPL", DAY)
    failure = caught.value
    assert str(failure) == "both quant and llm signals are None"
    assert failure.reason_codes[0] == "quant_no_data"
    assert failure.reason_codes[-1] == "both_signals_unavailable"
    assert failure.reason_codes == (
        "quant_no_data",
        "llm_signal_failed",
        "both_signals_unavailable",
    )
    assert failure.source_diagnostics["quant"]["reason_code"] == "quant_no_data"
    assert failure.data_quality is not None
    assert failure.data_quality["source"] == "llm"


def test_provider_mismatch_summary(tmp_path: Path) -> None:
    final = _orchestrator(
        tmp_path, llm_provider="anthropic", backend_url="https://api.openai.com/v1"
    ).get_combined_signal("AAPL", DAY)
    assert final.degrade_reason_codes == ("provider_mismatch",)
    summary = final.metadata["data_quality"]
    assert summary["state"] == "provider_mismatch"
    assert summary["source"] == "llm"
    assert summary["issues"] == [
        {
            "source": "llm",
            "state": "provider_mismatch",
            "provider": "anthropic",
            "backend_url": "https://api.openai.com/v1",
            "expected_patterns": [r"api\.anthropic\.com", r"api\.minimaxi\.com/anthropic"],
        }
    ]


@pytest.mark.parametrize(
    ("config", "code"),
    [
        pytest.param({"quant_enabled": False}, "quant_not_configured", id="quant-not-configured"),
        pytest.param(
            {"market_holidays_path": "/nonexistent/holidays.json"},
            "quant_init_failed",
            id="quant-init-failed",
        ),
    ],
)
def test_unavailable_quant_lane(tmp_path: Path, config: dict[str, Any], code: str) -> None:
    final = _orchestrator(tmp_path, **config).get_combined_signal("AAPL", DAY)
    assert final.quant_signal is None
    assert final.degrade_reason_codes == (code,)
    assert final.metadata["source_diagnostics"] == {"quant": {"reason_code": code}}


def test_llm_init_failed(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x", encoding="utf-8")
    final = _orchestrator(tmp_path, cache_dir=str(blocker / "cache")).get_combined_signal(
        "AAPL", DAY
    )
    assert final.llm_signal is None
    assert final.degrade_reason_codes == ("llm_init_failed",)


def test_weekend_is_non_trading_day_for_quant(tmp_path: Path) -> None:
    final = _orchestrator(tmp_path).get_combined_signal("AAPL", "2026-04-11")
    assert final.degrade_reason_codes == ("non_trading_day",)
    assert final.metadata["data_quality"]["state"] == "non_trading_day"
    assert final.metadata["data_quality"]["last_available_date"] == "2026-04-10"


def _diag(state: str, **extra: Any) -> dict[str, Any]:
    return {"reason_code": state, "data_quality": {"state": state, **extra}}


@pytest.mark.parametrize(
    ("diagnostics", "state", "source"),
    [
        pytest.param({}, None, None, id="none"),
        pytest.param({"quant": {"reason_code": "quant_signal_failed"}}, None, None, id="no-dq"),
        pytest.param(
            {"quant": _diag("stale_data"), "llm": _diag("provider_mismatch")},
            "provider_mismatch",
            "llm",
            id="mismatch-beats-stale",
        ),
        pytest.param(
            {"quant": _diag("partial_data"), "llm": _diag("non_trading_day")},
            "non_trading_day",
            "llm",
            id="non-trading-beats-partial",
        ),
        pytest.param(
            {"quant": _diag("stale_data"), "llm": _diag("unknown")},
            "stale_data",
            "quant",
            id="stale-beats-unknown",
        ),
        pytest.param(
            {"quant": _diag("partial_data"), "llm": _diag("provider_auth_failed")},
            "partial_data",
            "quant",
            id="partial-beats-other",
        ),
        pytest.param(
            {"quant": _diag("unknown"), "llm": _diag("provider_auth_failed")},
            "unknown",
            "quant",
            id="tie-keeps-quant",
        ),
    ],
)
def test_data_quality_priority(
    diagnostics: dict[str, dict[str, Any]], state: str | None, source: str | None
) -> None:
    summary = summarize_data_quality(diagnostics)
    if state is None:
        assert summary is None
        return
    assert summary is not None
    assert (summary["state"], summary["source"]) == (state, source)
    assert [issue["source"] for issue in summary["issues"]] == list(diagnostics)
