"""The offline analyst: a deterministic RULE-BASED analyst, not a language model.

It is the default provider so that every run is reproducible and needs no key or network; its
metadata says `provider: offline` and its rationale says what it is, so nobody mistakes it for an
LLM. It scores the indicator readings (+1 per bullish, −1 per bearish reading) and maps the score.
"""

from __future__ import annotations

from orchestrator.features import describe, observe
from orchestrator.llm.base import AnalystRequest, Verdict


def rating_for_score(score: int) -> str:
    if score >= 2:
        return "BUY"
    if score == 1:
        return "OVERWEIGHT"
    if score == 0:
        return "HOLD"
    if score == -1:
        return "UNDERWEIGHT"
    return "SELL"


class OfflineAnalyst:
    name = "offline"

    def decide(self, request: AnalystRequest) -> Verdict:
        readings = observe(request.features)
        rating = rating_for_score(readings.score)
        bullish = "; ".join(readings.bullish) or "none"
        bearish = "; ".join(readings.bearish) or "none"
        rationale = (
            f"Rule-based analyst (offline, not an LLM) for {request.ticker} on {request.date}: "
            f"{describe(request.features)}. Bullish readings: {bullish}. "
            f"Bearish readings: {bearish}. Score {readings.score:+d} gives {rating}."
        )
        return Verdict(rating=rating, rationale=rationale)
