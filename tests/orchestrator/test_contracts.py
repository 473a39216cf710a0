"""Signal/FinalSignal stamping, error helpers and the reason-code vocabulary
(docs/upstream-contract.md §5.1)."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.contracts import (
    CONTRACT_VERSION,
    CombinedSignalFailure,
    FinalSignal,
    ReasonCode,
    Signal,
    build_error_signal,
    signal_reason_code,
)


def test_reason_code_table_is_complete() -> None:
    assert {code.value for code in ReasonCode} == {
        "config_invalid",
        "quant_not_configured",
        "quant_init_failed",
        "quant_signal_failed",
        "quant_no_data",
        "non_trading_day",
        "partial_data",
        "stale_data",
        "llm_init_failed",
        "llm_signal_failed",
        "llm_unknown_rating",
        "provider_mismatch",
        "provider_auth_failed",
        "both_signals_unavailable",
    }


@pytest.mark.parametrize(
    ("kwargs", "reason", "degraded"),
    [
        pytest.param({}, None, False, id="clean"),
        pytest.param({"reason_code": ReasonCode.STALE_DATA}, "stale_data", True, id="enum-code"),
        pytest.param(
            {"metadata": {"reason_code": "partial_data"}}, "partial_data", True, id="meta"
        ),
        pytest.param({"metadata": {"error": "boom"}}, None, True, id="error-only"),
    ],
)
def test_signal_stamping(kwargs: dict[str, Any], reason: str | None, degraded: bool) -> None:
    sig = Signal(ticker="AAPL", direction=1, confidence=0.5, source="quant", **kwargs)
    assert sig.reason_code == reason
    assert sig.degraded is degraded
    assert sig.metadata["contract_version"] == CONTRACT_VERSION
    assert sig.metadata["source"] == "quant"
    assert sig.metadata.get("reason_code") == reason
    assert signal_reason_code(sig) == reason


@pytest.mark.parametrize(
    ("direction", "confidence"),
    [pytest.param(2, 0.5, id="bad-direction"), pytest.param(1, 1.5, id="bad-confidence")],
)
def test_signal_rejects_out_of_range(direction: int, confidence: float) -> None:
    with pytest.raises(ValueError, match="Signal"):
        Signal(ticker="AAPL", direction=direction, confidence=confidence, source="llm")


def test_build_error_signal() -> None:
    sig = build_error_signal("AAPL", "llm", ReasonCode.LLM_SIGNAL_FAILED, "boom", {"x": 1})
    assert (sig.direction, sig.confidence) == (0, 0.0)
    assert sig.metadata == {
        "x": 1,
        "error": "boom",
        "contract_version": "v1alpha1",
        "reason_code": "llm_signal_failed",
        "source": "llm",
    }
    assert sig.degraded
    assert signal_reason_code(None) is None


def test_final_signal_dedupes_codes() -> None:
    final = FinalSignal(
        ticker="AAPL",
        direction=0,
        confidence=0.0,
        quant_signal=None,
        llm_signal=None,
        degrade_reason_codes=("a", "", "b", "a"),
    )
    assert final.degrade_reason_codes == ("a", "b")
    assert final.metadata == {"contract_version": "v1alpha1", "degrade_reason_codes": ["a", "b"]}
    clean = FinalSignal("AAPL", 1, 0.5, None, None)
    assert not clean.degraded
    assert "degrade_reason_codes" not in clean.metadata


def test_combined_signal_failure_is_a_value_error() -> None:
    exc = CombinedSignalFailure(
        "both quant and llm signals are None",
        reason_codes=["quant_no_data", "quant_no_data", "both_signals_unavailable"],
        source_diagnostics={"quant": {"reason_code": "quant_no_data"}},
    )
    assert isinstance(exc, ValueError)
    assert exc.reason_codes == ("quant_no_data", "both_signals_unavailable")
    assert exc.source_diagnostics == {"quant": {"reason_code": "quant_no_data"}}
    assert exc.data_quality is None
