"""Mismatch signatures: one row per divergence however many records repeat it, with exact counts
over the sample folder (tests/shadowproxy/difflog/logs.py) and over a persistent divergence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shadowproxy.difflog.filters import Selection, Tally, selected
from shadowproxy.difflog.read import Skips
from shadowproxy.difflog.segments import segment_files
from shadowproxy.difflog.signatures import Signatures, describe, key
from shadowproxy.difflog.table import cell_width

from .logs import REPORT, STATUS, TASKS, WS, breaking, changed, cid, record, sample, side, ts

EVERYTHING = Selection()


def signatures_of(records: list[dict[str, Any]]) -> Signatures:
    signatures = Signatures()
    for found in records:
        signatures.add(found)
    return signatures


def of_folder(folder: Path, selection: Selection = EVERYTHING) -> tuple[Signatures, Tally]:
    tally = Tally()
    return signatures_of(list(selected(segment_files(folder), selection, Skips(), tally))), tally


def test_the_sample_has_four_signatures(tmp_path: Path) -> None:
    signatures, tally = of_folder(sample(tmp_path))
    document = signatures.document(top=10, newest=tally.newest, recent_minutes=10)
    assert (document["mismatches"], document["distinct"]) == (9, 4)
    assert document["newest"] == ts(13, 12, 22)
    rows = [
        (row["route"], row["count"], row["first_seen"], row["last_seen"], row["still_occurring"])
        for row in document["signatures"]
    ]
    assert rows == [
        (TASKS, 4, ts(13, 12, 0), ts(13, 12, 20), True),  # B: two task ids, one family
        (STATUS, 3, ts(12, 10, 0), ts(13, 12, 22), True),  # A: over two days
        (REPORT, 1, ts(13, 12, 6), ts(13, 12, 6), False),  # C: 16 minutes before the newest
        (WS, 1, ts(13, 12, 8), ts(13, 12, 8), False),  # D
    ]
    tasks, status, report, ws = document["signatures"]
    assert tasks["differences"] == [{"field": "tasks[].stage", "kind": "changed"}]
    assert tasks["exemplars"] == [cid(5), cid(13)]  # the first and the latest
    assert status["exemplars"] == [cid(1), cid(15)]
    assert (report["legacy_status"], report["app_status"], report["differences"]) == (200, 500, [])
    assert report["exemplars"] == [cid(10)]
    assert ws["breaks"] == [
        {"consumer": "v1alpha1-dashboard", "side": "shadow", "field": "decision", "kind": "missing"}
    ]
    assert len({row["id"] for row in document["signatures"]}) == 4
    assert all(len(row["id"]) == 12 for row in document["signatures"])


def test_still_occurring_follows_recent_and_top_limits_rows(tmp_path: Path) -> None:
    signatures, tally = of_folder(sample(tmp_path))
    document = signatures.document(top=2, newest=tally.newest, recent_minutes=20)
    assert [row["count"] for row in document["signatures"]] == [4, 3]
    assert document["distinct"] == 4
    wide = signatures.document(top=10, newest=tally.newest, recent_minutes=16)
    assert [row["still_occurring"] for row in wide["signatures"]] == [True, True, True, True]
    narrow = signatures.document(top=10, newest=tally.newest, recent_minutes=2)
    assert [row["still_occurring"] for row in narrow["signatures"]] == [True, True, False, False]


def test_the_window_newest_ignores_other_filters(tmp_path: Path) -> None:
    """Filtered to the reports route, signature C is still judged against the log's newest."""
    signatures, tally = of_folder(sample(tmp_path), Selection(route=REPORT))
    document = signatures.document(top=10, newest=tally.newest, recent_minutes=10)
    assert [(row["count"], row["still_occurring"]) for row in document["signatures"]] == [
        (1, False)
    ]


def test_a_persistent_divergence_is_one_row() -> None:
    """One cancel raced; every later task list repeats it, with other tasks around it."""
    records = []
    for n in range(1, 21):
        differences = [changed("tasks[AAPL_1].stage", "trading", "research")]
        differences.append(changed(f"tasks[AAPL_1].logs[{n}]", "a", "b"))  # indexes fold away
        records.append(record(n, ts(13, 12, n), "mismatch", TASKS, differences=differences))
    signatures = signatures_of(records)
    ((signature, seen),) = signatures.seen.items()
    assert seen.count == 20
    assert signature.differences == (("tasks[].logs[]", "changed"), ("tasks[].stage", "changed"))
    assert seen.exemplars() == [cid(1), cid(20)]


def test_what_tells_signatures_apart() -> None:
    base = record(1, ts(13, 12, 0), "mismatch", differences=[changed("decision")])
    variants = [
        base,
        base | {"comparison_id": cid(2), "differences": [changed("decision", "X", "Y")]},  # same
        base | {"differences": [{**changed("decision"), "kind": "missing"}]},  # the kind
        base | {"differences": [changed("decision"), changed("confidence")]},  # the fields
        base | {"app": side(500)},  # the status pair
        base | {"route": TASKS},  # the route
        base | {"client": breaking("legacy-dashboard", "authoritative")},  # a counted break
        base | {"client": breaking("legacy-dashboard", "shadow", shared=True)},  # shared: same
        base | {"outcome": "accepted"},  # not a mismatch: left out
        base | {"noise": [{**changed("updated_at", 1, 2), "reason": "noise: ..."}]},  # same
        base | {"outcome": "noise", "differences": [], "noise": [changed("decision")]},  # none
    ]
    signatures = signatures_of(variants)
    assert signatures.mismatches == 9
    assert sorted(seen.count for seen in signatures.seen.values()) == [1, 1, 1, 1, 1, 4]
    assert key(variants[0]).id == key(variants[1]).id
    assert key(variants[0]).id != key(variants[2]).id


def test_the_table_fits_and_says_what_it_left_out(tmp_path: Path) -> None:
    signatures, tally = of_folder(sample(tmp_path))
    wide = signatures.render(top=10, newest=tally.newest, recent_minutes=10, width=None)
    assert "tasks[].stage changed" in wide
    assert f"{cid(5)[:12]} {cid(13)[:12]}" in wide  # the ids' first characters, as `show` takes
    assert "breaks v1alpha1-dashboard shadow decision missing" in wide
    narrow = signatures.render(top=10, newest=tally.newest, recent_minutes=10, width=80)
    assert all(cell_width(line) <= 80 for line in narrow.splitlines())
    assert "left out to fit 80 columns" in narrow
    assert signatures_of([]).render(top=1, newest="", recent_minutes=1, width=80) == (
        "no mismatches"
    )


def test_describe() -> None:
    status_only = key(record(1, ts(13, 12, 0), "mismatch", app=side(502)))
    assert describe(status_only) == "(status only)"
    assert status_only.statuses == (200, 502)
