"""`diffs summary` over the sample folder (tests/shadowproxy/difflog/logs.py): exact counts per
route group and route, skips by reason, consumer breaks, top fields; and demo's parity table."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from shadowproxy.difflog.filters import Selection, Tally, selected
from shadowproxy.difflog.read import Skips
from shadowproxy.difflog.segments import segment_files
from shadowproxy.difflog.summary import Summary, parity_rows, parity_table
from shadowproxy.difflog.table import cell_width

from .logs import REPORT, STATUS, TASKS, WATCH, WS, cid, record, sample, ts

EVERYTHING = Selection()


def summarize(folder: Path, selection: Selection = EVERYTHING) -> Summary:
    summary = Summary()
    for found in selected(segment_files(folder), selection, Skips(), Tally()):
        summary.add(found)
    return summary


def row(**counts: int) -> dict[str, int]:
    names = ("match", "mismatch", "inflight_skew", "accepted", "noise", "errors", "skipped")
    return {name: counts.get(name, 0) for name in names}


def test_per_route_group(tmp_path: Path) -> None:
    document = summarize(sample(tmp_path)).document(top=10)
    assert (document["first"], document["last"]) == (ts(12, 10, 0), ts(13, 12, 22))
    assert document["mismatches"] == 9
    counts = document["counts"]
    assert list(counts) == ["analysis", "portfolio", "reports", "ws_analysis"]
    assert counts["analysis"] == {
        "records": 11,
        **row(match=1, mismatch=7, accepted=1, errors=1, skipped=1),
        "skipped_by_reason": {"queue_full": 1},
        "breaks": {"legacy-dashboard": 1},
    }
    assert counts["reports"] == {
        "records": 2,
        **row(mismatch=1, skipped=1),
        "skipped_by_reason": {"uncorrelated": 1},
        "breaks": {},
    }
    assert counts["portfolio"]["breaks"] == {}  # its break is shared by both sides
    assert counts["ws_analysis"]["breaks"] == {"v1alpha1-dashboard": 1}


def test_per_route(tmp_path: Path) -> None:
    routes = {
        (r["route_group"], r["route"]): (r["records"], r["mismatch"], r["accepted"], r["errors"])
        for r in summarize(sample(tmp_path)).document(top=10)["routes"]
    }
    assert routes == {
        ("analysis", STATUS): (7, 3, 1, 1),
        ("analysis", TASKS): (4, 4, 0, 0),
        ("portfolio", WATCH): (1, 0, 0, 0),
        ("reports", REPORT): (2, 1, 0, 0),
        ("ws_analysis", WS): (1, 1, 0, 0),
    }


def test_top_fields_fold_list_indexes_and_keep_the_first_example(tmp_path: Path) -> None:
    document = summarize(sample(tmp_path)).document(top=2)
    assert document["distinct_fields"] == 3
    assert document["fields"] == [
        {"route": TASKS, "field": "tasks[].stage", "count": 4, "first_seen": ts(13, 12, 0),
         "last_seen": ts(13, 12, 20), "example": cid(5)},
        {"route": STATUS, "field": "decision", "count": 3, "first_seen": ts(12, 10, 0),
         "last_seen": ts(13, 12, 22), "example": cid(1)},
    ]  # fmt: skip


def test_filtered(tmp_path: Path) -> None:
    folder = sample(tmp_path)
    summary = summarize(folder, Selection(consumer="legacy-dashboard"))
    assert summary.document(top=10)["counts"] == {
        "analysis": {"records": 1, **row(match=1), "skipped_by_reason": {},
                     "breaks": {"legacy-dashboard": 1}},
    }  # fmt: skip
    assert summary.mismatches == 0
    assert summarize(folder, Selection(outcome="accepted")).mismatches == 0
    assert summarize(folder, Selection(group="reports")).mismatches == 1


def test_the_text_fits_the_width_and_names_what_it_left_out(tmp_path: Path) -> None:
    summary = summarize(sample(tmp_path))
    whole = summary.render(top=10, width=None)
    assert "queue_full 1" in whole
    assert "legacy-dashboard 1" in whole
    fields = [line.split() for line in whole.splitlines() if line.startswith("tasks[].stage")]
    assert fields == [["tasks[].stage", TASKS, "4", "04-13", "12:00:00", "04-13", "12:20:00",
                       cid(5)[:12]]]  # fmt: skip
    for width in (60, 80, 100):
        text = summary.render(top=10, width=width)
        assert all(cell_width(line) <= width for line in text.splitlines()), width
    narrow = summary.render(top=10, width=80).splitlines()
    # the route groups: a whole count in every column shown, inflight_skew the first to go
    assert narrow[0].split() == ["route", "group", "records", "match", "mismatch", "accepted",
                                 "noise", "errors", "skipped"]  # fmt: skip
    assert narrow[5] == "(left out to fit 80 columns: inflight_skew, consumer breaks)"
    assert "(left out to fit 100 columns: inflight_skew)" in summary.render(top=10, width=100)
    assert Summary().render(top=10, width=80) == ""


def test_demo_parity_rows_and_table() -> None:
    counts = Counter({("analysis", "match"): 3, ("analysis", "both_error"): 1,
                      ("analysis", "shadow_error"): 2, ("reports", "skipped"): 4})  # fmt: skip
    assert parity_rows(counts) == {
        "analysis": row(match=3, errors=3),
        "reports": row(skipped=4),
    }
    lines = parity_table(counts).splitlines()
    assert lines[0].split() == ["route", "group", *row()]
    assert lines[1].split() == ["analysis", "3", "0", "0", "0", "0", "3", "0"]


def test_per_replica_only_when_there_are_several(tmp_path: Path) -> None:
    one = summarize(sample(tmp_path))  # schema 2: no record names a replica
    assert not one.replicas.many
    assert "per replica" not in one.render(top=10, width=None)
    assert one.document(top=10)["replicas"] == [{"replica": None, "records": 15, **row(
        match=2, mismatch=9, accepted=1, errors=1, skipped=2)}]  # fmt: skip

    several = Summary()
    for n, (name, outcome) in enumerate(
        [("b", "mismatch"), ("a", "match"), ("b", "match"), (None, "skipped"), ("a", "match")]
    ):
        several.add(record(n, ts(13, 12, n), outcome, replica=name))
    assert several.document(top=10)["replicas"] == [
        {"replica": "a", "records": 2, **row(match=2)},
        {"replica": "b", "records": 2, **row(match=1, mismatch=1)},
        {"replica": None, "records": 1, **row(skipped=1)},
    ]
    text = several.render(top=10, width=None).splitlines()
    at = text.index("per replica:")
    assert [line.split() for line in text[at + 1 : at + 5]] == [
        ["replica", "records", *row()],
        ["a", "2", "2", "0", "0", "0", "0", "0", "0"],
        ["b", "2", "1", "1", "0", "0", "0", "0", "0"],
        ["-", "1", "0", "0", "0", "0", "0", "0", "1"],
    ]
