"""`diffs summary` and noise: its own column, its fields apart from the mismatched ones with the
rate measured, and never a mismatch (what `--fail-on-mismatch` gates on)."""

from __future__ import annotations

from typing import Any

from shadowproxy.difflog.summary import Summary
from shadowproxy.difflog.table import cell_width

from .logs import STATUS, TASKS, changed, cid, record, ts

RATE = "noise: legacy differs with itself on {}% of 64 reads (legacy vs app 29% of 200)"
SHOWN = "legacy differs with itself on 34% of 64 reads (legacy vs app 29% of 200)"  # in a table


def noisy(field: str, rate: int = 31) -> dict[str, Any]:
    return changed(field, "12:00:01", "12:00:02") | {"reason": RATE.format(rate)}


def summary_of(*records: dict[str, Any]) -> Summary:
    summary = Summary()
    for found in records:
        summary.add(found)
    return summary


def records() -> list[dict[str, Any]]:
    """A mismatch with noise beside it, three noise records (one on two rows of a list, one
    written late), a match."""
    decision = [changed("decision")]
    return [
        record(1, ts(13, 12, 0), "mismatch", differences=decision, noise=[noisy("updated_at")]),
        record(2, ts(13, 12, 5), "noise", noise=[noisy("updated_at", 34)]),
        record(3, ts(13, 12, 1), "noise", TASKS,
               noise=[noisy("tasks[A].progress", 12), noisy("tasks[B].progress", 12)]),
        record(4, ts(13, 12, 2), "noise", noise=[noisy("updated_at", 20)]),  # older than 2
        record(5, ts(13, 12, 3), "match"),
    ]  # fmt: skip


def test_noise_is_counted_apart_and_is_no_mismatch() -> None:
    document = summary_of(*records()).document(top=10)
    assert document["mismatches"] == 1  # the gate: noise records are none
    analysis = document["counts"]["analysis"]
    assert (analysis["mismatch"], analysis["noise"], analysis["match"]) == (1, 3, 1)
    routes = {r["route"]: (r["mismatch"], r["noise"]) for r in document["routes"]}
    assert routes == {STATUS: (1, 2), TASKS: (0, 1)}
    assert [f["field"] for f in document["fields"]] == ["decision"]  # noise is no differing field
    assert document["distinct_fields"] == 1


def test_noisy_fields_fold_list_indexes_and_keep_the_latest_rate() -> None:
    document = summary_of(*records()).document(top=10)
    assert document["distinct_noise_fields"] == 2
    assert document["noise_fields"] == [
        {"route": STATUS, "field": "updated_at", "count": 3, "first_seen": ts(13, 12, 0),
         "last_seen": ts(13, 12, 5), "example": cid(1), "reason": RATE.format(34)},
        {"route": TASKS, "field": "tasks[].progress", "count": 1, "first_seen": ts(13, 12, 1),
         "last_seen": ts(13, 12, 1), "example": cid(3), "reason": RATE.format(12)},
    ]  # fmt: skip
    assert summary_of(*records()).document(top=1)["noise_fields"][0]["field"] == "updated_at"


def test_the_text_has_a_noise_column_and_a_section_of_noisy_fields() -> None:
    text = summary_of(*records()).render(top=10, width=None).splitlines()
    assert text[0].split()[:9] == ["route", "group", "records", "match", "mismatch",
                                   "inflight_skew", "accepted", "noise", "errors"]  # fmt: skip
    assert text[1].split()[:9] == ["analysis", "5", "1", "1", "0", "0", "3", "0", "0"]
    routes = {line.split()[0]: line.split()[1:] for line in text if line.startswith("/api")}
    # group, records, mismatch, accepted, noise, errors
    assert routes[STATUS] == ["analysis", "4", "1", "0", "2", "0"]
    at = next(i for i, line in enumerate(text) if line.startswith("noisy fields"))
    assert text[at] == (
        "noisy fields (2 distinct per route; legacy differs on them with itself: noise, not"
        " mismatches):"
    )
    assert text[at + 2].split() == ["updated_at", STATUS, "3", "04-13", "12:00:00", "04-13",
                                    "12:05:00", cid(1)[:12], *SHOWN.split()]  # fmt: skip
    top = next(i for i, line in enumerate(text) if line.startswith("top differing fields"))
    assert [line.split()[0] for line in text[top + 2 : at - 1]] == ["decision"]


def test_a_narrow_terminal_keeps_the_rate_wrapped_at_words() -> None:
    text = summary_of(*records()).render(top=10, width=80)
    assert all(cell_width(line) <= 80 for line in text.splitlines()), text
    noise = text[text.index("noisy fields") :]
    assert "(left out to fit 80 columns: first seen, last seen)" in noise
    words = " ".join(line[59:].strip() for line in noise.splitlines()[3:7])
    assert words == SHOWN  # every word of it, none broken
    assert "…" not in noise


def test_no_noise_no_section() -> None:
    text = summary_of(record(1, ts(13, 12, 0), "mismatch", differences=[changed("d")]))
    assert "noisy fields" not in text.render(top=10, width=None)
    assert text.document(top=10)["noise_fields"] == []


def test_a_malformed_noise_list_is_read_defensively() -> None:
    odd = [
        record(1, ts(13, 12, 0), "noise", noise=5),
        record(2, ts(13, 12, 1), "noise", noise=["updated_at", {"kind": "changed"}]),
        record(3, ts(13, 12, 2), "noise", noise=[{"field": "f", "reason": 7}]),
    ]
    document = summary_of(*odd).document(top=10)
    assert document["counts"]["analysis"]["noise"] == 3
    assert [(f["field"], f["reason"]) for f in document["noise_fields"]] == [("f", None)]
    assert "f   " in summary_of(*odd).render(top=10, width=None)
