"""The migration plan's five verification checkpoints (docs/migration.md §5), per comparison.

Each row is one comparison and what the checkpoint makes of it: whether it is evidence for the
checkpoint (`applies`) and whether it violates it (`violated`, asked only of evidence).
"""

from __future__ import annotations

import pytest

from shadowproxy.cutover.checkpoints import CHECKPOINTS, Checkpoint
from shadowproxy.types import (
    Comparison,
    Difference,
    DiffKind,
    ExchangeKind,
    Observation,
    Outcome,
    RouteGroup,
    Side,
    SkipReason,
)

from ..factories import changed, exchange, observation

ANALYSIS, PORTFOLIO = RouteGroup.ANALYSIS, RouteGroup.PORTFOLIO
WS_ANALYSIS, WS_ORCHESTRATOR = RouteGroup.WS_ANALYSIS, RouteGroup.WS_ORCHESTRATOR
HTTP, WS = ExchangeKind.HTTP, ExchangeKind.WS
MATCH, MISMATCH, SKIPPED = Outcome.MATCH, Outcome.MISMATCH, Outcome.SKIPPED
STATUS = "/api/analysis/status/{task_id}"
TASKS = "/api/analysis/tasks"
START = "/api/analysis/start"
STREAM = "/ws/analysis/{task_id}"
LIVE = "/ws/orchestrator"
BY_NAME = {checkpoint.name: checkpoint for checkpoint in CHECKPOINTS}


def seen(
    route: str,
    *differences: Difference,
    group: RouteGroup = ANALYSIS,
    outcome: Outcome = MISMATCH,
    kind: ExchangeKind = HTTP,
    legacy: Observation | None = None,
    accepted: tuple[Difference, ...] = (),
    reason: str | None = None,
) -> Comparison:
    """A published comparison of `route`, legacy authoritative, as the checkpoints read it."""
    return Comparison(
        exchange(route=route, route_group=group, kind=kind),
        outcome,
        legacy=legacy,
        differences=differences,
        accepted=accepted,
        reason=reason,
    )


def missing(field: str) -> Difference:
    return Difference(field, DiffKind.MISSING, legacy={"task_id": "x"})


def extra(field: str) -> Difference:
    return Difference(field, DiffKind.EXTRA, app={"task_id": "x"})


def reordered(field: str) -> Difference:
    return Difference(field, DiffKind.REORDERED, legacy=["a", "b"], app=["b", "a"])


def judge(checkpoint: Checkpoint, case: Comparison) -> tuple[bool, bool]:
    applies = checkpoint.applies(case)
    return applies, applies and checkpoint.violated(case)


def test_the_five_checkpoints_of_the_plan() -> None:
    assert [c.name for c in CHECKPOINTS] == [
        "task_ids",
        "stage_order",
        "results_kept",
        "error_text",
        "live_order",
    ]
    assert all(c.condition for c in CHECKPOINTS)


UNCORRELATED = SkipReason.UNCORRELATED.value


@pytest.mark.parametrize(
    ("case", "applies", "violated"),
    [
        pytest.param(
            seen(STATUS, outcome=SKIPPED, reason=UNCORRELATED), True, True, id="uncorrelated-skip"
        ),
        pytest.param(
            seen("/api/analysis/cancel/{task_id}", outcome=SKIPPED, reason=UNCORRELATED),
            True,
            True,
            id="uncorrelated-cancel",
        ),
        pytest.param(seen(TASKS, missing("tasks[AAPL_1]")), True, True, id="task-row-missing"),
        pytest.param(seen(TASKS, extra("tasks[AAPL_2]")), True, True, id="task-row-extra"),
        pytest.param(seen(START, changed("task_id", "a", "b")), True, True, id="task-id-changed"),
        pytest.param(
            seen(STATUS, changed("result.task_id", "a", "b")), True, True, id="nested-task-id"
        ),
        pytest.param(
            seen(STREAM, changed("task_id"), group=WS_ANALYSIS, kind=WS),
            True,
            True,
            id="socket-task-id",
        ),
        pytest.param(
            seen("/api/portfolio/analyze", missing("task_id"), group=PORTFOLIO),
            True,
            True,
            id="portfolio-analyze",
        ),
        pytest.param(seen(STATUS, outcome=MATCH), True, False, id="a-match"),
        pytest.param(seen(STATUS, outcome=Outcome.INFLIGHT_SKEW), True, False, id="inflight"),
        pytest.param(
            seen(STATUS, outcome=Outcome.ACCEPTED, accepted=(changed("task_id"),)),
            True,
            False,
            id="accepted-task-id",
        ),
        pytest.param(
            seen(TASKS, changed("tasks[AAPL_1]")), True, False, id="task-row-changed-not-lost"
        ),
        pytest.param(
            seen(TASKS, missing("tasks[AAPL_1].decision")), True, False, id="a-field-of-a-row"
        ),
        pytest.param(seen(STATUS, changed("progress", 40, 60)), True, False, id="other-field"),
        pytest.param(
            seen(STATUS, outcome=SKIPPED, reason=SkipReason.BODY_TOO_LARGE.value),
            False,
            False,
            id="another-skip",
        ),
        pytest.param(seen(STATUS, outcome=Outcome.SHADOW_ERROR), False, False, id="shadow-error"),
        pytest.param(
            seen("/api/portfolio/positions", missing("task_id"), group=PORTFOLIO),
            False,
            False,
            id="not-an-id-route",
        ),
        pytest.param(
            seen(
                "/api/reports/list", outcome=SKIPPED, reason=UNCORRELATED, group=RouteGroup.REPORTS
            ),
            False,
            False,
            id="uncorrelated-elsewhere",
        ),
    ],
)
def test_task_ids(case: Comparison, applies: bool, violated: bool) -> None:
    assert judge(BY_NAME["task_ids"], case) == (applies, violated)


