"""Rollback triggers (docs/migration.md §6) on single comparisons: which fire, which never do."""

from __future__ import annotations

import pytest

from shadowproxy.rollback.triggers import fired
from shadowproxy.types import Comparison, Difference, DiffKind, Outcome, RouteGroup

from ..factories import changed, comparison

ANALYSIS, REPORTS = RouteGroup.ANALYSIS, RouteGroup.REPORTS


@pytest.mark.parametrize(
    ("group", "difference", "trigger"),
    [
        (ANALYSIS, changed("decision", "BUY", "SELL"), "analysis_result_lost"),
        (ANALYSIS, Difference("confidence", DiffKind.MISSING, legacy=0.6), "analysis_result_lost"),
        (ANALYSIS, changed("tasks[AAPL_1].decision"), "analysis_result_lost"),
        (RouteGroup.WS_ORCHESTRATOR, changed("signals[AAPL:d].direction"), "analysis_result_lost"),
        (ANALYSIS, changed("llm_rating", "HOLD", "BUY"), "signal_reclassified"),
        (ANALYSIS, changed("degraded", True, False), "signal_reclassified"),
        (RouteGroup.WS_ANALYSIS, changed("progress_stalled", None, 40), "progress_stalled"),
        (ANALYSIS, changed("status_code", 200, 404), "task_status_lost"),
        (REPORTS, changed("status_code", 200, 404), "report_artifact_missing"),
    ],
)
def test_each_condition_fires_its_trigger(
    group: RouteGroup, difference: Difference, trigger: str
) -> None:
    hit = fired(comparison(group, changed("progress"), difference))
    assert hit is not None
    assert (hit.trigger.name, hit.field) == (trigger, difference.field)


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(comparison(ANALYSIS, changed("progress", 40, 60)), id="not-a-trigger-field"),
        pytest.param(
            comparison(ANALYSIS, changed("decision"), outcome=Outcome.INFLIGHT_SKEW),
            id="not-a-mismatch",
        ),
        pytest.param(
            comparison(ANALYSIS, outcome=Outcome.ACCEPTED, accepted=(changed("decision"),)),
            id="a-known-difference",
        ),
        pytest.param(
            comparison(ANALYSIS, changed("status_code", 200, 400)), id="app-rejects-a-start"
        ),
        pytest.param(
            comparison(ANALYSIS, changed("status_code", 404, 200)), id="legacy-is-the-one-missing"
        ),
        pytest.param(
            comparison(RouteGroup.PORTFOLIO, changed("status_code", 200, 404)),
            id="404-outside-analysis-and-reports",
        ),
        pytest.param(
            comparison(ANALYSIS, outcome=Outcome.SHADOW_ERROR), id="a-shadow-error-is-no-loss"
        ),
    ],
)
def test_these_never_fire(case: Comparison) -> None:
    assert fired(case) is None
