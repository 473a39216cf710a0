"""The text `shadowproxy cutover` prints for a readiness report (`Readiness.report()`)."""

from __future__ import annotations

from typing import Any

from shadowproxy.contracts.builtin import LEGACY_DASHBOARD, V1ALPHA1_DASHBOARD
from shadowproxy.cutover.checkpoints import CHECKPOINTS
from shadowproxy.cutover.readiness import Readiness
from shadowproxy.cutover.render import MAX_ROWS, render
from shadowproxy.types import (
    BreakKind,
    ClientFindings,
    Comparison,
    ContractBreak,
    Difference,
    DriftFinding,
    Outcome,
    Role,
    RouteGroup,
)

from ..factories import changed, exchange

ANALYSIS, REPORTS = RouteGroup.ANALYSIS, RouteGroup.REPORTS
LEGACY, V1 = LEGACY_DASHBOARD, V1ALPHA1_DASHBOARD
STATUS = "/api/analysis/status/{task_id}"
CONDITIONS = {checkpoint.name: checkpoint.condition for checkpoint in CHECKPOINTS}


def stage(min_comparisons: int = 2) -> Readiness:
    return Readiness(
        {LEGACY: frozenset({ANALYSIS}), V1: frozenset({ANALYSIS, REPORTS})},
        min_comparisons=min_comparisons,
        window_s=600.0,
        clock=lambda: 0.0,
    )


def brk(field: str, consumer: str = LEGACY) -> ContractBreak:
    return ContractBreak(consumer, Role.SHADOW, field, BreakKind.MISSING, "string", None)


def seen(
    cid: str,
    *breaks: ContractBreak,
    drift: tuple[DriftFinding, ...] = (),
    differences: tuple[Difference, ...] = (),
    route: str = STATUS,
) -> Comparison:
    outcome = Outcome.MISMATCH if differences else Outcome.MATCH
    return Comparison(
        exchange(comparison_id=cid, route_group=ANALYSIS, route=route),
        outcome,
        differences=differences,
        client=ClientFindings((LEGACY, V1), breaks, drift, exemplar=True),
    )


def lines_of(report: dict[str, Any]) -> list[str]:
    return render(report).splitlines()


def line_with(lines: list[str], *words: str) -> str:
    found = [line for line in lines if all(word in line for word in words)]
    assert len(found) == 1, (words, lines)
    return found[0]


def test_the_header_names_the_window_and_the_minimum() -> None:
    lines = lines_of(stage(min_comparisons=5).report())
    assert lines[0] == (
        "cutover readiness: the app's answers over the last 10 min,"
        " at least 5 checked comparisons per verdict"
    )


def test_a_blocked_consumer_names_the_fields() -> None:
    ready = stage()
    ready.publish(seen("cmp-1", brk("decision"), brk("confidence")))
    ready.publish(seen("cmp-2", brk("decision")))
    lines = lines_of(ready.report())
    start = lines.index("analysis")
    assert lines[start + 1].split() == ["consumer", "checked", "verdict"]
    blocked = line_with(lines, LEGACY, "blocked")
    assert blocked.split() == [
        LEGACY,
        "2",
        "blocked",
        "(2",
        "breaks",
        "on",
        "decision,",
        "1",
        "break",
        "on",
        "confidence)",
    ]
    assert line_with(lines, V1, "2  ready (2 checked)")


def test_breaks_rows_give_an_example_id_and_the_detail() -> None:
    ready = stage()
    ready.publish(seen("cmp-1", brk("decision")))
    ready.publish(seen("cmp-7", brk("decision"), brk("stages[].status", V1)))
    lines = lines_of(ready.report())
    assert "  breaks (app side)" in lines
    row = line_with(lines, "e.g. cmp-7", "decision", LEGACY)
    assert row.split()[:4] == [LEGACY, "decision", "missing", "2"]
    assert row.endswith("e.g. cmp-7  (expected string, got None)")
    assert line_with(lines, V1, "stages[].status", "missing", "e.g. cmp-7")


