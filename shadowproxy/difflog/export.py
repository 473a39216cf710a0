"""`shadowproxy diffs export`: the selected records, streamed as CSV or JSON lines.

JSON lines are the records as written (every field). CSV has a fixed set of columns, `CSV_COLUMNS`
(documented in diff_logs/README.md), one row per record: the scalar fields, each side's status,
latency and error, and the lists joined with `; ` (differing fields and their kinds in the same
order, accepted fields, the consumers broken, noise fields). A column added later goes last, so a
script that reads the columns by position keeps working.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from typing import Any, BinaryIO, TextIO

import orjson

from shadowproxy.difflog.read import Record, broken_consumers

CSV_COLUMNS = (
    "ts", "comparison_id", "request_id", "kind", "route_group", "route", "method", "path",
    "authoritative", "outcome", "reason", "legacy_status", "app_status", "legacy_latency_ms",
    "app_latency_ms", "legacy_error", "app_error", "fields", "kinds", "accepted",
    "consumer_breaks", "task_id", "ticker", "date", "flags_version", "trace_id", "replica",
    "noise",
)  # fmt: skip
SEPARATOR = "; "

Cell = str | int | float | None


def _side(name: str, key: str) -> Callable[[Record], Cell]:
    def cell(record: Record) -> Cell:
        side = record.get(name)
        found = side.get(key) if isinstance(side, dict) else None
        return found if isinstance(found, str | int | float) else None

    return cell


def _joined(name: str, key: str) -> Callable[[Record], Cell]:
    def cell(record: Record) -> Cell:
        found = record.get(name)
        entries = found if isinstance(found, list) else []
        return SEPARATOR.join(str(e.get(key)) for e in entries if isinstance(e, dict))

    return cell


DERIVED: dict[str, Callable[[Record], Cell]] = {
    "legacy_status": _side("legacy", "status"),
    "app_status": _side("app", "status"),
    "legacy_latency_ms": _side("legacy", "latency_ms"),
    "app_latency_ms": _side("app", "latency_ms"),
    "legacy_error": _side("legacy", "error"),
    "app_error": _side("app", "error"),
    "fields": _joined("differences", "field"),
    "kinds": _joined("differences", "kind"),
    "accepted": _joined("accepted", "field"),
    "noise": _joined("noise", "field"),
    "consumer_breaks": lambda record: SEPARATOR.join(broken_consumers(record)),
}


def csv_row(record: Record) -> list[Cell]:
    row: list[Cell] = []
    for column in CSV_COLUMNS:
        if column in DERIVED:
            row.append(DERIVED[column](record))
        else:
            found: Any = record.get(column)
            row.append(found if isinstance(found, str | int | float) else None)
    return row


def write_csv(records: Iterable[Record], out: TextIO) -> int:
    """The header and one row per record; returns the rows written."""
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    written = 0
    for record in records:
        writer.writerow(csv_row(record))
        written += 1
    return written


def write_jsonl(records: Iterable[Record], out: BinaryIO) -> int:
    """One record per line, as written; returns the lines written."""
    written = 0
    for record in records:
        out.write(orjson.dumps(record) + b"\n")
        written += 1
    return written
