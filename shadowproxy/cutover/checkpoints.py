"""The migration plan's verification checkpoints (docs/migration.md §5), judged per comparison.

Each checkpoint says which comparisons are evidence for it (`applies`) and which of those violate
it (`violated`). They read only what a published comparison carries (route, outcome, the
differences that remain after known ones, skip reasons), so the evidence is exactly what the diff
log shows for the same comparison ids.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shadowproxy.diff.fields import ERROR_FIELDS, LANE_FIELDS, RESULT_FIELDS, TASK_ID_FIELDS
from shadowproxy.diff.streams.analysis import PROGRESS_STALLED, STAGE_SEQUENCE
from shadowproxy.types import (
    Comparison,
    Difference,
    DiffKind,
    ExchangeKind,
    Outcome,
    RouteGroup,
    SkipReason,
)

_JUDGED = frozenset(
    {Outcome.MATCH, Outcome.MISMATCH, Outcome.ACCEPTED, Outcome.INFLIGHT_SKEW, Outcome.NOISE}
)
_RESULT_ROUTES = frozenset(
    {
        "/api/analysis/status/{task_id}",
        "/api/analysis/tasks",
        "/ws/analysis/{task_id}",
        "/api/portfolio/recommendations",
    }
)
_ID_ROUTES = frozenset(
    {
        "/api/analysis/start",
        "/api/analysis/status/{task_id}",
        "/api/analysis/tasks",
        "/api/analysis/cancel/{task_id}",
        "/ws/analysis/{task_id}",
        "/api/portfolio/analyze",
    }
)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    name: str
    condition: str  # the plan's words
    applies: Callable[[Comparison], bool]
    violated: Callable[[Comparison], bool]


def _mismatched(comparison: Comparison, test: Callable[[Difference], bool]) -> bool:
    if comparison.outcome is not Outcome.MISMATCH:
        return False
    return any(test(difference) for difference in comparison.differences)


def _judged(comparison: Comparison) -> bool:
    return comparison.outcome in _JUDGED


def _correlation_applies(comparison: Comparison) -> bool:
    uncorrelated = comparison.reason == SkipReason.UNCORRELATED.value
    return comparison.exchange.route in _ID_ROUTES and (_judged(comparison) or uncorrelated)


def _correlation_violated(comparison: Comparison) -> bool:
    if comparison.reason == SkipReason.UNCORRELATED.value:
        return True
    return _mismatched(
        comparison,
        lambda d: (
            TASK_ID_FIELDS.fullmatch(d.field) is not None
            and (d.kind in (DiffKind.MISSING, DiffKind.EXTRA) or d.field.endswith("task_id"))
        ),
    )


def _stages_apply(comparison: Comparison) -> bool:
    exchange = comparison.exchange
    return (
        exchange.kind is ExchangeKind.WS
        and exchange.route_group is RouteGroup.WS_ANALYSIS
        and _judged(comparison)
    )


def _stages_violated(comparison: Comparison) -> bool:
    return _mismatched(comparison, lambda d: d.field in (STAGE_SEQUENCE, PROGRESS_STALLED))


def _results_apply(comparison: Comparison) -> bool:
    # in-flight skew never compares result fields, so it is no evidence for this checkpoint
    judged = comparison.outcome in (
        Outcome.MATCH,
        Outcome.MISMATCH,
        Outcome.ACCEPTED,
        Outcome.NOISE,
    )
    return comparison.exchange.route in _RESULT_ROUTES and judged


def _results_violated(comparison: Comparison) -> bool:
    return _mismatched(
        comparison,
        lambda d: (
            RESULT_FIELDS.fullmatch(d.field) is not None
            or LANE_FIELDS.fullmatch(d.field) is not None
        ),
    )


def _errors_apply(comparison: Comparison) -> bool:
    legacy = comparison.legacy
    failed = legacy is not None and legacy.status is not None and 400 <= legacy.status < 500
    about_errors = any(
        ERROR_FIELDS.fullmatch(d.field)
        for d in (*comparison.differences, *comparison.accepted, *comparison.noise)
    )
    return _judged(comparison) and (failed or about_errors)


def _errors_violated(comparison: Comparison) -> bool:
    return _mismatched(comparison, lambda d: ERROR_FIELDS.fullmatch(d.field) is not None)


def _live_applies(comparison: Comparison) -> bool:
    return comparison.exchange.route_group is RouteGroup.WS_ORCHESTRATOR and _judged(comparison)


def _live_violated(comparison: Comparison) -> bool:
    return _mismatched(
        comparison,
        lambda d: d.kind is DiffKind.REORDERED or d.field.endswith((".ticker", ".date")),
    )


CHECKPOINTS = (
    Checkpoint(
        "task_ids",
        "same task ids are returned for the same route behavior",
        _correlation_applies,
        _correlation_violated,
    ),
    Checkpoint(
        "stage_order",
        "stage transitions remain monotonic",
        _stages_apply,
        _stages_violated,
    ),
    Checkpoint(
        "results_kept",
        "completed tasks persist decision, confidence, and degraded-path outcomes",
        _results_apply,
        _results_violated,
    ),
    Checkpoint(
        "error_text",
        "failure path still preserves actionable error text",
        _errors_apply,
        _errors_violated,
    ),
    Checkpoint(
        "live_order",
        "live websocket payloads preserve ticker/date ordering expectations",
        _live_applies,
        _live_violated,
    ),
)