def test_checkpoints_with_evidence_are_shown_and_the_others_named() -> None:
    ready = stage()
    ready.publish(seen("cmp-1"))
    ready.publish(seen("cmp-2", differences=(changed("decision", "BUY", "SELL"),)))
    lines = lines_of(ready.report())
    assert line_with(lines, "checkpoint (docs/migration.md §5)", "violations", "example")
    ids = line_with(lines, CONDITIONS["task_ids"])
    assert ids.split()[-3:] == ["2", "0", "-"]  # no violation: no example
    results = line_with(lines, CONDITIONS["results_kept"])
    assert results.split()[-3:] == ["2", "1", "cmp-2"]
    assert "  no evidence yet for checkpoints: stage_order, error_text, live_order" in lines
    for name in ("stage_order", "error_text", "live_order"):
        assert not [line for line in lines if CONDITIONS[name] in line]
    # the reports group of v1alpha1 has no evidence at all: every checkpoint is named
    reports = lines[lines.index("reports") :]
    assert f"  no evidence yet for checkpoints: {', '.join(CONDITIONS)}" in reports
    assert not [line for line in reports if "checkpoint (docs" in line]


def test_more_breaks_than_max_rows_are_cut_with_a_pointer_to_json() -> None:
    ready = stage()
    extra = 3
    fields = [f"field_{n:02}" for n in range(MAX_ROWS + extra)]
    ready.publish(seen("cmp-1", *(brk(field) for field in fields)))
    lines = lines_of(ready.report())
    rows = [line for line in lines if "e.g. cmp-1" in line and LEGACY in line]
    assert len(rows) == MAX_ROWS
    assert [row.split()[1] for row in rows] == fields[:MAX_ROWS]
    assert f"    … {extra} more (--json)" in lines


def test_max_rows_breaks_need_no_pointer() -> None:
    ready = stage()
    ready.publish(seen("cmp-1", *(brk(f"field_{n}") for n in range(MAX_ROWS))))
    assert "more (--json)" not in render(ready.report())


def test_drift_rows_and_their_cut() -> None:
    ready = stage()
    drift = tuple(
        DriftFinding(f"result.path_{n:02}", BreakKind.MISSING, 1.0, "string", None)
        for n in range(MAX_ROWS + 1)
    )
    ready.publish(seen("cmp-9", drift=drift))
    lines = lines_of(ready.report())
    assert f"  drift (paths legacy always sends, the app not): {MAX_ROWS + 1}" in lines
    rows = [line for line in lines if "result.path_" in line]
    assert len(rows) == MAX_ROWS
    assert rows[0].split() == [STATUS, "result.path_00", "missing", "1", "e.g.", "cmp-9"]
    assert "    … 1 more (--json)" in lines


def test_an_empty_report() -> None:
    empty = Readiness({}, min_comparisons=20, window_s=900.0, clock=lambda: 0.0)
    assert lines_of(empty.report()) == [
        "cutover readiness: the app's answers over the last 15 min,"
        " at least 20 checked comparisons per verdict",
        "no route group has a configured consumer or any evidence yet",
    ]


def test_a_report_without_keys_still_renders() -> None:
    """The CLI renders whatever the admin API answered: missing keys are no crash."""
    text = render({})
    assert "no route group has a configured consumer or any evidence yet" in text
    assert render({"window_s": 60, "min_comparisons": 1, "groups": {"system": {}}}).splitlines()[
        1:
    ] == ["", "system"]


def test_a_group_with_evidence_and_no_consumer() -> None:
    ready = Readiness({}, min_comparisons=1, window_s=60.0, clock=lambda: 0.0)
    live = exchange(comparison_id="ws-1", route_group=RouteGroup.WS_ORCHESTRATOR, route="/ws/o")
    ready.publish(Comparison(live, Outcome.MATCH))
    lines = lines_of(ready.report())
    assert "ws_orchestrator" in lines
    assert not [line for line in lines if "consumer" in line and "verdict" in line]
    assert line_with(lines, CONDITIONS["live_order"]).split()[-3:] == ["1", "0", "-"]
