"""Reading diff logs back: records in write order, streamed, and what was skipped.

Every segment is read line by line (gzip-compressed or plain, `segments.segment_files` order),
each line parsed on its own with orjson: a file is never loaded whole, so memory stays flat
however large the folder. Several streams (the folders of several replicas, files captured from
stdout: `sources`) are merged by `ts` as they are read (`merged`), holding one record of each.
A line that is not a record this reader understands is skipped and counted by reason (`Skips`),
never raised: a corrupt or torn line (the writer never leaves one, but a crash, a copy or a hand
edit can), a line of another event (the proxy's own log lines in a captured stdout), a record of
a newer `schema` version, a field the schema does not have (which is why a new field is a new
version), a required field missing or malformed. A file that cannot be read (or a compressed
segment cut short) is reported by name, and the records before the trouble count.

A record that is read is guaranteed the shape the aggregations rely on: `ts` in the writer's
format (`2026-04-13T12:00:03.120Z`, sortable as text), `comparison_id`, `route_group` and
`route` strings, a known `outcome`, `replica` a string or null (records before schema 3 name
none), `legacy`, `app` and `client` objects or null, and `differences` (when there) a list of
objects with a string `field` and `kind`. The accessors at
the end (field families, statuses, consumer breaks), `show`, `export` and the aggregations read
the rest defensively (`accepted` and `noise` among them).
"""

from __future__ import annotations

import gzip
import heapq
import io
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from shadowproxy.difflog.record import EVENT, FIELDS, SCHEMA_VERSION
from shadowproxy.difflog.segments import file_day
from shadowproxy.types import Outcome, field_family

Record = dict[str, Any]
Progress = Callable[[int, int, Path], None]

TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
OUTCOMES = frozenset(outcome.value for outcome in Outcome)
OBJECT_OR_NULL = (dict, type(None))
TEXT_OR_NULL = (str, type(None))
TORN = "torn last line"
BUFFER = 1 << 20


@dataclass(slots=True)
class Skips:
    """What a read left out: lines by reason, and files by name with what went wrong."""

    lines: Counter[str] = field(default_factory=Counter)
    files: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.lines or self.files)

    def message(self) -> str:
        """`3 lines skipped: 2 not JSON, 1 torn last line; 1 file unreadable: ...`, or ""."""
        parts = []
        if self.lines:
            reasons = ", ".join(f"{n} {reason}" for reason, n in self.lines.most_common())
            total = sum(self.lines.values())
            parts.append(f"{total} line{'s' if total != 1 else ''} skipped: {reasons}")
        if self.files:
            names = ", ".join(f"{name} ({why})" for name, why in sorted(self.files.items()))
            count = len(self.files)
            parts.append(f"{count} file{'s' if count != 1 else ''} unreadable: {names}")
        return "; ".join(parts)

    def document(self) -> dict[str, Any]:
        return {
            "lines": sum(self.lines.values()),
            "reasons": dict(self.lines.most_common()),
            "files": dict(sorted(self.files.items())),
        }


def problem(record: object) -> str | None:
    """Why `record` is no record this reader understands; None when it is one.

    Written out check by check: it runs once per line, and is a third of a read's time.
    """
    if type(record) is not dict:
        return "not a JSON object"
    get = record.get
    if get("event", EVENT) != EVENT:  # first: the proxy's own log lines in a captured stdout
        return f"not a {EVENT} record"
    schema = get("schema", 1)
    if type(schema) is not int or not 1 <= schema <= SCHEMA_VERSION:
        if type(schema) is int and schema > SCHEMA_VERSION:
            return f"schema version {schema} (this reader knows {SCHEMA_VERSION})"
        return "malformed 'schema'"
    if not FIELDS.issuperset(record):
        return f"unknown field {sorted(set(record) - FIELDS)[0]!r}"
    ts = get("ts")
    if type(ts) is not str or not TS.fullmatch(ts):
        return "missing or malformed 'ts'"
    if get("outcome") not in OUTCOMES:
        return "missing or unknown 'outcome'"
    if type(get("comparison_id")) is not str:
        return "missing or malformed 'comparison_id'"
    if type(get("route_group")) is not str or type(get("route")) is not str:
        return "missing or malformed 'route_group' or 'route'"
    if type(get("replica")) not in TEXT_OR_NULL:
        return "malformed 'replica'"
    if (
        type(get("legacy")) not in OBJECT_OR_NULL
        or type(get("app")) not in OBJECT_OR_NULL
        or type(get("client")) not in OBJECT_OR_NULL
    ):
        return "malformed 'legacy', 'app' or 'client'"
    differences = get("differences", ())
    if type(differences) is not list and differences != ():
        return "malformed 'differences'"
    for entry in differences:
        if type(entry) is not dict or type(entry.get("field")) is not str:
            return "malformed 'differences'"
        if type(entry.get("kind")) is not str:
            return "malformed 'differences'"
    return None


