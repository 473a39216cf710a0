"""The report's one-pass aggregation over generated records, with exact expected numbers."""

from __future__ import annotations

from typing import Any

import pytest

from shadowproxy.cutover import readiness
from shadowproxy.difflog.report_bins import bin_value, latency_bin
from shadowproxy.difflog.report_data import (
    BLOCKED,
    EXAMPLES,
    MAX_GROUPS,
    MIN_CHECKED,
    NOT_ENOUGH,
    OTHER,
    READY,
    WINDOW_S,
    Verdict,
    aggregate,
)
from shadowproxy.settings import load_settings

from .records import (
    REPORT,
    SAMPLE_BREAKS,
    SAMPLE_DRIFT,
    SAMPLE_FIELDS,
    SAMPLE_SIGNATURES,
    START,
    STATUS,
    broken,
    client,
    diff,
    noisy,
    record,
    sample,
)


def test_the_readiness_words_and_defaults_are_the_live_ones() -> None:
    """report_data cannot import the cutover layer (a sibling): its copies must not drift."""
    assert (READY, BLOCKED, NOT_ENOUGH) == (
        readiness.READY,
        readiness.BLOCKED,
        readiness.NOT_ENOUGH,
    )
    settings = load_settings({}, legacy_url="http://127.0.0.1:1", app_url="http://127.0.0.1:2")
    assert (
        settings.cutover_window_s,
        settings.cutover_min_comparisons,
    ) == (WINDOW_S, MIN_CHECKED)


def test_parity_per_group_counts_every_outcome() -> None:
    outcomes = ["match"] * 6 + ["mismatch"] * 3 + ["accepted", "inflight_skew", "skipped"]
    outcomes += ["shadow_error", "both_error"]
    records = [record(n, outcome) for n, outcome in enumerate(outcomes)]
    records += [record(20 + n, "mismatch", group="reports", authoritative="app") for n in range(2)]
    data = aggregate(records)
    analysis, reports = data.groups["analysis"], data.groups["reports"]
    assert [analysis.column(c) for c in ("match", "mismatch", "accepted", "inflight_skew")] == [
        6,
        3,
        1,
        1,
    ]
    assert (analysis.column("errors"), analysis.column("skipped")) == (2, 1)
    assert (analysis.records, analysis.compared) == (14, 11)
    assert analysis.parity == pytest.approx(1 - 3 / 11)
    assert analysis.authoritative == {"legacy": 14}
    assert (reports.records, reports.parity, reports.authoritative) == (2, 0.0, {"app": 2})
    assert (data.records, data.undated) == (16, 0)
    assert (data.first, data.last) == (START, START + 21)


def test_a_group_without_compared_records_has_no_parity() -> None:
    data = aggregate([record(1, "skipped"), record(2, "shadow_error")])
    assert data.groups["analysis"].parity is None


def test_signatures_fold_list_indexes_and_keep_first_last_and_exemplar() -> None:
    rows = (diff("tasks[AAPL_1].decision"), diff("tasks[MSFT_2].decision"))
    records = [
        record(5, "mismatch", differences=rows),
        record(9, "mismatch", differences=(diff("tasks[X].decision"),)),
        record(7, "mismatch", differences=rows),  # written late: first/last go by `ts`
        record(8, "mismatch", app=(500, 1.0), differences=rows),
        record(10, "mismatch", route=REPORT, group="reports"),  # status only
        record(11, "match", differences=rows),  # not a mismatch: no signature
    ]
    data = aggregate(records)
    signatures = {key: (t.count, t.first, t.last, t.example) for key, t in data.signatures.top(10)}
    assert signatures == {
        (STATUS, ("tasks[].decision",), 200, 200): (3, START + 5, START + 9, "cmp-5"),
        (STATUS, ("tasks[].decision",), 200, 500): (1, START + 8, START + 8, "cmp-8"),
        (REPORT, (), 200, 200): (1, START + 10, START + 10, "cmp-10"),
    }
    assert [key for key, _ in data.signatures.top(1)] == [(STATUS, ("tasks[].decision",), 200, 200)]


def test_fields_count_mismatch_records_per_family_and_kind() -> None:
    rows = (diff("tasks[A].status"), diff("tasks[B].status"), diff("decision", "missing"))
    records = [record(n, "mismatch", differences=rows) for n in range(4)]
    records.append(record(4, "mismatch", group="reports", differences=(diff("decision"),)))
    records.append(record(5, "accepted", differences=(diff("decision"),)))
    data = aggregate(records)
    fields = {key: t.count for key, t in data.fields.top(10)}
    assert fields == {
        ("analysis", "tasks[].status", "changed"): 4,  # once per record, not per row
        ("analysis", "decision", "missing"): 4,
        ("reports", "decision", "changed"): 1,
    }


