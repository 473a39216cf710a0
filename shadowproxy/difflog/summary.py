"""`shadowproxy diffs`: the anti-flood view of a diff-log folder.

A busy proxy writes thousands of near-identical mismatch records; nobody reads them one by one
(docs/architecture.md, "Design rules"). This groups them: counts per route group and outcome,
and mismatches by signature — route + the set of differing fields + the status pair — with one
exemplar comparison id each to `grep` for. Reads the active segments and the rotated `.gz` ones.
"""

from __future__ import annotations

import gzip
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from shadowproxy.difflog.segments import segment_files
from shadowproxy.types import Outcome, field_family

ERROR_OUTCOMES = (Outcome.SHADOW_ERROR, Outcome.AUTHORITATIVE_ERROR, Outcome.BOTH_ERROR)
# The parity table's columns (`diffs` and `demo`): the three error outcomes share one column.
COLUMNS = ("match", "mismatch", "inflight_skew", "accepted", "errors", "skipped")


def parse_since(text: str) -> datetime:
    """ISO date or date-time; naive means UTC (the diff log's clock)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"--since must be an ISO date or date-time like 2026-04-13T12:00Z, got {text!r}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_outcome(text: str) -> Outcome:
    try:
        return Outcome(text.strip().lower())
    except ValueError:
        choices = ", ".join(o.value for o in Outcome)
        raise ValueError(f"--outcome must be one of {choices}, got {text!r}") from None


@dataclass(frozen=True, slots=True)
class DiffFilter:
    since: datetime | None = None
    outcome: Outcome | None = None
    route: str | None = None

    def accepts(self, record: dict[str, Any]) -> bool:
        if self.outcome is not None and record.get("outcome") != self.outcome.value:
            return False
        if self.route is not None and record.get("route") != self.route:
            return False
        if self.since is not None:
            ts = record.get("ts")
            return isinstance(ts, str) and datetime.fromisoformat(ts) >= self.since
        return True


@dataclass(frozen=True, slots=True, order=True)
class Signature:
    route: str
    fields: tuple[str, ...]
    statuses: tuple[int | None, int | None]


@dataclass(slots=True)
class Summary:
    files: int = 0
    records: int = 0
    unreadable: int = 0
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    signatures: Counter[Signature] = field(default_factory=Counter)
    exemplars: dict[Signature, str] = field(default_factory=dict)


def signature(record: dict[str, Any]) -> Signature:
    fields = sorted({field_family(str(d.get("field"))) for d in record.get("differences", [])})
    return Signature(
        str(record.get("route")),
        tuple(fields),
        (_status(record.get("legacy")), _status(record.get("app"))),
    )


def _status(side: object) -> int | None:
    status = side.get("status") if isinstance(side, dict) else None
    return status if isinstance(status, int) else None


def _lines(path: Path) -> Iterator[bytes]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        yield from handle


def scan(
    directory: Path,
    selection: DiffFilter,
    *,
    progress: Callable[[int, int, Path], None] | None = None,
) -> Iterator[dict[str, Any] | None]:
    """Selected records in write order; None for each unreadable line or truncated file.

    Raises OSError for an unreadable folder.
    """
    files = segment_files(directory)
    since_day = selection.since.astimezone(UTC).date().isoformat() if selection.since else ""
    for index, path in enumerate(files, start=1):
        if progress is not None:
            progress(index, len(files), path)
        if path.name[5:15] < since_day:  # the file's day is wholly before --since
            continue
        try:
            for line in _lines(path):
                try:
                    record = orjson.loads(line)
                    if isinstance(record, dict) and selection.accepts(record):
                        yield record
                except ValueError:  # orjson.JSONDecodeError, or a bad `ts` under --since
                    yield None
        except (OSError, EOFError):  # a truncated .gz (crash mid-compress) ends that file
            yield None


def summarize(
    directory: Path,
    selection: DiffFilter,
    *,
    progress: Callable[[int, int, Path], None] | None = None,
) -> Summary:
    summary = Summary(files=len(segment_files(directory)))
    for record in scan(directory, selection, progress=progress):
        if record is None:
            summary.unreadable += 1
            continue
        summary.records += 1
        outcome = str(record.get("outcome"))
        summary.counts[(str(record.get("route_group")), outcome)] += 1
        if outcome == Outcome.MISMATCH:
            key = signature(record)
            summary.signatures[key] += 1
            summary.exemplars.setdefault(key, str(record.get("comparison_id")))
    return summary


def render(summary: Summary, directory: Path, *, top: int) -> str:
    lines = [
        f"{summary.records} records in {summary.files} files under {directory}"
        + (f" ({summary.unreadable} unreadable lines skipped)" if summary.unreadable else "")
    ]
    if not summary.records:
        return "\n".join(lines)
    lines += ["", parity_table(summary.counts)]
    if summary.signatures:
        lines += ["", f"top mismatch signatures ({len(summary.signatures)} distinct):"]
        lines.append(f"{'count':>7}  {'route':<40} {'legacy/app':<11} fields  [exemplar]")
        for key, count in summary.signatures.most_common(top):
            statuses = "/".join("-" if s is None else str(s) for s in key.statuses)
            fields = ", ".join(key.fields) or "(status only)"
            lines.append(
                f"{count:>7}  {key.route:<40} {statuses:<11} {fields}  [{summary.exemplars[key]}]"
            )
    return "\n".join(lines)


def _row(counts: Counter[tuple[str, str]], group: str) -> dict[str, int]:
    row = {outcome.value: counts[(group, outcome.value)] for outcome in Outcome}
    row["errors"] = sum(row.pop(outcome.value) for outcome in ERROR_OUTCOMES)
    return row


def parity_table(counts: Counter[tuple[str, str]]) -> str:
    """Counts per (route group, outcome) as a text table, one row per route group."""
    lines = [f"{'route group':<16}" + "".join(f"{c:>15}" for c in COLUMNS)]
    for group in sorted({group for group, _ in counts}):
        row = _row(counts, group)
        lines.append(f"{group:<16}" + "".join(f"{row[c]:>15}" for c in COLUMNS))
    return "\n".join(lines)


def as_json(summary: Summary, *, top: int) -> dict[str, Any]:
    """The same summary for scripts (`--json`)."""
    groups = sorted({group for group, _ in summary.counts})
    return {
        "files": summary.files,
        "records": summary.records,
        "unreadable": summary.unreadable,
        "counts": {group: _row(summary.counts, group) for group in groups},
        "signatures": [
            {
                "route": key.route,
                "fields": list(key.fields),
                "legacy_status": key.statuses[0],
                "app_status": key.statuses[1],
                "count": count,
                "exemplar": summary.exemplars[key],
            }
            for key, count in summary.signatures.most_common(top)
        ],
    }
