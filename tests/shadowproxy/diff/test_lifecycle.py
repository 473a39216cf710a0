"""Rule 4, the lifecycle: in-flight skew between two running backends, withheld results, and
the status words that are in flight at all (only running and pending)."""

from __future__ import annotations

from typing import Any

import pytest

from shadowproxy.types import DiffKind, Outcome

from ..factories import aliases
from .documents import (
    AAPL_A,
    AAPL_L,
    ENGINE,
    IDS,
    PORT_A,
    PORT_L,
    STATUS_ROUTE,
    app_batch,
    app_item,
    app_ok,
    app_status,
    app_tasks,
    cancelled_app,
    cancelled_legacy,
    compare,
    fields,
    legacy_batch,
    legacy_item,
    legacy_ok,
    legacy_state,
    legacy_tasks,
    status_exchange,
)


@pytest.mark.parametrize(
    ("legacy", "app", "outcome", "fields"),
    [
        pytest.param(
            legacy_state(status="running", done=2),
            app_status(status="running", done=3),
            Outcome.INFLIGHT_SKEW,
            ["progress", "current_stage", "stages.trading", "stages.risk"],
            id="within-one-stage",
        ),
        pytest.param(
            legacy_state(status="running", done=1),
            app_status(status="running", done=4),
            Outcome.MISMATCH,
            [
                "progress",
                "current_stage",
                "stages.research",
                "stages.trading",
                "stages.risk",
                "stages.portfolio",
            ],
            id="beyond-one-stage",
        ),
        pytest.param(
            legacy_state(status="completed", done=5),
            app_status(status="running", done=5),
            Outcome.INFLIGHT_SKEW,
            ["status"],
            id="terminal-vs-running-in-the-same-stage-withholds-results",
        ),
        pytest.param(
            legacy_state(status="running", done=3),
            app_status(status="running", done=3),
            Outcome.MATCH,
            [],
            id="same-moment",
        ),
        pytest.param(
            legacy_state(status="running", done=2, ticker="MSFT"),
            app_status(status="running", done=3),
            Outcome.MISMATCH,
            ["ticker", "progress", "current_stage", "stages.trading", "stages.risk"],
            id="identity-is-strict-even-in-flight",
        ),
    ],
)
def test_rule_4_lifecycle(
    legacy: dict[str, Any], app: dict[str, Any], outcome: Outcome, fields: list[str]
) -> None:
    comparison = ENGINE(status_exchange(), legacy_ok(legacy), app_ok(app), IDS)
    assert comparison.outcome is outcome, comparison.differences
    assert [d.field for d in comparison.differences] == fields


def test_inflight_reason_names_both_positions() -> None:
    values = ENGINE.compare_values(
        "status_document",
        legacy_state(status="running", done=2),
        app_status(status="running", done=3),
        IDS,
        route="/ws/analysis/{task_id}",
    )
    assert values.inflight
    assert values.outcome is Outcome.INFLIGHT_SKEW
    assert values.terminal == (False, False)
    assert values.reason == (
        "document in flight: legacy running (progress 40, stage 1),"
        " app running (progress 60, stage 2)"
    )


def test_withheld_result_fields_are_reported_in_the_reason() -> None:
    values = ENGINE.compare_values(
        "status_document",
        legacy_state(status="completed", done=5),
        app_status(status="running", done=5),
        IDS,
        route=STATUS_ROUTE,
    )
    assert values.terminal == (True, False)
    assert [d.field for d in values.differences] == ["status"]


def test_batch_skew_reason_counts_tickers_not_progress() -> None:
    values = ENGINE.compare_values(
        "status_document",
        legacy_batch(status="running", completed=1),
        app_batch(status="running", completed=0),
        aliases({PORT_A: PORT_L}),
        route=STATUS_ROUTE,
    )
    assert values.outcome is Outcome.INFLIGHT_SKEW
    assert values.reason == "document in flight: legacy running (stage 1), app running (stage 0)"


# ---------------------------------------------------------------- status vocabulary (§8 item 6)


@pytest.mark.parametrize(
    ("legacy", "app", "outcome"),
    [
        pytest.param("completed", "succeeded", Outcome.MISMATCH, id="unknown-terminal-word"),
        pytest.param("failed", "errored", Outcome.MISMATCH, id="unknown-failure-word"),
        pytest.param("completed", "running", Outcome.INFLIGHT_SKEW, id="known-in-flight-word"),
    ],
)
def test_a_status_word_outside_the_vocabulary_is_compared_strictly(
    legacy: str, app: str, outcome: Outcome
) -> None:
    legacy_document = cancelled_legacy() | {"status": legacy, "error": None}
    app_document = cancelled_app(None) | {"status": app}
    values = compare("status_document", legacy_document, app_document, route=STATUS_ROUTE)
    assert values.outcome is outcome
    assert fields(values) == [("status", DiffKind.CHANGED)]
    listed = compare(
        "task_list",
        legacy_tasks(legacy_item(AAPL_L, "AAPL", status=legacy)),
        app_tasks(app_item(AAPL_A, "AAPL", status=app)),
    )
    assert listed.outcome is outcome
    assert fields(listed)[0] == (f"tasks[{AAPL_L}].status", DiffKind.CHANGED)
