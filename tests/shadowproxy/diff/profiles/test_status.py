"""The status-document profile and the accepted/ack envelopes, on upstream-shaped payloads.

Legacy states follow docs/upstream-contract.md §2.1 (raw state, positional stages, flat decision,
string error); app payloads follow §2.4/§2.5 (public projection, named stages, result contract,
error object); portfolio batches and the cancel notice §2.6.
"""

from __future__ import annotations

from typing import Any

import pytest

from shadowproxy.diff.config import DiffConfig
from shadowproxy.diff.engine import DiffEngine
from shadowproxy.types import DiffKind, Outcome

from ...factories import aliases
from ..documents import (
    AAPL_A,
    AAPL_L,
    ENGINE,
    IDS,
    PORT_A,
    PORT_L,
    STATUS_ROUTE,
    app_batch,
    app_ok,
    app_result,
    app_status,
    cancelled_app,
    cancelled_legacy,
    compare,
    fields,
    legacy_batch,
    legacy_ok,
    legacy_state,
    status_exchange,
)


@pytest.mark.parametrize(
    ("legacy", "app", "outcome", "expected"),
    [
        pytest.param(
            legacy_state(),
            app_status(),
            Outcome.MATCH,
            [],
            id="degraded_success-is-completed",
        ),
        pytest.param(
            legacy_state(),
            app_status(result=app_result(decision="UNDERWEIGHT")),
            Outcome.MISMATCH,
            [("decision", DiffKind.CHANGED, "OVERWEIGHT", "UNDERWEIGHT")],
            id="decision-changed",
        ),
        pytest.param(
            legacy_state(confidence=0.63),
            app_status(result=app_result(confidence=0.64)),
            Outcome.MISMATCH,
            [("confidence", DiffKind.CHANGED, 0.63, 0.64)],
            id="confidence-beyond-tolerance",
        ),
        pytest.param(
            legacy_state(confidence=0.63),
            app_status(result=app_result(confidence=0.635)),
            Outcome.MATCH,
            [],
            id="confidence-within-tolerance",
        ),
        pytest.param(
            legacy_state(status="failed", done=3, decision=None, confidence=None, error="用户取消"),
            app_status(
                status="cancelled",
                done=3,
                error={"code": "cancelled", "message": "用户取消", "retryable": False},
            ),
            Outcome.MATCH,
            [],
            id="用户取消-is-cancelled",
        ),
        pytest.param(
            legacy_state(
                status="failed",
                done=2,
                decision=None,
                confidence=None,
                error="Traceback ...\nANALYSIS_ERROR:both quant and llm signals are None\n",
            ),
            app_status(
                status="failed",
                done=2,
                error={
                    "code": "analysis_failed",
                    "message": "both quant and llm signals are None",
                    "retryable": False,
                },
            ),
            Outcome.MATCH,
            [],
            id="error-text-kept-code-not-compared",
        ),
        pytest.param(
            legacy_state(
                status="failed",
                done=2,
                decision=None,
                confidence=None,
                error="ANALYSIS_ERROR:quant backtest failed",
            ),
            app_status(
                status="failed",
                done=2,
                error={"code": "analysis_failed", "message": "", "retryable": False},
            ),
            Outcome.MISMATCH,
            [("error.message", DiffKind.CHANGED, "quant backtest failed", "")],
            id="error-text-lost",
        ),
        pytest.param(
            legacy_state(status="failed", done=2, decision=None, confidence=None, error="boom"),
            app_status(status="failed", done=2, error=None),
            Outcome.MISMATCH,
            [
                ("error.present", DiffKind.CHANGED, True, False),
                ("error.message", DiffKind.MISSING, "boom", None),
            ],
            id="error-dropped",
        ),
        pytest.param(
            legacy_state(),
            app_status(drop=("current_stage",)),
            Outcome.MISMATCH,
            [("current_stage", DiffKind.MISSING, "portfolio", None)],
            id="missing-field",
        ),
        pytest.param(
            legacy_state(),
            app_status(status="failed", error={"code": "analysis_failed", "message": "x"}),
            Outcome.MISMATCH,
            [
                "status",
                "decision",
                "confidence",
                "quant_rating",
                "llm_rating",
                "error.present",
                "error.message",
            ],
            id="terminal-states-compared-strictly",
        ),
        pytest.param(
            legacy_state(),
            app_status(
                status="completed",
                result=None,
                compat={
                    "decision": "OVERWEIGHT",
                    "quant_signal": "HOLD",
                    "llm_signal": "BUY",
                    "confidence": 0.63,
                },
                stages=[{"status": "completed", "completed_at": "12:00:03"}] * 5,
            ),
            Outcome.MATCH,
            [],
            id="restored-legacy-task-read-through-compat",
        ),
        pytest.param(
            {"type": "progress", **legacy_state()},
            {"type": "progress", **app_status()},
            Outcome.MATCH,
            [],
            id="websocket-progress-frames",
        ),
    ],
)
def test_status_document(
    legacy: dict[str, Any], app: dict[str, Any], outcome: Outcome, expected: list[Any]
) -> None:
    comparison = ENGINE(status_exchange(), legacy_ok(legacy), app_ok(app), IDS)
    assert comparison.outcome is outcome, comparison.differences
    if expected and isinstance(expected[0], str):
        assert [d.field for d in comparison.differences] == expected
    else:
        found = [(d.field, d.kind, d.legacy, d.app) for d in comparison.differences]
        assert found == expected
    assert (comparison.task_id, comparison.ticker, comparison.date) == (
        AAPL_L,
        "AAPL",
        "2026-04-13",
    )