def stream(*differences: Difference, outcome: Outcome = MISMATCH) -> Comparison:
    return seen(STREAM, *differences, group=WS_ANALYSIS, kind=WS, outcome=outcome)


@pytest.mark.parametrize(
    ("case", "applies", "violated"),
    [
        pytest.param(stream(outcome=MATCH), True, False, id="a-match"),
        pytest.param(stream(reordered("stage_sequence")), True, True, id="stage-sequence"),
        pytest.param(stream(changed("progress_stalled", None, 40)), True, True, id="stalled"),
        pytest.param(
            stream(changed("frames[3].progress"), reordered("stage_sequence")),
            True,
            True,
            id="among-others",
        ),
        pytest.param(stream(changed("frames[3].progress")), True, False, id="other-field"),
        pytest.param(
            stream(reordered("stage_sequence"), outcome=Outcome.INFLIGHT_SKEW),
            True,
            False,
            id="inflight-is-no-mismatch",
        ),
        pytest.param(stream(outcome=Outcome.SHADOW_ERROR), False, False, id="shadow-error"),
        pytest.param(
            seen(STATUS, reordered("stage_sequence"), group=WS_ANALYSIS),
            False,
            False,
            id="http-in-the-group",
        ),
        pytest.param(
            seen(LIVE, reordered("stage_sequence"), group=WS_ORCHESTRATOR, kind=WS),
            False,
            False,
            id="another-socket",
        ),
        pytest.param(
            seen(STATUS, reordered("stage_sequence")), False, False, id="http-analysis-poll"
        ),
    ],
)
def test_stage_order(case: Comparison, applies: bool, violated: bool) -> None:
    assert judge(BY_NAME["stage_order"], case) == (applies, violated)


@pytest.mark.parametrize(
    ("case", "applies", "violated"),
    [
        pytest.param(seen(STATUS, changed("decision", "BUY", "SELL")), True, True, id="decision"),
        pytest.param(
            seen(STATUS, Difference("confidence", DiffKind.MISSING, legacy=0.6)),
            True,
            True,
            id="confidence",
        ),
        pytest.param(seen(STATUS, changed("degraded", True, False)), True, True, id="degraded"),
        pytest.param(seen(STATUS, changed("llm_rating", "HOLD", "BUY")), True, True, id="lane"),
        pytest.param(
            seen(TASKS, changed("tasks[AAPL_1].decision")), True, True, id="task-row-decision"
        ),
        pytest.param(
            seen(STREAM, changed("result.confidence"), group=WS_ANALYSIS, kind=WS),
            True,
            True,
            id="socket-result",
        ),
        pytest.param(
            seen(
                "/api/portfolio/recommendations",
                changed("signals[AAPL:d].direction"),
                group=PORTFOLIO,
            ),
            True,
            True,
            id="recommendations",
        ),
        pytest.param(seen(STATUS, outcome=MATCH), True, False, id="a-match"),
        pytest.param(
            seen(STATUS, outcome=Outcome.ACCEPTED, accepted=(changed("decision"),)),
            True,
            False,
            id="accepted",
        ),
        pytest.param(seen(STATUS, changed("progress", 40, 60)), True, False, id="other-field"),
        pytest.param(
            seen(STATUS, changed("decision_reason")), True, False, id="only-a-prefix-alike"
        ),
        pytest.param(
            seen(STATUS, changed("decision"), outcome=Outcome.INFLIGHT_SKEW),
            False,
            False,
            id="inflight-skew",
        ),
        pytest.param(seen(STATUS, outcome=Outcome.BOTH_ERROR), False, False, id="both-error"),
        pytest.param(seen(START, changed("decision")), False, False, id="not-a-result-route"),
    ],
)
def test_results_kept(case: Comparison, applies: bool, violated: bool) -> None:
    assert judge(BY_NAME["results_kept"], case) == (applies, violated)


