"""The offline analyst's score-to-rating table (its lane behaviour is in test_llm_runner.py)."""

from __future__ import annotations

import pytest

from orchestrator.llm.offline import rating_for_score


@pytest.mark.parametrize(
    ("score", "rating"),
    [
        pytest.param(3, "BUY", id="plus-three"),
        pytest.param(2, "BUY", id="plus-two"),
        pytest.param(1, "OVERWEIGHT", id="plus-one"),
        pytest.param(0, "HOLD", id="zero"),
        pytest.param(-1, "UNDERWEIGHT", id="minus-one"),
        pytest.param(-2, "SELL", id="minus-two"),
    ],
)
def test_rating_for_score(score: int, rating: str) -> None:
    assert rating_for_score(score) == rating