def test_noise_is_compared_and_never_a_mismatch() -> None:
    noise = (noisy("updated_at"),)
    records = [record(0), record(1, "mismatch"), record(2, "noise", noise=noise)]
    records += [record(3, "noise", noise=noise), record(4, "skipped")]
    data = aggregate(records)
    analysis = data.groups["analysis"]
    assert [analysis.column(c) for c in ("match", "mismatch", "noise", "skipped")] == [1, 1, 2, 1]
    assert (analysis.records, analysis.compared) == (5, 4)
    assert analysis.parity == pytest.approx(1 - 1 / 4)
    slots = [slot.counts["analysis"] for _, slot in data.timeline.series() if slot]
    assert [sum(c[i] for c in slots) for i in range(3)] == [5, 1, 2]  # records, mismatch, noise
    assert data.fields.entries == {}  # noise is no differing field
    assert [r["comparison_id"] for r in data.latest()] == ["cmp-1"]  # nor a mismatch to show


def test_noisy_fields_per_route_with_the_latest_rate_measured() -> None:
    rows = (diff("decision"),)
    records = [
        record(5, "noise", noise=(noisy("tasks[A].updated_at", 30), noisy("tasks[B].updated_at"))),
        record(9, "mismatch", differences=rows, noise=(noisy("tasks[C].updated_at", 34),)),
        record(7, "noise", noise=(noisy("tasks[D].updated_at", 20),)),  # written late: older
        record(8, "noise", route=REPORT, group="reports", noise=(noisy("generated_at", 5),)),
        record(10, "mismatch", differences=rows),
        record(11, "noise") | {"noise": ["odd", {"kind": "changed"}]},  # no field: left out
    ]
    data = aggregate(records)
    noise = {key: (t.count, t.first, t.last, t.example, t.detail) for key, t in data.noise.top(9)}
    rate = "noise: legacy differs with itself on {}% of 64 reads (legacy vs app 29% of 200)"
    assert noise == {
        ("analysis", STATUS, "tasks[].updated_at"): (
            3, START + 5, START + 9, "cmp-5", rate.format(34)  # once per record; the latest rate
        ),
        ("reports", REPORT, "generated_at"): (1, START + 8, START + 8, "cmp-8", rate.format(5)),
    }  # fmt: skip
    signatures = {key: t.count for key, t in data.signatures.top(9)}
    assert signatures == {(STATUS, ("decision",), 200, 200): 2}  # noise beside: one signature
    assert {key: t.count for key, t in data.fields.top(9)} == {
        ("analysis", "decision", "changed"): 2
    }


def test_time_buckets_are_chosen_from_the_span_and_keep_every_record() -> None:
    short = aggregate([record(n, at=float(n)) for n in range(90)])
    assert short.timeline.width == 1
    assert len(list(short.timeline.series())) == 90
    two_hours = [record(n, "mismatch" if n % 3 == 0 else "match", at=n * 12.0) for n in range(600)]
    data = aggregate(two_hours)  # 0 .. 7188 s: 120 one-minute buckets
    series = list(data.timeline.series())
    assert data.timeline.width == 60
    assert len(series) == 120
    assert series[0][0] == START
    assert [slot.counts["analysis"] if slot else None for _, slot in series[:2]] == [
        [5, 2, 0],  # records, mismatches, noise
        [5, 2, 0],
    ]
    assert sum(slot.counts["analysis"][0] for _, slot in series if slot) == 600
    assert sum(slot.counts["analysis"][1] for _, slot in series if slot) == 200
    assert sum(slot.latency[0].count for _, slot in series if slot) == 600


def test_latency_percentiles_per_group_and_bucket() -> None:
    records = [record(n, legacy=(200, float(n)), app=(200, 10.0 * n)) for n in range(1, 101)]
    records.append(record(101, legacy=(None, 0.0), app=(200, 0.0)))  # failed at once: 0 ms
    data = aggregate(records)
    legacy, app = data.groups["analysis"].latency
    assert (legacy.count, app.count) == (101, 101)
    assert legacy.quantile(0.5) == bin_value(latency_bin(50.0))
    assert legacy.quantile(0.5) == pytest.approx(50.0, rel=0.025)
    assert legacy.quantile(0.95) == pytest.approx(95.0, rel=0.025)
    assert app.quantile(0.95) == pytest.approx(950.0, rel=0.025)
    assert legacy.quantile(0.001) == 0.0


def test_records_without_a_readable_ts_are_counted_in_no_bucket() -> None:
    bad = record(1) | {"ts": "yesterday"}
    data = aggregate([record(0), bad, record(2) | {"ts": None}])
    assert (data.records, data.undated) == (3, 2)
    assert data.groups["analysis"].records == 3
    assert [slot.counts["analysis"][0] for _, slot in data.timeline.series() if slot] == [1]


def test_the_latest_mismatches_are_kept_newest_first() -> None:
    records = [record(n, "mismatch" if n % 2 else "match") for n in range(20)]
    records.insert(0, record(99, "mismatch", at=500.0))  # the newest, read first
    latest = aggregate(records).latest()
    assert len(latest) == EXAMPLES
    assert [r["comparison_id"] for r in latest] == [
        "cmp-99",
        "cmp-19",
        "cmp-17",
        "cmp-15",
        "cmp-13",
        "cmp-11",
    ]


