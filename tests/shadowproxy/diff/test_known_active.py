"""Rule 5's fast path: the entries per route are remembered, the date is asked only of an entry
that would accept a difference, literal fields are compared rather than matched, and none of it
changes what is accepted.

The remembered entries must follow every change that can alter them (an entry added or
withdrawn at runtime), and a new day must still expire an entry. `reference_split` is the rule
as written (every entry checked, each field pattern a regex), the slow path to agree with.
"""

from __future__ import annotations

import datetime as dt
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from shadowproxy.diff.known import KnownDifferences, Split
from shadowproxy.types import AcceptedDifference, Difference, DiffKind

ROUTE = "/api/analysis/status/{task_id}"


def reference_split(
    entries: tuple[AcceptedDifference, ...], today: dt.date, route: str, found: list[Difference]
) -> tuple[list[str], list[str]]:
    """(remaining fields, accepted fields) by the rule itself."""
    remaining: list[str] = []
    accepted: list[str] = []
    for difference in found:
        for entry in entries:
            pattern = ".*".join(re.escape(part) for part in entry.field.split("*"))
            if (
                entry.route in ("*", route)
                and (entry.expires is None or today <= dt.date.fromisoformat(entry.expires))
                and (not entry.kinds or difference.kind.value in entry.kinds)
                and re.fullmatch(pattern, difference.field)
            ):
                accepted.append(difference.field)
                break
        else:
            remaining.append(difference.field)
    return remaining, accepted


def fields(split: Split) -> tuple[list[str], list[str]]:
    return [d.field for d in split.remaining], [d.field for d in split.accepted]


def test_a_literal_field_is_compared_whole_its_dots_are_not_wildcards() -> None:
    known = KnownDifferences([AcceptedDifference("*", "error.code", "no code in legacy")])
    found = [Difference(name, DiffKind.CHANGED) for name in ("error.code", "errorXcode", "error")]
    assert fields(known.split(ROUTE, found)) == (["errorXcode", "error"], ["error.code"])


def test_entries_added_or_withdrawn_are_seen_by_the_next_comparison() -> None:
    known = KnownDifferences([])
    found = [Difference("decision", DiffKind.CHANGED)]
    assert fields(known.split(ROUTE, found)) == (["decision"], [])
    entry = AcceptedDifference(ROUTE, "decision", "drift", signature="sig-1")
    known.add([entry])
    assert fields(known.split(ROUTE, found)) == ([], ["decision"])
    assert fields(known.split("/other", found)) == (["decision"], [])
    assert known.withdraw("sig-1") == (entry,)
    assert fields(known.split(ROUTE, found)) == (["decision"], [])


def test_an_entry_expires_when_the_day_changes_under_a_running_process() -> None:
    days = iter([dt.date(2026, 6, 30), dt.date(2026, 6, 30), dt.date(2026, 7, 1)])
    known = KnownDifferences(
        [AcceptedDifference(ROUTE, "decision", "drift", "2026-06-30")], lambda: next(days)
    )
    found = [Difference("decision", DiffKind.CHANGED)]
    assert fields(known.split(ROUTE, found)) == ([], ["decision"])
    assert fields(known.split(ROUTE, found)) == ([], ["decision"])
    assert fields(known.split(ROUTE, found)) == (["decision"], [])


def test_the_date_is_asked_only_of_an_entry_that_would_accept() -> None:
    def today() -> dt.date:
        raise AssertionError("no entry with an expiry matches: the date is not needed")

    known = KnownDifferences(
        [
            AcceptedDifference("*", "decision", "drift", "2026-06-30"),
            AcceptedDifference("*", "confidence", "rounding"),
        ],
        today,
    )
    assert known.split(ROUTE, ()) == Split((), (), ())
    found = [Difference(name, DiffKind.CHANGED) for name in ("status", "confidence")]
    assert fields(known.split(ROUTE, found)) == (["status"], ["confidence"])


FIELDS = st.sampled_from(["decision", "error.code", "tasks[A].status", "tasks[B].error.code"])
ENTRIES = st.builds(
    AcceptedDifference,
    route=st.sampled_from(["*", ROUTE, "/api/analysis/tasks"]),
    field=st.sampled_from(["decision", "error.code", "tasks[*].status", "*.error.code", "*"]),
    reason=st.sampled_from(["a", "b"]),
    expires=st.sampled_from([None, "2026-06-29", "2026-06-30", "2026-07-01"]),
    kinds=st.sampled_from([frozenset(), frozenset({"changed"}), frozenset({"missing"})]),
)


@settings(max_examples=150, deadline=None)
@given(
    entries=st.lists(ENTRIES, max_size=5),
    days=st.lists(st.sampled_from([dt.date(2026, 6, 30), dt.date(2026, 7, 1)]), min_size=1),
    route=st.sampled_from([ROUTE, "/api/analysis/tasks"]),
    found=st.lists(
        st.builds(Difference, FIELDS, st.sampled_from([DiffKind.CHANGED, DiffKind.MISSING])),
        min_size=1,
        max_size=4,
    ),
)
def test_the_remembered_entries_accept_what_the_rule_accepts(
    entries: list[AcceptedDifference],
    days: list[dt.date],
    route: str,
    found: list[Difference],
) -> None:
    clock = iter(days)
    day = days[0]

    def today() -> dt.date:
        nonlocal day
        day = next(clock, day)
        return day

    known = KnownDifferences(entries[:2], today)
    for step, _ in enumerate(days):
        if step == 1:
            known.add(entries[2:])
        got = fields(known.split(route, found))
        current = tuple(entries if step >= 1 else entries[:2])
        assert got == reference_split(current, day, route, found)
