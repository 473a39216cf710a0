"""Merge math, rating thresholds and the LLM rating table.

See docs/upstream-contract.md §5.2, §2.3 and §5.5.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.contracts import Signal
from orchestrator.signals import SignalMerger, map_llm_rating, rating_from_direction


def _quant(direction: int, confidence: float) -> Signal:
    return Signal(ticker="AAPL", direction=direction, confidence=confidence, source="quant")


def _llm(direction: int, confidence: float) -> Signal:
    return Signal(ticker="AAPL", direction=direction, confidence=confidence, source="llm")


def test_both_none_raises() -> None:
    with pytest.raises(ValueError, match="both quant and llm signals are None"):
        SignalMerger().merge(None, None)


@pytest.mark.parametrize(
    ("quant", "llm", "direction", "confidence"),
    [
        pytest.param(_quant(1, 0.5), None, 1, 0.4, id="quant-only-penalised"),
        pytest.param(_quant(-1, 1.0), None, -1, 0.8, id="quant-only-capped"),
        pytest.param(None, _llm(1, 0.9), 1, 0.63, id="llm-only-max"),
        pytest.param(None, _llm(-1, 0.6), -1, 0.42, id="llm-only-overweight"),
        pytest.param(_quant(1, 0.6), _llm(1, 0.9), 1, 1.0, id="same-direction"),
        pytest.param(_quant(1, 0.9), _llm(-1, 0.3), 1, 0.5 / 1.1, id="opposite-capped"),
        pytest.param(_quant(1, 0.3), _llm(-1, 0.9), -1, 0.6 / 1.2, id="stronger-llm-wins"),
        pytest.param(_quant(1, 0.5), _llm(-1, 0.5), 0, 0.0, id="equal-opposite"),
        pytest.param(_quant(0, 0.5), _llm(1, 0.9), 1, 0.9 / 1.4, id="quant-hold-llm-buy"),
        pytest.param(_quant(0, 0.0), _llm(0, 0.0), 0, 0.0, id="zero-denominator"),
    ],
)
def test_merge(quant: Signal | None, llm: Signal | None, direction: int, confidence: float) -> None:
    final = SignalMerger().merge(quant, llm)
    assert final.direction == direction
    assert final.confidence == pytest.approx(confidence)
    assert final.quant_signal is quant
    assert final.llm_signal is llm


def test_solo_merge_propagates_reason_codes() -> None:
    final = SignalMerger().merge(
        None, _llm(1, 0.9), ["quant_not_configured", "", "quant_not_configured"]
    )
    assert final.degrade_reason_codes == ("quant_not_configured",)
    assert final.metadata["degrade_reason_codes"] == ["quant_not_configured"]
    assert final.degraded


def test_custom_caps_and_penalties_are_used() -> None:
    merger = SignalMerger(quant_weight_cap=0.5, quant_solo_penalty=1.0)
    assert merger.merge(_quant(1, 0.9), None).confidence == 0.5


@pytest.mark.parametrize(
    ("direction", "confidence", "rating"),
    [
        pytest.param(1, 0.7, "BUY", id="buy-at-threshold"),
        pytest.param(1, 0.69, "OVERWEIGHT", id="overweight-below"),
        pytest.param(-1, 0.7, "SELL", id="sell-at-threshold"),
        pytest.param(-1, 0.2, "UNDERWEIGHT", id="underweight-below"),
        pytest.param(0, 1.0, "HOLD", id="hold-even-confident"),
        pytest.param(0, 0.0, "HOLD", id="hold"),
    ],
)
def test_rating_from_direction(direction: int, confidence: float, rating: str) -> None:
    assert rating_from_direction(direction, confidence) == rating


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("BUY", (1, 0.9), id="buy"),
        pytest.param("OVERWEIGHT", (1, 0.6), id="overweight"),
        pytest.param("HOLD", (0, 0.5), id="hold"),
        pytest.param("UNDERWEIGHT", (-1, 0.6), id="underweight"),
        pytest.param("SELL", (-1, 0.9), id="sell"),
        pytest.param("buy", (1, 0.9), id="case-insensitive"),
        pytest.param("Underweight", (-1, 0.6), id="mixed-case"),
        pytest.param("", (0, 0.5), id="empty"),
        pytest.param("STRONG BUY", (0, 0.5), id="unknown"),
        pytest.param(" SELL", (0, 0.5), id="whitespace-not-stripped"),
    ],
)
def test_map_llm_rating(text: str, expected: tuple[int, float]) -> None:
    assert map_llm_rating(text) == expected


directions = st.sampled_from([-1, 0, 1])
confidences = st.floats(min_value=0.0, max_value=1.0)


@given(directions, confidences, directions, confidences)
def test_merge_stays_in_range_and_follows_the_weighted_sign(
    qd: int, qc: float, ld: int, lc: float
) -> None:
    final = SignalMerger().merge(_quant(qd, qc), _llm(ld, lc))
    assert 0.0 <= final.confidence <= 1.0
    weighted = qd * min(qc, 0.8) + ld * min(lc, 0.9)
    assert final.direction == (weighted > 0) - (weighted < 0)
    assert rating_from_direction(final.direction, final.confidence) in {
        "BUY",
        "OVERWEIGHT",
        "HOLD",
        "UNDERWEIGHT",
        "SELL",
    }