def test_a_stranger_folder_cannot_grow_the_groups_without_bound() -> None:
    records = [record(n, group=f"group-{n}") for n in range(MAX_GROUPS + 8)]
    data = aggregate(records)
    assert len(data.groups) == MAX_GROUPS + 1
    assert data.groups[OTHER].records == 8


def test_consumer_breaks_name_the_backend_whose_answer_broke() -> None:
    findings = client(
        broken("legacy-dashboard", "shadow", "decision"),  # legacy answered: the app broke it
        broken("v1alpha1-dashboard", "authoritative", "result.decision"),  # legacy broke it
        broken("legacy-dashboard", "shadow", "tasks[].error", "type_changed", shared=True),
        broken("v1alpha1-dashboard", "shadow", "status", "unknown_value", known="defect"),
    )
    flipped = client(broken("legacy-dashboard", "authoritative", "decision"))
    records = [record(1, client=findings), record(2, client=findings)]
    records.append(record(3, authoritative="app", client=flipped))
    data = aggregate(records)
    breaks = {key: (t.count, t.first, t.example) for key, t in data.breaks.top(10)}
    assert breaks == {
        ("legacy-dashboard", "analysis", "app", "decision", "missing", "counted"): (
            3,
            START + 1,
            "cmp-1",
        ),
        ("v1alpha1-dashboard", "analysis", "legacy", "result.decision", "missing", "counted"): (
            2,
            START + 1,
            "cmp-1",
        ),
        ("legacy-dashboard", "analysis", "app", "tasks[].error", "type_changed", "shared"): (
            2,
            START + 1,
            "cmp-1",
        ),
        ("v1alpha1-dashboard", "analysis", "app", "status", "unknown_value", "known"): (
            2,
            START + 1,
            "cmp-1",
        ),
    }
    assert data.with_client == 3
    top = data.breaks.top(1)[0][1]
    assert top.detail == "expected string, got absent"


def _verdicts(records: list[dict[str, Any]]) -> dict[tuple[str, str], Verdict]:
    return {(v.group, v.consumer): v for v in aggregate(records).readiness.verdicts()}


def test_readiness_judges_the_last_hour_of_records() -> None:
    old = client(
        broken("legacy-dashboard", "shadow", "decision"), consumers=("v1alpha1-dashboard",)
    )
    fine = client(consumers=("legacy-dashboard", "v1alpha1-dashboard"))
    records = [record(0, "mismatch", client=old)]  # more than an hour before the last record
    records += [record(n, at=3600.0 + n, client=fine) for n in range(1, 26)]
    verdicts = _verdicts(records)
    assert set(verdicts) == {("analysis", "legacy-dashboard"), ("analysis", "v1alpha1-dashboard")}
    assert all(v.verdict == READY and v.checked == 25 and not v.breaks for v in verdicts.values())


def test_readiness_is_blocked_by_counted_breaks_of_the_app_only() -> None:
    app_broke = client(broken("legacy-dashboard", "shadow", "decision"))
    legacy_broke = client(broken("v1alpha1-dashboard", "authoritative", "result.decision"))
    shared = client(broken("v1alpha1-dashboard", "shadow", "status", shared=True))
    records = [record(1, client=app_broke), record(2, client=app_broke)]
    records += [record(3, client=legacy_broke), record(4, client=shared)]
    verdicts = _verdicts(records)
    assert verdicts["analysis", "legacy-dashboard"] == Verdict(
        "analysis", "legacy-dashboard", 2, (("decision", 2),), "cmp-2", BLOCKED
    )
    assert verdicts["analysis", "v1alpha1-dashboard"] == Verdict(
        "analysis", "v1alpha1-dashboard", 2, (), None, NOT_ENOUGH
    )


def test_without_match_records_ready_cannot_be_told() -> None:
    fine = client(consumers=("legacy-dashboard",))
    verdicts = _verdicts([record(n, "mismatch", client=fine) for n in range(30)])
    assert verdicts["analysis", "legacy-dashboard"].verdict is None
    assert verdicts["analysis", "legacy-dashboard"].checked == 30


def test_the_sample_has_the_rows_the_browser_test_counts() -> None:
    data = aggregate(sample())
    assert len(data.signatures.entries) == SAMPLE_SIGNATURES
    assert len(data.fields.entries) == SAMPLE_FIELDS
    assert len(data.breaks.entries) == SAMPLE_BREAKS
    assert len(data.drift.entries) == SAMPLE_DRIFT
    verdicts = _verdicts(sample())
    assert verdicts["analysis", "legacy-dashboard"].verdict == BLOCKED
    assert verdicts["analysis", "legacy-dashboard"].breaks == (("decision", 100),)
    assert verdicts["analysis", "v1alpha1-dashboard"].verdict == READY
    assert data.timeline.width == 60