def test_an_uncorrelated_app_id_is_a_task_id_difference() -> None:
    comparison = ENGINE(
        status_exchange(), legacy_ok(legacy_state()), app_ok(app_status()), aliases()
    )
    assert comparison.outcome is Outcome.MISMATCH
    assert [(d.field, d.legacy, d.app) for d in comparison.differences] == [
        ("task_id", AAPL_L, AAPL_A)
    ]


@pytest.mark.parametrize(
    ("legacy", "app", "outcome", "fields"),
    [
        pytest.param(legacy_batch(), app_batch(), Outcome.MATCH, [], id="same-batch"),
        pytest.param(
            legacy_batch(),
            app_batch(decision="BUY"),
            Outcome.MISMATCH,
            ["results[AAPL].decision"],
            id="per-ticker-decision-changed",
        ),
        pytest.param(
            legacy_batch(status="running", completed=1),
            app_batch(status="completed", completed=2),
            Outcome.INFLIGHT_SKEW,
            ["status", "completed", "current_ticker"],
            id="one-ticker-behind",
        ),
    ],
)
def test_portfolio_batch_status(
    legacy: dict[str, Any], app: dict[str, Any], outcome: Outcome, fields: list[str]
) -> None:
    ids = aliases({PORT_A: PORT_L})
    comparison = ENGINE(status_exchange(), legacy_ok(legacy), app_ok(app), ids)
    assert comparison.outcome is outcome, comparison.differences
    assert [d.field for d in comparison.differences] == fields
    assert comparison.task_id == PORT_L


# ---------------------------------------------------------------- accepted envelopes


@pytest.mark.parametrize(
    ("profile", "legacy", "app", "outcome"),
    [
        pytest.param(
            "analysis_accepted",
            {"task_id": AAPL_L, "ticker": "AAPL", "date": "2026-04-13", "status": "running"},
            {
                "contract_version": "v1alpha1",
                "task_id": AAPL_A,
                "ticker": "AAPL",
                "date": "2026-04-13",
                "status": "running",
            },
            Outcome.MATCH,
            id="start",
        ),
        pytest.param(
            "cancel_ack",
            {"task_id": AAPL_L, "status": "cancelled"},
            {"contract_version": "v1alpha1", "task_id": AAPL_A, "status": "cancelled"},
            Outcome.MATCH,
            id="cancel",
        ),
        pytest.param(
            "batch_accepted",
            {"task_id": PORT_L, "total": 2, "status": "running"},
            {
                "contract_version": "v1alpha1",
                "task_id": PORT_A,
                "total": 3,
                "status": "running",
            },
            Outcome.MISMATCH,
            id="batch-total-differs",
        ),
    ],
)
def test_accepted_envelopes(profile: str, legacy: Any, app: Any, outcome: Outcome) -> None:
    ids = aliases({AAPL_A: AAPL_L, PORT_A: PORT_L})
    comparison = ENGINE(status_exchange(profile), legacy_ok(legacy), app_ok(app), ids)
    assert comparison.outcome is outcome, comparison.differences
    assert comparison.task_id in (AAPL_L, PORT_L)


# ---------------------------------------------------------------- the cancel notice (§2.6)

NOTICE = {"code": "cancelled", "message": "用户取消", "retryable": False}


@pytest.mark.parametrize(
    ("legacy", "app", "outcome", "expected"),
    [
        pytest.param(
            cancelled_legacy(),
            cancelled_app(NOTICE),
            Outcome.MATCH,
            [],
            id="both-carry-the-notice",
        ),
        pytest.param(
            cancelled_legacy(),
            cancelled_app(None),
            Outcome.MISMATCH,
            [("error.cancel_notice", DiffKind.CHANGED)],
            id="cancelled-after-completion-differs-on-the-notice-only",
        ),
        pytest.param(
            cancelled_legacy(),
            cancelled_app({"code": "analysis_failed", "message": "boom", "retryable": False}),
            Outcome.MISMATCH,
            [
                ("error.cancel_notice", DiffKind.CHANGED),
                ("error.present", DiffKind.CHANGED),
                ("error.message", DiffKind.EXTRA),
            ],
            id="another-error-on-a-cancelled-task-is-still-an-error",
        ),
        pytest.param(
            cancelled_legacy("boom"),
            cancelled_app(None),
            Outcome.MISMATCH,
            [
                ("status", DiffKind.CHANGED),
                ("error.present", DiffKind.CHANGED),
                ("error.message", DiffKind.MISSING),
                ("error.cancel_notice", DiffKind.EXTRA),
            ],
            id="a-failure-is-no-cancel",
        ),
    ],
)
def test_cancel_notice(legacy: Any, app: Any, outcome: Outcome, expected: list[Any]) -> None:
    bare = DiffEngine(DiffConfig())
    values = bare.compare_values("status_document", legacy, app, IDS, route=STATUS_ROUTE)
    assert values.outcome is outcome
    assert fields(values) == expected


def test_the_built_in_default_accepts_only_the_cancel_notice() -> None:
    values = compare("status_document", cancelled_legacy(), cancelled_app(None), route=STATUS_ROUTE)
    assert values.outcome is Outcome.ACCEPTED
    assert [(d.field, d.legacy, d.app) for d in values.accepted] == [
        ("error.cancel_notice", True, False)
    ]
    lost = cancelled_app({"code": "analysis_failed", "message": "boom", "retryable": False})
    values = compare("status_document", cancelled_legacy(), lost, route=STATUS_ROUTE)
    assert values.outcome is Outcome.MISMATCH
    assert "error.present" in [d.field for d in values.differences]
