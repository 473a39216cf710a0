"""The merge math and the two rating tables.

This is the part the migration must not change: both backends reach their decision through
`SignalMerger.merge` and `rating_from_direction`, so the numbers here are the parity baseline.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from orchestrator.contracts import FinalSignal, ReasonCode, Signal

logger = logging.getLogger(__name__)

STRONG_CONFIDENCE = 0.7

_LLM_RATINGS: dict[str, tuple[int, float]] = {
    "BUY": (1, 0.9),
    "OVERWEIGHT": (1, 0.6),
    "HOLD": (0, 0.5),
    "UNDERWEIGHT": (-1, 0.6),
    "SELL": (-1, 0.9),
}
LLM_RATING_WORDS: tuple[str, ...] = tuple(_LLM_RATINGS)


def rating_from_direction(direction: int, confidence: float) -> str:
    """The application-layer rating: only a confident directional call becomes BUY/SELL."""
    if direction > 0:
        return "BUY" if confidence >= STRONG_CONFIDENCE else "OVERWEIGHT"
    if direction < 0:
        return "SELL" if confidence >= STRONG_CONFIDENCE else "UNDERWEIGHT"
    return "HOLD"


def map_llm_rating(text: str) -> tuple[int, float]:
    """Upper-cases without stripping, as upstream did; anything unknown is a neutral HOLD."""
    mapped = _LLM_RATINGS.get(text.upper())
    if mapped is None:
        logger.warning("unknown llm rating %r mapped to HOLD", text)
        return (0, 0.5)
    return mapped


def _sign(value: float) -> int:
    return (value > 0) - (value < 0)


class SignalMerger:
    """Weighted vote of the two lanes with per-lane caps and solo penalties.

    See docs/upstream-contract.md §5.2.
    """

    def __init__(
        self,
        *,
        quant_weight_cap: float = 0.8,
        llm_weight_cap: float = 0.9,
        quant_solo_penalty: float = 0.8,
        llm_solo_penalty: float = 0.7,
    ) -> None:
        self.quant_weight_cap = quant_weight_cap
        self.llm_weight_cap = llm_weight_cap
        self.quant_solo_penalty = quant_solo_penalty
        self.llm_solo_penalty = llm_solo_penalty

    def merge(
        self,
        quant: Signal | None,
        llm: Signal | None,
        degrade_reason_codes: Iterable[str | ReasonCode] = (),
    ) -> FinalSignal:
        codes = tuple(str(code) for code in degrade_reason_codes)
        if quant is not None and llm is not None:
            qc = min(quant.confidence, self.quant_weight_cap)
            lc = min(llm.confidence, self.llm_weight_cap)
            weighted = quant.direction * qc + llm.direction * lc
            direction = _sign(weighted)
            total = qc + lc
            confidence = abs(weighted) / total if total > 0 else 0.0
            if direction == 0:
                logger.info("lanes cancel out for %s: HOLD", quant.ticker)
            ticker = quant.ticker
        elif quant is not None:
            direction = quant.direction
            confidence = min(quant.confidence * self.quant_solo_penalty, self.quant_weight_cap)
            ticker = quant.ticker
        elif llm is not None:
            direction = llm.direction
            confidence = min(llm.confidence * self.llm_solo_penalty, self.llm_weight_cap)
            ticker = llm.ticker
        else:
            raise ValueError("both quant and llm signals are None")
        return FinalSignal(
            ticker=ticker,
            direction=direction,
            confidence=confidence,
            quant_signal=quant,
            llm_signal=llm,
            degrade_reason_codes=codes,
        )
