"""Cutover readiness: the verdict per route group and consumer over a sliding window, the report.

Readiness judges the *app's* answers whichever side is authoritative: a counted break of the
shadow while legacy answers, of the authoritative side once the app does. Shared and known
breaks, drift and unconfigured consumers never block; a violated checkpoint blocks every
consumer of its group. The window is kept as BUCKET_S buckets on an injected clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import pytest

from shadowproxy.contracts.builtin import BUILTIN_CONTRACTS, LEGACY_DASHBOARD, V1ALPHA1_DASHBOARD
from shadowproxy.contracts.model import Contract, Surface
from shadowproxy.cutover import readiness
from shadowproxy.cutover.readiness import (
    BLOCKED,
    BUCKET_S,
    NOT_ENOUGH,
    READY,
    Readiness,
    Verdict,
    consumer_groups,
)
from shadowproxy.diff.config import DEFAULT_CONFIG, ConfigRoute
from shadowproxy.routing import build_route_table
from shadowproxy.types import (
    BreakKind,
    ClientFindings,
    Comparison,
    ContractBreak,
    Difference,
    DriftFinding,
    ExchangeKind,
    JSONValue,
    Outcome,
    Role,
    RouteGroup,
    RouteSpec,
    Side,
    SkipReason,
)

from ..factories import Clock, changed, exchange

ANALYSIS, REPORTS, PORTFOLIO = RouteGroup.ANALYSIS, RouteGroup.REPORTS, RouteGroup.PORTFOLIO
LEGACY, V1 = LEGACY_DASHBOARD, V1ALPHA1_DASHBOARD
STATUS = "/api/analysis/status/{task_id}"
WINDOW_S = 300.0


def stage(
    consumers: dict[str, frozenset[RouteGroup]] | None = None,
    *,
    min_comparisons: int = 3,
    clock: Clock | None = None,
) -> Readiness:
    return Readiness(
        {LEGACY: frozenset({ANALYSIS})} if consumers is None else consumers,
        min_comparisons=min_comparisons,
        window_s=WINDOW_S,
        clock=clock or Clock(),
    )


def brk(
    field: str = "decision",
    *,
    side: Role = Role.SHADOW,
    consumer: str = LEGACY,
    kind: BreakKind = BreakKind.MISSING,
    got: JSONValue = None,
    message: str | None = None,
    shared: bool = False,
    known: str | None = None,
) -> ContractBreak:
    return ContractBreak(consumer, side, field, kind, "string", got, message, shared, known)


def seen(
    *breaks: ContractBreak,
    cid: str = "cmp-1",
    group: RouteGroup = ANALYSIS,
    route: str = STATUS,
    authoritative: Side = Side.LEGACY,
    outcome: Outcome = Outcome.MATCH,
    consumers: tuple[str, ...] = (LEGACY,),
    drift: tuple[DriftFinding, ...] = (),
    differences: tuple[Difference, ...] = (),
    reason: str | None = None,
    checked: bool = True,
    exemplar: bool = True,
) -> Comparison:
    """A published comparison of `route`; with client findings unless `checked` is False."""
    client = ClientFindings(consumers, breaks, drift, exemplar=exemplar) if checked else None
    return Comparison(
        exchange(comparison_id=cid, route_group=group, route=route, authoritative=authoritative),
        outcome,
        differences=differences,
        reason=reason,
        client=client,
    )


def feed(stage: Readiness, comparisons: Iterable[Comparison]) -> None:
    for comparison in comparisons:
        stage.publish(comparison)


def clean(
    count: int, *, authoritative: Side = Side.LEGACY, consumers: tuple[str, ...] = (LEGACY,)
) -> list[Comparison]:
    """`count` comparisons the app passed: no break, no difference."""
    return [
        seen(cid=f"ok-{n}", authoritative=authoritative, consumers=consumers) for n in range(count)
    ]


def lacking(field: str, share: float = 1.0) -> DriftFinding:
    return DriftFinding(field, BreakKind.MISSING, share, "string", None)


# ---------------------------------------------------------------- the verdict


def test_not_enough_traffic_below_the_minimum_then_ready_at_it() -> None:
    ready = stage(min_comparisons=3)
    assert ready.verdict(ANALYSIS, LEGACY) == Verdict(
        "analysis", LEGACY, NOT_ENOUGH, "not enough traffic (0 of 3 checked)"
    )
    feed(ready, clean(2))
    assert ready.verdict(ANALYSIS, LEGACY).summary == "not enough traffic (2 of 3 checked)"
    feed(ready, clean(1))
    assert ready.verdict(ANALYSIS, LEGACY) == Verdict(
        "analysis", LEGACY, READY, "ready (3 checked)"
    )


@pytest.mark.parametrize(
    ("authoritative", "side", "blocks"),
    [
        pytest.param(Side.LEGACY, Role.SHADOW, True, id="before-a-flip-the-shadow-is-the-app"),
        pytest.param(Side.LEGACY, Role.AUTHORITATIVE, False, id="legacy-answering-never-counts"),
        pytest.param(Side.APP, Role.AUTHORITATIVE, True, id="after-a-flip-the-app-answers"),
        pytest.param(Side.APP, Role.SHADOW, False, id="legacy-as-shadow-never-counts"),
    ],
)
def test_only_the_app_sides_break_counts(authoritative: Side, side: Role, blocks: bool) -> None:
    ready = stage(min_comparisons=3)
    feed(ready, clean(3, authoritative=authoritative))
    ready.publish(seen(brk(side=side), cid="cmp-broken", authoritative=authoritative))
    verdict = ready.verdict(ANALYSIS, LEGACY)
    if blocks:
        assert (verdict.verdict, verdict.summary) == (BLOCKED, "blocked (1 break on decision)")
    else:
        assert (verdict.verdict, verdict.summary) == (READY, "ready (4 checked)")


def test_a_break_blocks_even_below_the_minimum() -> None:
    ready = stage(min_comparisons=100)
    ready.publish(seen(brk()))
    assert ready.verdict(ANALYSIS, LEGACY).verdict == BLOCKED


@pytest.mark.parametrize(
    "found",
    [
        pytest.param(brk(shared=True), id="shared-with-legacy"),
        pytest.param(brk(known="a frontend defect, documented"), id="known"),
    ],
)
def test_shared_and_known_breaks_never_block(found: ContractBreak) -> None:
    ready = stage(min_comparisons=1)
    ready.publish(seen(found))
    assert ready.verdict(ANALYSIS, LEGACY).verdict == READY
    assert ready.report()["groups"]["analysis"]["consumers"][LEGACY]["breaks"] == []


def test_a_consumer_that_is_not_configured_is_ignored() -> None:
    ready = stage(min_comparisons=1)
    ready.publish(seen(brk(consumer="ops-console"), consumers=(LEGACY, "ops-console")))
    assert ready.verdict(ANALYSIS, LEGACY).verdict == READY
    assert list(ready.report()["groups"]["analysis"]["consumers"]) == [LEGACY]
    assert [v.consumer for v in ready.verdicts()] == [LEGACY]
    assert ready.blocking(ANALYSIS) == []


def test_several_fields_most_frequent_first() -> None:
    ready = stage(min_comparisons=1)
    feed(ready, [seen(brk("confidence"), brk("decision"), cid=f"c{n}") for n in range(2)])
    ready.publish(seen(brk("decision", kind=BreakKind.TYPE_CHANGED, got=1), cid="c3"))
    ready.publish(seen(brk("decision"), cid="c4"))
    assert ready.verdict(ANALYSIS, LEGACY).summary == (
        "blocked (4 breaks on decision, 2 breaks on confidence)"  # a field's kinds add up
    )


def test_a_violated_checkpoint_blocks_every_consumer_of_the_group() -> None:
    ready = stage({LEGACY: frozenset({ANALYSIS}), V1: frozenset({ANALYSIS, REPORTS})})
    for consumer in (LEGACY, V1):
        feed(ready, clean(3, consumers=(consumer,)))
    assert {v.verdict for v in ready.verdicts()} == {READY, NOT_ENOUGH}
    lost = seen(cid="cmp-lost", outcome=Outcome.SKIPPED, reason=SkipReason.UNCORRELATED.value)
    ready.publish(lost)  # the skip has no client findings, and still blocks
    assert ready.verdict(ANALYSIS, LEGACY).summary == "blocked (checkpoint 1 on task_ids)"
    assert ready.verdict(ANALYSIS, V1).summary == "blocked (checkpoint 1 on task_ids)"
    assert ready.verdict(REPORTS, V1).verdict == NOT_ENOUGH
    assert [(v.group, v.consumer) for v in ready.blocking(ANALYSIS)] == [
        ("analysis", LEGACY),
        ("analysis", V1),
    ]
    assert ready.blocking(REPORTS) == []


def test_breaks_and_checkpoints_together() -> None:
    ready = stage(min_comparisons=1)
    ready.publish(seen(brk(), outcome=Outcome.MISMATCH, differences=(changed("decision"),)))
    assert ready.verdict(ANALYSIS, LEGACY).summary == (
        "blocked (1 break on decision, checkpoint 1 on results_kept)"
    )


def test_drift_never_blocks() -> None:
    ready = stage(min_comparisons=1)
    ready.publish(seen(drift=(lacking("result.decision"),)))
    assert ready.verdict(ANALYSIS, LEGACY).verdict == READY


# ---------------------------------------------------------------- the sliding window


def test_breaks_older_than_the_window_drop_out() -> None:
    clock = Clock()
    ready = stage(min_comparisons=1, clock=clock)
    start = clock.now
    ready.publish(seen(brk(), cid="cmp-old"))
    clock.now = start + 200
    ready.publish(seen(cid="cmp-new"))
    clock.now = start + WINDOW_S
    assert ready.verdict(ANALYSIS, LEGACY).verdict == BLOCKED
    clock.now = start + WINDOW_S + BUCKET_S - 0.1
    assert ready.verdict(ANALYSIS, LEGACY).verdict == BLOCKED
    clock.now = start + WINDOW_S + BUCKET_S  # the break's bucket is out, read without a publish
    assert ready.verdict(ANALYSIS, LEGACY) == Verdict(
        "analysis", LEGACY, READY, "ready (1 checked)"
    )
    clock.now = start + 200 + WINDOW_S + BUCKET_S
    assert ready.verdict(ANALYSIS, LEGACY).summary == "not enough traffic (0 of 1 checked)"
    assert ready.report()["groups"]["analysis"]["checkpoints"][0]["checked"] == 0


def test_a_bucket_holds_BUCKET_S_and_expires_whole() -> None:
    clock = Clock()
    ready = stage(min_comparisons=1, clock=clock)
    start = clock.now
    ready.publish(seen(cid="first"))
    clock.now = start + BUCKET_S - 1  # still the first bucket
    ready.publish(seen(brk("decision"), cid="same-bucket"))
    clock.now = start + BUCKET_S  # a new bucket
    ready.publish(seen(brk("confidence"), cid="next-bucket"))
    clock.now = start + WINDOW_S + BUCKET_S  # the first is out, the break in it only 301 s old
    assert ready.verdict(ANALYSIS, LEGACY).summary == "blocked (1 break on confidence)"
    clock.now = start + WINDOW_S + 2 * BUCKET_S
    assert ready.verdict(ANALYSIS, LEGACY).verdict == NOT_ENOUGH


def test_a_break_is_kept_at_least_the_window() -> None:
    """Bucketing only ever keeps a break longer than window_s, never shorter."""
    clock = Clock()
    ready = stage(min_comparisons=1, clock=clock)
    offsets = (0.0, 30.0, 59.0, 61.0, 150.0, 239.5)
    for offset in offsets:
        clock.now = 5000.0 + offset
        ready.publish(seen(brk(f"field_{offset:g}"), cid=f"at-{offset:g}"))

    def kept() -> set[str]:
        rows = ready.report()["groups"]["analysis"]["consumers"][LEGACY]["breaks"]
        return {row["field"] for row in rows}

    # each break is there window_s after it came, and gone one bucket later
    checks = sorted(
        [(offset + WINDOW_S, f"field_{offset:g}", True) for offset in offsets]
        + [(offset + WINDOW_S + BUCKET_S, f"field_{offset:g}", False) for offset in offsets]
    )
    for at, name, present in checks:
        clock.now = 5000.0 + at
        assert (name in kept()) is present, (at, name)


def test_a_bucket_stops_taking_new_keys_at_the_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readiness, "MAX_KEYS_PER_BUCKET", 4)
    ready = stage(min_comparisons=1)
    # keys: checkpoint task_ids, checkpoint results_kept, the parity outcome, checked; the break
    # is not kept
    ready.publish(seen(brk()))
    ready.publish(seen())
    assert ready.verdict(ANALYSIS, LEGACY) == Verdict(
        "analysis", LEGACY, READY, "ready (2 checked)"
    )


# ---------------------------------------------------------------- what it says


def test_the_report() -> None:
    ready = stage({LEGACY: frozenset({ANALYSIS}), V1: frozenset({ANALYSIS, REPORTS})})
    feed(ready, clean(3, consumers=(LEGACY, V1)))
    ready.publish(seen(brk("decision"), cid="cmp-a", consumers=(LEGACY, V1)))
    ready.publish(
        seen(
            brk("decision"),
            brk("stages[].status", kind=BreakKind.UNKNOWN_VALUE, got="x", message="status"),
            cid="cmp-b",
            consumers=(LEGACY, V1),
            drift=(lacking("result.decision", 0.99),),
            outcome=Outcome.MISMATCH,
            differences=(changed("decision"),),
        )
    )
    report = ready.report()
    assert {key: report[key] for key in ("window_s", "min_comparisons", "judged_side")} == {
        "window_s": WINDOW_S,
        "min_comparisons": 3,
        "judged_side": "app",
    }
    assert list(report["groups"]) == ["analysis", "reports"]
    analysis = report["groups"]["analysis"]
    assert analysis["consumers"][LEGACY] == {
        "checked": 5,
        "verdict": BLOCKED,
        "summary": "blocked (2 breaks on decision, 1 break on stages[].status,"
        " checkpoint 1 on results_kept)",
        "breaks": [
            {
                "field": "decision",
                "kind": "missing",
                "count": 2,
                "example": "cmp-b",
                "detail": "expected string, got None",
            },
            {
                "field": "stages[].status",
                "kind": "unknown_value",
                "count": 1,
                "example": "cmp-b",
                "detail": "expected string, got x in 'status' messages",
            },
        ],
    }
    assert analysis["consumers"][V1] == {
        "checked": 5,
        "verdict": BLOCKED,
        "summary": "blocked (checkpoint 1 on results_kept)",
        "breaks": [],
    }
    assert {
        row["name"]: (row["checked"], row["violations"], row["example"])
        for row in analysis["checkpoints"]
    } == {
        "task_ids": (5, 0, None),
        "stage_order": (0, 0, None),
        "results_kept": (5, 1, "cmp-b"),
        "error_text": (0, 0, None),
        "live_order": (0, 0, None),
    }
    assert all(row["condition"] for row in analysis["checkpoints"])
    assert analysis["drift"] == [
        {
            "route": STATUS,
            "field": "result.decision",
            "kind": "missing",
            "count": 1,
            "example": "cmp-b",
            "detail": "legacy has it in 99%",
        }
    ]
    reports = report["groups"]["reports"]
    assert reports["consumers"][V1]["verdict"] == NOT_ENOUGH
    assert reports["drift"] == []
    assert all(row["checked"] == 0 for row in reports["checkpoints"])


def test_a_group_shows_with_evidence_alone() -> None:
    ready = stage({LEGACY: frozenset({ANALYSIS})})
    assert list(ready.report()["groups"]) == ["analysis"]
    ready.publish(seen(group=RouteGroup.WS_ORCHESTRATOR, route="/ws/orchestrator", checked=False))
    groups = ready.report()["groups"]
    assert list(groups) == ["analysis", "ws_orchestrator"]
    live = groups["ws_orchestrator"]
    assert live["consumers"] == {}
    assert [row["name"] for row in live["checkpoints"] if row["checked"]] == ["live_order"]
    ready.publish(
        seen(
            group=PORTFOLIO,
            route="/api/portfolio/positions",
            consumers=(),
            drift=(lacking("positions[*].ticker"),),
        )
    )
    assert "portfolio" in ready.report()["groups"]


def test_nothing_configured_and_nothing_seen() -> None:
    assert stage({}).report()["groups"] == {}
    assert list(stage({}).verdicts()) == []


def test_the_example_is_the_latest_comparison() -> None:
    ready = stage(min_comparisons=1)
    for cid in ("cmp-1", "cmp-2"):
        ready.publish(
            seen(brk(), cid=cid, outcome=Outcome.SKIPPED, reason=SkipReason.UNCORRELATED.value)
        )
    ready.publish(seen(cid="cmp-3"))
    analysis = ready.report()["groups"]["analysis"]
    assert analysis["consumers"][LEGACY]["breaks"][0]["example"] == "cmp-2"
    assert analysis["checkpoints"][0]["example"] == "cmp-2"


def test_only_a_comparison_the_diff_log_writes_is_an_example() -> None:
    ready = stage(min_comparisons=1)
    ready.publish(seen(brk(), cid="cmp-1"))
    ready.publish(seen(brk(), cid="cmp-2", exemplar=False))  # not written: no example
    (row,) = ready.report()["groups"]["analysis"]["consumers"][LEGACY]["breaks"]
    assert (row["count"], row["example"]) == (2, "cmp-1")


def test_verdicts_yield_only_the_groups_each_consumer_reads() -> None:
    ready = stage({LEGACY: frozenset({REPORTS, ANALYSIS}), V1: frozenset({PORTFOLIO})})
    ready.publish(seen(brk(), consumers=(LEGACY, V1)))
    assert [(v.consumer, v.group, v.verdict) for v in ready.verdicts()] == [
        (LEGACY, "analysis", BLOCKED),
        (LEGACY, "reports", NOT_ENOUGH),
        (V1, "portfolio", NOT_ENOUGH),
    ]
    assert ready.blocking(ANALYSIS) == [ready.verdict(ANALYSIS, LEGACY)]
    assert ready.blocking(PORTFOLIO) == []


def test_websocket_breaks_are_judged_the_same() -> None:
    ready = stage({LEGACY: frozenset({RouteGroup.WS_ANALYSIS})}, min_comparisons=1)
    socket = exchange(
        route_group=RouteGroup.WS_ANALYSIS,
        route="/ws/analysis/{task_id}",
        kind=ExchangeKind.WS,
        comparison_id="ws-1",
    )
    findings = ClientFindings((LEGACY,), (brk("progress", message="progress"),))
    ready.publish(Comparison(socket, Outcome.MATCH, client=findings))
    verdict = ready.verdict(RouteGroup.WS_ANALYSIS, LEGACY)
    assert verdict.summary == "blocked (1 break on progress)"


# ---------------------------------------------------------------- consumer_groups


def test_consumer_groups_of_the_builtin_contracts() -> None:
    groups = consumer_groups(BUILTIN_CONTRACTS.values(), build_route_table(DEFAULT_CONFIG))
    reads = frozenset({ANALYSIS, PORTFOLIO, REPORTS, RouteGroup.SYSTEM, RouteGroup.WS_ANALYSIS})
    assert groups == {LEGACY: reads, V1: reads}


def test_consumer_groups_drop_routes_the_table_does_not_have() -> None:
    contract = Contract(
        "ops-console",
        "reads the live socket and a route nobody serves",
        {
            Surface("GET", "/ws/orchestrator"): (),
            Surface("GET", "/api/nowhere"): (),
        },
    )
    nothing = Contract("idle", "reads nothing the table knows", {Surface("GET", "/x"): ()})
    groups = consumer_groups([contract, nothing], build_route_table(DEFAULT_CONFIG))
    assert groups == {"ops-console": frozenset({RouteGroup.WS_ORCHESTRATOR}), "idle": frozenset()}


def test_a_configured_route_that_refines_a_builtin_one_gives_its_group() -> None:
    """The route table matches configured routes first; the consumer's groups follow it."""
    refined = RouteSpec(
        group=RouteGroup.SYSTEM,  # the config's default group
        template=STATUS,
        methods=frozenset({"GET"}),
        profile="json_equal",
    )
    routes = build_route_table(replace(DEFAULT_CONFIG, routes=(ConfigRoute(refined),)))
    assert routes.match("GET", "/api/analysis/status/t-1").spec.group is RouteGroup.SYSTEM
    contract = Contract("poller", "reads the status only", {Surface("GET", STATUS): ()})
    assert consumer_groups([contract], routes) == {"poller": frozenset({RouteGroup.SYSTEM})}