def failed(status: int | None) -> Observation:
    return observation(Side.LEGACY, status, {"detail": "Task not found"})


@pytest.mark.parametrize(
    ("case", "applies", "violated"),
    [
        pytest.param(seen(STATUS, outcome=MATCH, legacy=failed(404)), True, False, id="legacy-404"),
        pytest.param(seen(START, outcome=MATCH, legacy=failed(400)), True, False, id="legacy-400"),
        pytest.param(
            seen(STATUS, changed("detail", "Task not found", "not found"), legacy=failed(404)),
            True,
            True,
            id="detail",
        ),
        pytest.param(
            seen(STATUS, changed("error.message", "boom", None), legacy=failed(422)),
            True,
            True,
            id="error-message",
        ),
        pytest.param(
            seen(STATUS, changed("error.message", "boom", None), legacy=failed(200)),
            True,
            True,
            id="a-2xx-about-errors",
        ),
        pytest.param(
            seen(TASKS, missing("tasks[AAPL_1].error"), legacy=failed(200)),
            True,
            True,
            id="a-row-error",
        ),
        pytest.param(
            seen(STATUS, changed("status_code", 404, 200), legacy=failed(404)),
            True,
            False,
            id="not-the-text",
        ),
        pytest.param(
            seen(
                STATUS,
                outcome=Outcome.ACCEPTED,
                accepted=(changed("detail"),),
                legacy=failed(200),
            ),
            True,
            False,
            id="accepted-detail",
        ),
        pytest.param(seen(STATUS, outcome=MATCH, legacy=failed(200)), False, False, id="legacy-ok"),
        pytest.param(
            seen(STATUS, outcome=MATCH, legacy=failed(500)), False, False, id="legacy-5xx"
        ),
        pytest.param(seen(STATUS, outcome=MATCH), False, False, id="no-legacy-answer"),
        pytest.param(
            seen(STATUS, outcome=SKIPPED, legacy=failed(404), reason=UNCORRELATED),
            False,
            False,
            id="skipped",
        ),
        pytest.param(
            seen(STATUS, changed("errors"), legacy=failed(200)),
            False,
            False,
            id="not-an-error-field",
        ),
    ],
)
def test_error_text(case: Comparison, applies: bool, violated: bool) -> None:
    assert judge(BY_NAME["error_text"], case) == (applies, violated)


def live(*differences: Difference, outcome: Outcome = MISMATCH) -> Comparison:
    return seen(LIVE, *differences, group=WS_ORCHESTRATOR, kind=WS, outcome=outcome)


@pytest.mark.parametrize(
    ("case", "applies", "violated"),
    [
        pytest.param(live(outcome=MATCH), True, False, id="a-match"),
        pytest.param(live(reordered("signals.order")), True, True, id="reordered"),
        pytest.param(live(reordered("signals.request_order")), True, True, id="request-order"),
        pytest.param(
            live(changed("signals[AAPL:d].ticker", "AAPL", "MSFT")), True, True, id="ticker"
        ),
        pytest.param(live(changed("signals[AAPL:d].date")), True, True, id="date"),
        pytest.param(live(changed("signals[AAPL:d].direction")), True, False, id="other-field"),
        pytest.param(
            live(reordered("signals.order"), outcome=Outcome.INFLIGHT_SKEW),
            True,
            False,
            id="inflight-is-no-mismatch",
        ),
        pytest.param(live(outcome=Outcome.AUTHORITATIVE_ERROR), False, False, id="an-error"),
        pytest.param(stream(reordered("stage_sequence")), False, False, id="analysis-socket"),
    ],
)
def test_live_order(case: Comparison, applies: bool, violated: bool) -> None:
    assert judge(BY_NAME["live_order"], case) == (applies, violated)


@pytest.mark.parametrize("checkpoint", CHECKPOINTS, ids=lambda c: c.name)
def test_a_comparison_that_was_not_compared_is_no_evidence(checkpoint: Checkpoint) -> None:
    """Skips other than uncorrelated, and every error outcome, never count for or against."""
    for outcome in (Outcome.SHADOW_ERROR, Outcome.AUTHORITATIVE_ERROR, Outcome.BOTH_ERROR):
        for case in (stream(outcome=outcome), live(outcome=outcome)):
            assert not checkpoint.applies(case)
    sampled = seen(STATUS, outcome=SKIPPED, reason=SkipReason.SAMPLED_OUT.value, legacy=failed(404))
    assert not checkpoint.applies(sampled)
