"""The diff engine as a whole: profiles by name, identity on every outcome, caps and options.

The rules it applies have their own modules (test_outcome, test_lifecycle, test_known,
test_secondary); the profiles theirs (profiles/).
"""

from __future__ import annotations

import pytest

from shadowproxy.diff.engine import DiffEngine
from shadowproxy.types import DiffKind, Outcome

from .documents import (
    AAPL_L,
    ENGINE,
    IDS,
    app_ok,
    app_result,
    app_status,
    compare,
    engine_with,
    legacy_ok,
    legacy_state,
    status_exchange,
)


def test_status_mismatch_keeps_the_identity_of_the_answering_side() -> None:
    not_found = app_ok({"detail": "Task not found"}, 404)
    comparison = ENGINE(status_exchange(), legacy_ok(legacy_state()), not_found, IDS)
    difference = comparison.differences[0]
    assert (difference.kind, difference.legacy, difference.app) == (DiffKind.CHANGED, 200, 404)
    assert (comparison.task_id, comparison.ticker, comparison.date) == (
        AAPL_L,
        "AAPL",
        "2026-04-13",
    )


def test_secondary_is_computed_only_for_the_outcomes_asked_for() -> None:
    engine = DiffEngine(secondary_for=lambda outcome: outcome is not Outcome.MATCH)
    matched = engine(status_exchange(), legacy_ok(legacy_state()), app_ok(app_status()), IDS)
    assert matched.outcome is Outcome.MATCH
    assert matched.secondary == ()
    changed = app_status(result=app_result(decision="SELL"))
    mismatched = engine(status_exchange(), legacy_ok(legacy_state()), app_ok(changed), IDS)
    assert mismatched.outcome is Outcome.MISMATCH
    assert "result" in {d.field for d in mismatched.secondary}


def test_differences_and_secondary_are_capped() -> None:
    engine = engine_with(max_differences=3)
    app = app_status(status="failed", error={"code": "analysis_failed", "message": "x"})
    comparison = engine(status_exchange(), legacy_ok(legacy_state()), app_ok(app), IDS)
    assert comparison.outcome is Outcome.MISMATCH
    assert [d.field for d in comparison.differences] == ["status", "decision", "confidence"]
    assert len(comparison.secondary) == 3


def test_unknown_profile_is_a_sentence() -> None:
    with pytest.raises(ValueError, match="no diff profile named 'xml' \\(route /r\\)"):
        compare("xml", {}, {})
