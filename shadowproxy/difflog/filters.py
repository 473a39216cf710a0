"""Which records a `shadowproxy diffs` command looks at: the filters every subcommand shares.

- a time window, `--since` (inclusive) and `--until` (exclusive), each either a moment
  (`2026-12-01T10:00`, `2026-12-01`; UTC unless it names an offset) or an age before now
  (`45s`, `30m`, `1h`, `2d`); records' `ts` are compared as text in the writer's format, and a
  segment whose day lies wholly outside the window is not opened;
- `--group` and `--route` (the route template), `--outcome`;
- `--field`: a differing field, exactly (`tasks[AAPL_1].decision`) or as its family
  (`tasks[].decision`, list indexes folded as the metrics fold them);
- `--consumer`: records whose answer, on either side, breaks that dashboard consumer (a counted
  contract break: one both sides share, or a documented defect, does not count);
- `--replica` (repeatable): records written by one of these proxy replicas (`replica`; records
  before schema 3 name none, so no `--replica` selects them).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shadowproxy.difflog.read import Progress, Record, Skips, broken_consumers, read_records
from shadowproxy.difflog.record import format_ts
from shadowproxy.types import field_family

AGE = re.compile(r"(\d+)([smhd])")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_moment(text: str, *, now: datetime) -> datetime:
    """`1h`, `30m`, `2d`, `45s` before `now`, or an ISO date or date-time (naive means UTC)."""
    value = text.strip()
    if age := AGE.fullmatch(value):
        return now - timedelta(**{UNITS[age[2]]: int(age[1])})
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            "must be an age like 30m, 1h or 2d, or an ISO date or date-time like "
            f"2026-04-13T12:00, got {text!r}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Selection:
    """The filters of one command; None selects everything."""

    since: datetime | None = None
    until: datetime | None = None
    group: str | None = None
    route: str | None = None
    outcome: str | None = None
    field: str | None = None
    consumer: str | None = None
    replicas: frozenset[str] = frozenset()  # empty: every replica

    @property
    def first_day(self) -> str:
        """The first UTC day with records in the window (segments are per day)."""
        return "" if self.since is None else self.since.astimezone(UTC).date().isoformat()

    @property
    def last_day(self) -> str:
        return "9999-12-31" if self.until is None else self.until.astimezone(UTC).date().isoformat()

    def window(self) -> tuple[str, str]:
        """The window as `ts` text bounds: since <= ts < until."""
        since = "" if self.since is None else format_ts(self.since)
        until = "\uffff" if self.until is None else format_ts(self.until)  # after every `ts`
        return since, until

    def matches(self, record: Record) -> bool:
        """Every filter but the time window."""
        if self.outcome is not None and record["outcome"] != self.outcome:
            return False
        if self.group is not None and record["route_group"] != self.group:
            return False
        if self.route is not None and record["route"] != self.route:
            return False
        if self.replicas and record.get("replica") not in self.replicas:
            return False
        if self.field is not None and not any(
            entry["field"] == self.field or field_family(entry["field"]) == self.field
            for entry in record.get("differences", ())
        ):
            return False
        return self.consumer is None or self.consumer in broken_consumers(record)


@dataclass(slots=True)
class Tally:
    """What a selection saw: records read, records selected, and the time window's newest."""

    read: int = 0
    selected: int = 0
    newest: str = ""  # the newest `ts` in the window, whatever the other filters say


def select(records: Iterable[Record], selection: Selection, tally: Tally) -> Iterator[Record]:
    """The records `selection` selects, counted in `tally`."""
    since, until = selection.window()
    for record in records:
        tally.read += 1
        ts = record["ts"]
        if not since <= ts < until:
            continue
        if ts > tally.newest:
            tally.newest = ts
        if selection.matches(record):
            tally.selected += 1
            yield record


def selected(
    files: Sequence[Path],
    selection: Selection,
    skips: Skips,
    tally: Tally,
    *,
    progress: Progress | None = None,
) -> Iterator[Record]:
    """The selected records of `files` (a folder's `segment_files`), in write order; the
    segments of days outside the window are not opened."""
    records = read_records(
        files, skips, first_day=selection.first_day, last_day=selection.last_day, progress=progress
    )
    return select(records, selection, tally)
