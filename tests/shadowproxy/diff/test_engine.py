"""The outcome rules and the status-document profile, on upstream-shaped payloads.

Legacy states follow docs/upstream-contract.md §2.1 (raw state, positional stages, flat decision, string error);
app payloads follow §2.4/§2.5 (public projection, named stages, result contract, error object).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest

from shadowproxy.diff.config import DiffConfig
from shadowproxy.diff.engine import DiffEngine
from shadowproxy.types import (
    AcceptedDifference,
    DiffKind,
    Exchange,
    ExchangeKind,
    Observation,
    Outcome,
    RouteGroup,
    Side,
)

LEGACY_ID = "AAPL_20260413_120000_ab12cd"
APP_ID = "AAPL_20260413_120000_9f8e7d"
IDS = {APP_ID: LEGACY_ID}
STATUS_ROUTE = "/api/analysis/status/{task_id}"
STAGES = ("analysts", "research", "trading", "risk", "portfolio")


def stage_statuses(done: int) -> list[str]:
    """Stage statuses after `done` stage events (0 = just created), as §2.2 mutates them."""
    statuses = ["completed"] * done + ["running"] + ["pending"] * 4
    return statuses[:5]


def legacy_state(
    *,
    status: str = "completed",
    done: int = 5,
    decision: str | None = "OVERWEIGHT",
    confidence: float | None = 0.63,
    error: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    terminal = status != "running"
    return {
        "task_id": LEGACY_ID,
        "ticker": "AAPL",
        "date": "2026-04-13",
        "status": status,
        "progress": done * 20,
        "current_stage": STAGES[max(done - 1, 0)],
        "created_at": "2026-04-13T12:00:00.000001",
        "elapsed": 0,
        "stages": [
            {"status": s, "completed_at": "12:00:03" if s == "completed" else None}
            for s in stage_statuses(done)
        ],
        "logs": [],
        "decision": decision if terminal else None,
        "quant_signal": "HOLD" if terminal and decision else None,
        "llm_signal": "BUY" if terminal and decision else None,
        "confidence": confidence if terminal else None,
        "error": error,
        **extra,
    }


def app_result(decision: str = "OVERWEIGHT", confidence: float = 0.63) -> dict[str, Any]:
    return {
        "decision": decision,
        "confidence": confidence,
        "signals": {
            "merged": {"direction": 1, "rating": decision},
            "quant": {"direction": 0, "rating": "HOLD", "available": True},
            "llm": {"direction": 1, "rating": "BUY", "available": True},
        },
        "degraded": True,
        "report": {"path": "results/AAPL/2026-04-13/complete_report.md", "available": True},
    }


def app_status(
    *,
    status: str = "degraded_success",
    done: int = 5,
    result: dict[str, Any] | None = None,
    error: Any = None,
    drop: tuple[str, ...] = (),
    **extra: Any,
) -> dict[str, Any]:
    running = status == "running"
    document: dict[str, Any] = {
        "contract_version": "v1alpha1",
        "task_id": APP_ID,
        "request_id": "3f2c8d0e9a7b4c1d8e2f3a4b5c6d7e9f",
        "executor_type": "legacy_subprocess",
        "result_ref": None if running else f"results/{APP_ID}/result.v1alpha1.json",
        "status": status,
        "created_at": "2026-04-13T12:00:00.412345",
        "degradation_summary": None
        if running
        else {"degraded": True, "reason_codes": ["quant_not_configured"]},
        "data_quality_summary": None,
        "error": error,
        "ticker": "AAPL",
        "date": "2026-04-13",
        "progress": done * 20,
        "current_stage": STAGES[max(done - 1, 0)],
        "elapsed_seconds": 161,
        "stages": [
            {"name": name, "status": s, "completed_at": "12:00:04" if s == "completed" else None}
            for name, s in zip(STAGES, stage_statuses(done), strict=True)
        ],
        "result": None
        if running or status in ("failed", "cancelled")
        else (result or app_result()),
        **extra,
    }
    if document["result"]:
        document["compat"] = {
            "decision": document["result"]["decision"],
            "quant_signal": "HOLD",
            "llm_signal": "BUY",
            "confidence": document["result"]["confidence"],
        }
    for key in drop:
        document.pop(key)
    return document


def exchange(profile: str = "status_document", route: str = STATUS_ROUTE, **kw: Any) -> Exchange:
    return Exchange(
        comparison_id="cmp-1",
        request_id="req-1",
        kind=ExchangeKind.HTTP,
        route_group=RouteGroup.ANALYSIS,
        route=route,
        method="GET",
        path=f"/api/analysis/status/{LEGACY_ID}",
        authoritative=kw.get("authoritative", Side.LEGACY),
        profile=profile,
    )


def ok(side: Side, body: Any, status: int = 200) -> Observation:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return Observation(side, status, (("Content-Type", "application/json"),), raw, 0.01)


def legacy_ok(body: Any, status: int = 200) -> Observation:
    return ok(Side.LEGACY, body, status)


def app_ok(body: Any, status: int = 200) -> Observation:
    return ok(Side.APP, body, status)


ENGINE = DiffEngine()

# ---------------------------------------------------------------- rules 1 and 2


@pytest.mark.parametrize(
    ("authoritative", "legacy", "app", "outcome", "reason"),
    [
        pytest.param(
            Side.LEGACY,
            legacy_ok(legacy_state()),
            app_ok(b"Internal Server Error", 500),
            Outcome.SHADOW_ERROR,
            "shadow app: HTTP 500",
            id="500-on-the-shadow",
        ),
        pytest.param(
            Side.LEGACY,
            legacy_ok(legacy_state()),
            Observation(Side.APP, None, error="timeout"),
            Outcome.SHADOW_ERROR,
            "shadow app: timeout",
            id="shadow-transport-timeout",
        ),
        pytest.param(
            Side.APP,
            legacy_ok(legacy_state()),
            app_ok(b"Bad Gateway", 502),
            Outcome.AUTHORITATIVE_ERROR,
            "authoritative app: HTTP 502",
            id="authoritative-5xx",
        ),
        pytest.param(
            Side.APP,
            Observation(Side.LEGACY, None, error="connection refused"),
            app_ok(app_status()),
            Outcome.SHADOW_ERROR,
            "shadow legacy: connection refused",
            id="legacy-shadow-refused",
        ),
        pytest.param(
            Side.LEGACY,
            Observation(Side.LEGACY, None, error="timeout"),
            app_ok(b"Internal Server Error", 500),
            Outcome.BOTH_ERROR,
            "legacy: timeout; app: HTTP 500",
            id="both-failed",
        ),
    ],
)
def test_rule_1_transport_errors_and_5xx(
    authoritative: Side, legacy: Observation, app: Observation, outcome: Outcome, reason: str
) -> None:
    comparison = ENGINE(exchange(authoritative=authoritative), legacy, app, IDS)
    assert comparison.outcome is outcome
    assert comparison.reason == reason
    assert comparison.differences == ()


NOT_FOUND = {"detail": "Task not found"}


@pytest.mark.parametrize(
    ("legacy", "app", "outcome", "fields"),
    [
        pytest.param(
            legacy_ok(legacy_state()),
            app_ok(NOT_FOUND, 404),
            Outcome.MISMATCH,
            ["status_code"],
            id="404-for-a-task-the-other-side-has",
        ),
        pytest.param(
            legacy_ok(NOT_FOUND, 404),
            app_ok(NOT_FOUND, 404),
            Outcome.MATCH,
            [],
            id="both-404-same-detail",
        ),
        pytest.param(
            legacy_ok({"detail": "Field required"}, 400),
            app_ok({"detail": "Field required"}, 422),
            Outcome.MATCH,
            [],
            id="same-class-is-a-match",
        ),
        pytest.param(
            legacy_ok({"detail": "ANTHROPIC_API_KEY environment variable not set"}, 400),
            app_ok({"detail": "ticker is required"}, 400),
            Outcome.MISMATCH,
            ["detail"],
            id="4xx-detail-differs",
        ),
        pytest.param(
            legacy_ok(b"not json", 401),
            app_ok({"detail": "Unauthorized: valid X-API-Key header required"}, 401),
            Outcome.MISMATCH,
            ["detail"],
            id="4xx-detail-lost",
        ),
        pytest.param(
            legacy_ok(b"Disallowed CORS origin", 400),
            app_ok(b"Disallowed CORS origin", 400),
            Outcome.MATCH,
            [],
            id="4xx-text-bodies-equal",
        ),
        pytest.param(
            legacy_ok(b"Disallowed CORS origin", 400),
            app_ok(b"400: Bad Request", 400),
            Outcome.MISMATCH,
            ["detail"],
            id="4xx-text-bodies-differ",
        ),
    ],
)
def test_rule_2_status_codes(
    legacy: Observation, app: Observation, outcome: Outcome, fields: list[str]
) -> None:
    comparison = ENGINE(exchange(), legacy, app, IDS)
    assert comparison.outcome is outcome
    assert [d.field for d in comparison.differences] == fields


def test_status_mismatch_keeps_the_identity_of_the_answering_side() -> None:
    comparison = ENGINE(exchange(), legacy_ok(legacy_state()), app_ok(NOT_FOUND, 404), IDS)
    difference = comparison.differences[0]
    assert (difference.kind, difference.legacy, difference.app) == (DiffKind.CHANGED, 200, 404)
    assert (comparison.task_id, comparison.ticker, comparison.date) == (
        LEGACY_ID,
        "AAPL",
        "2026-04-13",
    )


# ------------------------------------------------------------ rules 3 to 6, status documents


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
    comparison = ENGINE(exchange(), legacy_ok(legacy), app_ok(app), IDS)
    assert comparison.outcome is outcome, comparison.differences
    if expected and isinstance(expected[0], str):
        assert [d.field for d in comparison.differences] == expected
    else:
        found = [(d.field, d.kind, d.legacy, d.app) for d in comparison.differences]
        assert found == expected
    assert (comparison.task_id, comparison.ticker, comparison.date) == (
        LEGACY_ID,
        "AAPL",
        "2026-04-13",
    )


def test_an_uncorrelated_app_id_is_a_task_id_difference() -> None:
    comparison = ENGINE(exchange(), legacy_ok(legacy_state()), app_ok(app_status()), {})
    assert comparison.outcome is Outcome.MISMATCH
    assert [(d.field, d.legacy, d.app) for d in comparison.differences] == [
        ("task_id", LEGACY_ID, APP_ID)
    ]


# ---------------------------------------------------------------- rule 4: lifecycle


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
    comparison = ENGINE(exchange(), legacy_ok(legacy), app_ok(app), IDS)
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


# ---------------------------------------------------------------- portfolio batches

BATCH_LEGACY_ID = "port_2026-04-13_0f3a9c"
BATCH_APP_ID = "port_2026-04-13_77aa01"


def legacy_batch(
    *, status: str = "completed", completed: int = 2, decision: str = "OVERWEIGHT"
) -> dict[str, Any]:
    records = [
        {
            "ticker": ticker,
            "name": ticker,
            "analysis_date": "2026-04-13",
            "decision": decision if ticker == "AAPL" else "HOLD",
            "quant_signal": "HOLD",
            "llm_signal": "BUY",
            "confidence": 0.63,
            "created_at": "2026-04-13T12:03:00.000001",
        }
        for ticker in ("AAPL", "MSFT")[:completed]
    ]
    return {
        "task_id": BATCH_LEGACY_ID,
        "type": "portfolio",
        "status": status,
        "total": 2,
        "completed": completed,
        "failed": 0,
        "current_ticker": None if status == "completed" else "MSFT",
        "results": records,
        "error": None,
    }


def app_batch(
    *, status: str = "completed", completed: int = 2, decision: str = "OVERWEIGHT"
) -> dict[str, Any]:
    records = [
        {
            "contract_version": "v1alpha1",
            "ticker": ticker,
            "name": ticker,
            "date": "2026-04-13",
            "status": "degraded_success",
            "created_at": "2026-04-13T12:03:01.000001",
            "result": {"decision": decision if ticker == "AAPL" else "HOLD", "confidence": 0.63},
            "compat": {"analysis_date": "2026-04-13", "decision": decision},
        }
        for ticker in ("AAPL", "MSFT")[:completed]
    ]
    return {
        "contract_version": "v1alpha1",
        "task_id": BATCH_APP_ID,
        "request_id": "aa" * 16,
        "executor_type": "legacy_subprocess",
        "result_ref": None,
        "status": status,
        "created_at": "2026-04-13T12:00:00.000001",
        "degradation_summary": None,
        "data_quality_summary": None,
        "error": None,
        "type": "portfolio",
        "total": 2,
        "completed": completed,
        "failed": 0,
        "current_ticker": None if status == "completed" else "MSFT",
        "results": records,
    }


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
    ids = {BATCH_APP_ID: BATCH_LEGACY_ID}
    comparison = ENGINE(exchange(), legacy_ok(legacy), app_ok(app), ids)
    assert comparison.outcome is outcome, comparison.differences
    assert [d.field for d in comparison.differences] == fields
    assert comparison.task_id == BATCH_LEGACY_ID


# ---------------------------------------------------------------- accepted envelopes


@pytest.mark.parametrize(
    ("profile", "legacy", "app", "outcome"),
    [
        pytest.param(
            "analysis_accepted",
            {"task_id": LEGACY_ID, "ticker": "AAPL", "date": "2026-04-13", "status": "running"},
            {
                "contract_version": "v1alpha1",
                "task_id": APP_ID,
                "ticker": "AAPL",
                "date": "2026-04-13",
                "status": "running",
            },
            Outcome.MATCH,
            id="start",
        ),
        pytest.param(
            "cancel_ack",
            {"task_id": LEGACY_ID, "status": "cancelled"},
            {"contract_version": "v1alpha1", "task_id": APP_ID, "status": "cancelled"},
            Outcome.MATCH,
            id="cancel",
        ),
        pytest.param(
            "batch_accepted",
            {"task_id": BATCH_LEGACY_ID, "total": 2, "status": "running"},
            {
                "contract_version": "v1alpha1",
                "task_id": BATCH_APP_ID,
                "total": 3,
                "status": "running",
            },
            Outcome.MISMATCH,
            id="batch-total-differs",
        ),
    ],
)
def test_accepted_envelopes(profile: str, legacy: Any, app: Any, outcome: Outcome) -> None:
    ids = {APP_ID: LEGACY_ID, BATCH_APP_ID: BATCH_LEGACY_ID}
    comparison = ENGINE(exchange(profile=profile), legacy_ok(legacy), app_ok(app), ids)
    assert comparison.outcome is outcome, comparison.differences
    assert comparison.task_id in (LEGACY_ID, BATCH_LEGACY_ID)


# ---------------------------------------------------------------- rule 5 and 6


def engine_with(*known: AcceptedDifference, max_differences: int = 50) -> DiffEngine:
    config = DiffConfig(known_differences=known, max_differences=max_differences)
    return DiffEngine(config, today=lambda: dt.date(2026, 5, 1))


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
    comparison = engine_with(known)(exchange(), legacy_ok(legacy_state()), app_ok(app), IDS)
    assert comparison.outcome is outcome
    assert [d.field for d in comparison.accepted] == accepted
    if outcome is Outcome.ACCEPTED:
        assert comparison.differences == ()
        assert comparison.reason == "known: rating table drift"


def test_rule_5_accepting_part_leaves_a_mismatch() -> None:
    known = AcceptedDifference("*", "decision", "rating table drift")
    app = app_status(result=app_result(decision="UNDERWEIGHT", confidence=0.5))
    comparison = engine_with(known)(exchange(), legacy_ok(legacy_state()), app_ok(app), IDS)
    assert comparison.outcome is Outcome.MISMATCH
    assert [d.field for d in comparison.differences] == ["confidence"]
    assert [d.field for d in comparison.accepted] == ["decision"]


def test_rule_6_secondary_never_changes_the_outcome_and_skips_volatile_fields() -> None:
    comparison = ENGINE(exchange(), legacy_ok(legacy_state()), app_ok(app_status()), IDS)
    assert comparison.outcome is Outcome.MATCH
    fields = {d.field for d in comparison.secondary}
    assert "status" in fields
    assert "result" in fields
    assert not {"created_at", "request_id", "task_id", "elapsed_seconds"} & fields
    assert not any("completed_at" in field for field in fields)


def test_secondary_is_computed_only_for_the_outcomes_asked_for() -> None:
    engine = DiffEngine(secondary_for=lambda outcome: outcome is not Outcome.MATCH)
    matched = engine(exchange(), legacy_ok(legacy_state()), app_ok(app_status()), IDS)
    assert matched.outcome is Outcome.MATCH
    assert matched.secondary == ()
    changed = app_status(result=app_result(decision="SELL"))
    mismatched = engine(exchange(), legacy_ok(legacy_state()), app_ok(changed), IDS)
    assert mismatched.outcome is Outcome.MISMATCH
    assert "result" in {d.field for d in mismatched.secondary}


def test_differences_and_secondary_are_capped() -> None:
    engine = engine_with(max_differences=3)
    app = app_status(status="failed", error={"code": "analysis_failed", "message": "x"})
    comparison = engine(exchange(), legacy_ok(legacy_state()), app_ok(app), IDS)
    assert comparison.outcome is Outcome.MISMATCH
    assert [d.field for d in comparison.differences] == ["status", "decision", "confidence"]
    assert len(comparison.secondary) == 3


def test_batch_skew_reason_counts_tickers_not_progress() -> None:
    values = ENGINE.compare_values(
        "status_document",
        legacy_batch(status="running", completed=1),
        app_batch(status="running", completed=0),
        {BATCH_APP_ID: BATCH_LEGACY_ID},
        route=STATUS_ROUTE,
    )
    assert values.outcome is Outcome.INFLIGHT_SKEW
    assert values.reason == "document in flight: legacy running (stage 1), app running (stage 0)"
