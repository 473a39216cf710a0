"""Rule 5: configured known differences, accepted by route and field pattern until they expire."""

from __future__ import annotations

import datetime as dt

import pytest

from shadowproxy.diff.known import KnownDifferences
from shadowproxy.types import AcceptedDifference, Difference, DiffKind, Outcome

from .documents import (
    IDS,
    STATUS_ROUTE,
    app_ok,
    app_result,
    app_status,
    engine_with,
    legacy_ok,
    legacy_state,
    status_exchange,
)


@pytest.mark.parametrize(
    ("known", "outcome", "accepted"),
    [
        pytest.param(
            AcceptedDifference(STATUS_ROUTE, "decision", "rating table drift", "2026-05-01"),
            Outcome.ACCEPTED,
            ["decision"],
            id="active-until-the-end-of-its-day",
        ),
        pytest.param(
            AcceptedDifference("*", "decision", "rating table drift"),
            Outcome.ACCEPTED,
            ["decision"],
            id="any-route-no-expiry",
        ),
        pytest.param(
            AcceptedDifference(STATUS_ROUTE, "decision", "rating table drift", "2026-04-30"),
            Outcome.MISMATCH,
            [],
            id="expired-counts-again",
        ),
        pytest.param(
            AcceptedDifference("/api/analysis/tasks", "decision", "other route"),
            Outcome.MISMATCH,
            [],
            id="other-route",
        ),
    ],
)
def test_rule_5_known_differences(
    known: AcceptedDifference, outcome: Outcome, accepted: list[str]
) -> None:
    app = app_status(result=app_result(decision="UNDERWEIGHT"))
    comparison = engine_with(known)(status_exchange(), legacy_ok(legacy_state()), app_ok(app), IDS)
    assert comparison.outcome is outcome
    assert [d.field for d in comparison.accepted] == accepted
    if outcome is Outcome.ACCEPTED:
        assert comparison.differences == ()
        assert comparison.reason == "known: rating table drift"


def test_rule_5_accepting_part_leaves_a_mismatch() -> None:
    known = AcceptedDifference("*", "decision", "rating table drift")
    app = app_status(result=app_result(decision="UNDERWEIGHT", confidence=0.5))
    comparison = engine_with(known)(status_exchange(), legacy_ok(legacy_state()), app_ok(app), IDS)
    assert comparison.outcome is Outcome.MISMATCH
    assert [d.field for d in comparison.differences] == ["confidence"]
    assert [d.field for d in comparison.accepted] == ["decision"]


@pytest.mark.parametrize(
    ("pattern", "field", "accepted"),
    [
        pytest.param(
            "tasks[*].error.code", "tasks[AAPL_1].error.code", True, id="brackets-are-literal"
        ),
        pytest.param("tasks[*].error.code", "tasks[AAPL_1].error.message", False, id="other-leaf"),
        pytest.param("signals.order", "signals.order", True, id="exact"),
        pytest.param("signals", "signals.order", False, id="whole-field-only"),
        pytest.param("*", "anything[1].at.all", True, id="star"),
    ],
)
def test_known_difference_field_patterns(pattern: str, field: str, accepted: bool) -> None:
    known = KnownDifferences(
        [AcceptedDifference("*", pattern, "r")], today=lambda: dt.date(2026, 1, 1)
    )
    split = known.split("/any", [Difference(field, DiffKind.CHANGED)])
    assert bool(split.accepted) is accepted
    assert split.reasons == (("r",) if accepted else ())


def test_a_bad_expiry_is_a_sentence() -> None:
    with pytest.raises(
        ValueError, match=r"known difference \(\*, decision\): expires must be a date"
    ):
        KnownDifferences([AcceptedDifference("*", "decision", "r", "next week")])


def test_expired_entries_are_listed_and_counted() -> None:
    entries = (
        AcceptedDifference("*", "a", "old debt", expires="2026-01-31", owner="team-a"),
        AcceptedDifference("*", "b", "current", expires="2026-12-31"),
        AcceptedDifference("*", "c", "forever"),
    )
    known = KnownDifferences(entries, today=lambda: dt.date(2026, 6, 1))
    assert [(e.field, e.owner) for e in known.expired()] == [("a", "team-a")]
    assert known.counts() == (2, 1)


def test_an_entry_with_kinds_accepts_only_those_kinds_and_each_carries_its_reason() -> None:
    known = KnownDifferences(
        [
            AcceptedDifference("*", "decision", "renamed rating", kinds=frozenset({"changed"})),
            AcceptedDifference("*", "tasks[*].stage", "stage names"),
        ],
        today=lambda: dt.date(2026, 1, 1),
    )
    split = known.split(
        "/any",
        [
            Difference("decision", DiffKind.CHANGED, "BUY", "HOLD"),
            Difference("decision", DiffKind.MISSING, "BUY", None),
            Difference("tasks[AAPL_1].stage", DiffKind.CHANGED, "a", "b"),
        ],
    )
    assert [(d.field, d.kind, d.reason) for d in split.accepted] == [
        ("decision", DiffKind.CHANGED, "renamed rating"),
        ("tasks[AAPL_1].stage", DiffKind.CHANGED, "stage names"),
    ]
    assert [(d.field, d.kind) for d in split.remaining] == [("decision", DiffKind.MISSING)]


def test_runtime_entries_are_added_and_withdrawn_by_signature() -> None:
    configured = AcceptedDifference("*", "confidence", "tolerance")
    known = KnownDifferences([configured], today=lambda: dt.date(2026, 1, 1))
    runtime = [
        AcceptedDifference(STATUS_ROUTE, field, "racy cancel", signature="abc123abc123")
        for field in ("decision", "stage")
    ]
    known.add(runtime)
    decision = [Difference("decision", DiffKind.CHANGED)]
    assert known.split(STATUS_ROUTE, decision).accepted
    assert not known.split("/api/analysis/tasks", decision).accepted
    assert known.withdraw("abc123abc123") == tuple(runtime)
    assert known.entries() == (configured,)
    assert not known.split(STATUS_ROUTE, decision).accepted
    assert known.withdraw("abc123abc123") == ()