def parse(line: bytes, skips: Skips) -> Record | None:
    """One line as a record, or None (counted in `skips`)."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        skips.lines["not JSON"] += 1
        return None
    reason = problem(record)
    if reason is not None:
        skips.lines[reason] += 1
        return None
    return record  # type: ignore[no-any-return]  # problem() checked it is a dict


def open_segment(path: Path) -> BinaryIO:
    """A segment for reading, decompressed when it is a `.gz` (through a 1 MiB buffer: lines
    come out of it twice as fast as out of `gzip.open`'s own)."""
    if path.suffix == ".gz":
        return io.BufferedReader(gzip.GzipFile(path, "rb"), BUFFER)
    return path.open("rb", buffering=BUFFER)


def read_segment(path: Path, skips: Skips) -> Iterator[Record]:
    """The records of one segment in order; a torn last line and a file cut short are skips."""
    try:
        with open_segment(path) as handle:
            for line in handle:
                if not line.endswith(b"\n"):
                    skips.lines[TORN] += 1
                elif (record := parse(line, skips)) is not None:
                    yield record
    except EOFError:
        skips.files[path.name] = "compressed segment cut short"
    except (OSError, zlib.error) as exc:
        skips.files[path.name] = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def read_records(
    files: Sequence[Path],
    skips: Skips,
    *,
    first_day: str = "",
    last_day: str = "9999-12-31",
    progress: Progress | None = None,
) -> Iterator[Record]:
    """The records of `files` (one stream: `sources.Stream.files`) in write order, those of
    segments of days outside `first_day` to `last_day` (UTC) left unread (a file that is no
    segment has no day: it is read)."""
    for index, path in enumerate(files, start=1):
        if progress is not None:
            progress(index, len(files), path)
        day = file_day(path)
        if day is None or first_day <= day <= last_day:
            yield from read_segment(path, skips)


def merged(
    streams: Sequence[Sequence[Path]],
    skips: Skips,
    *,
    first_day: str = "",
    last_day: str = "9999-12-31",
    progress: Progress | None = None,
) -> Iterator[Record]:
    """The records of several streams (`read_records` each), merged in `ts` order; records of
    the same `ts` keep the order of their streams. Each stream is in write order, so one record
    of each is held at a time."""
    total, opened = sum(len(files) for files in streams), 0

    def counted(_index: int, _count: int, path: Path) -> None:
        nonlocal opened
        opened += 1
        assert progress is not None
        progress(opened, total, path)

    step = None if progress is None else counted
    readers = [
        read_records(files, skips, first_day=first_day, last_day=last_day, progress=step)
        for files in streams
    ]
    if len(readers) == 1:
        return readers[0]
    return heapq.merge(*readers, key=_ts)


def _ts(record: Record) -> str:
    return record["ts"]  # type: ignore[no-any-return]  # problem() checked it is a str


# ---------------------------------------------------------------- what a record says

# A field's family (`tasks[AAPL_1].decision` -> `tasks[].decision`), remembered: the same few
# hundred fields differ again and again, and the aggregations ask for every difference.
family = lru_cache(maxsize=1 << 14)(field_family)


def families(items: object) -> list[str]:
    """The field families of one of a record's lists of differences (`differences`, `accepted`,
    `noise`), each once, in order; what is no list, or no object in it, is left out."""
    if not isinstance(items, list):
        return []
    found = (family(str(item.get("field"))) for item in items if isinstance(item, dict))
    return list(dict.fromkeys(found))


def status(record: Record, side: str) -> int | None:
    """`side`'s HTTP status (`legacy` or `app`), None when it gave none or was not asked."""
    observed = record.get(side)
    value = observed.get("status") if observed else None
    return value if type(value) is int else None


def consumers(record: Record) -> dict[str, dict[str, Any]]:
    """The consumer-contract findings per consumer (`client.consumer`), {} when there are none."""
    client = record.get("client")
    found = client.get("consumer") if client else None
    if not isinstance(found, dict):
        return {}
    return {name: entry for name, entry in found.items() if isinstance(entry, dict)}


def broken_consumers(record: Record) -> list[str]:
    """The consumers that one side's answer breaks (a counted break: not shared, not known)."""
    return [
        name
        for name, entry in consumers(record).items()
        if entry.get("authoritative") == "break" or entry.get("shadow") == "break"
    ]


def counted_breaks(record: Record) -> list[dict[str, Any]]:
    """The consumer-contract breaks that count: neither shared by both sides nor known."""
    return [
        found
        for entry in consumers(record).values()
        if isinstance(breaks := entry.get("breaks"), list)
        for found in breaks
        if isinstance(found, dict) and not found.get("shared") and found.get("known") is None
    ]
