"""`shadowproxy diffs signatures`: mismatches grouped by what differs, not by record.

A signature is the route, the set of (differing field family, kind) pairs, the legacy/app
status pair and the counted consumer-contract breaks (consumer, side, field, kind) of a
mismatch record. Values and list indexes are left out, so a divergence that every later
comparison repeats (one cancel that raced, then every task list showing it) is one row however
many records carry it. Per signature: how many records, first and last seen, whether it is still
occurring (last seen within `recent` of the newest record in the time window: judged against
the log, not the clock, so an old folder reads the same tomorrow), and exemplar comparison ids
(the first and the latest) for `diffs show`. Each signature has a short stable `id`.

One pass; memory bounded by the number of distinct signatures.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import orjson

from shadowproxy.difflog.read import Record, counted_breaks, family, status
from shadowproxy.difflog.record import format_ts
from shadowproxy.difflog.summary import short_ts
from shadowproxy.difflog.table import ID_CHARS, Column, prose, table
from shadowproxy.types import Outcome

Break = tuple[str, str, str, str]  # consumer, side, field, kind
ID = re.compile(r"[0-9a-f]{12}")  # what `Key.id` is
MISMATCH = Outcome.MISMATCH.value


class Key(NamedTuple):
    """A signature (a tuple: one is made for every mismatch read)."""

    route: str
    differences: tuple[tuple[str, str], ...]  # (field family, kind), sorted
    statuses: tuple[int | None, int | None]  # legacy, app
    breaks: tuple[Break, ...]  # sorted

    @property
    def id(self) -> str:
        """12 hex digits, the same for the same signature in every folder and every run."""
        canonical = orjson.dumps([self.route, self.differences, self.statuses, self.breaks])
        return hashlib.blake2b(canonical, digest_size=6).hexdigest()


def key(record: Record) -> Key:
    differences = {(family(d["field"]), d["kind"]) for d in record.get("differences", ())}
    breaks = (
        {
            (str(b.get("consumer")), str(b.get("side")), str(b.get("field")), str(b.get("kind")))
            for b in counted_breaks(record)
        }
        if record.get("client")
        else ()
    )
    return Key(
        record["route"],
        tuple(sorted(differences)),
        (status(record, "legacy"), status(record, "app")),
        tuple(sorted(breaks)),
    )


@dataclass(slots=True)
class Seen:
    """The records of one signature: how many, the first and the latest."""

    group: str
    count: int
    first: str
    last: str
    first_id: str
    last_id: str

    def exemplars(self) -> list[str]:
        return [self.first_id] if self.first_id == self.last_id else [self.first_id, self.last_id]


@dataclass(slots=True)
class Signatures:
    """The mismatch records added, by signature (other outcomes are passed over)."""

    seen: dict[Key, Seen] = field(default_factory=dict)

    @property
    def mismatches(self) -> int:
        return sum(seen.count for seen in self.seen.values())

    def add(self, record: Record) -> None:
        if record["outcome"] != MISMATCH:
            return
        ts, comparison = record["ts"], record["comparison_id"]
        signature = key(record)
        seen = self.seen.get(signature)
        if seen is None:
            self.seen[signature] = Seen(record["route_group"], 1, ts, ts, comparison, comparison)
            return
        seen.count += 1
        if ts < seen.first:
            seen.first, seen.first_id = ts, comparison
        if ts >= seen.last:
            seen.last, seen.last_id = ts, comparison

    def ranked(self, top: int) -> list[tuple[Key, Seen]]:
        rows = sorted(self.seen.items(), key=lambda item: (-item[1].count, item[1].first))
        return rows[:top]

    def document(self, *, top: int, newest: str, recent_minutes: int) -> dict[str, Any]:
        since = occurring_since(newest, recent_minutes)
        return {
            "mismatches": self.mismatches,
            "distinct": len(self.seen),
            "newest": newest or None,
            "recent_minutes": recent_minutes,
            "signatures": [
                signature_document(signature, seen.group)
                | {
                    "count": seen.count,
                    "first_seen": seen.first,
                    "last_seen": seen.last,
                    "still_occurring": seen.last >= since,
                    "exemplars": seen.exemplars(),
                }
                for signature, seen in self.ranked(top)
            ],
        }

    def render(self, *, top: int, newest: str, recent_minutes: int, width: int | None) -> str:
        if not self.seen:
            return "no mismatches"
        since = occurring_since(newest, recent_minutes)
        rows = [
            [
                str(seen.count),
                short_ts(seen.first),
                short_ts(seen.last),
                "yes" if seen.last >= since else "",
                signature.route,
                "/".join("-" if s is None else str(s) for s in signature.statuses),
                describe(signature),
                " ".join(comparison[:ID_CHARS] for comparison in seen.exemplars()),
                signature.id,
            ]
            for signature, seen in self.ranked(top)
        ]
        columns = [
            Column("records", ">"),
            Column("first seen", drop=2),
            Column("last seen"),
            Column("now"),
            Column("route", flex=True, least=24),
            Column("status"),
            Column("differences", flex=True, least=32),
            Column("exemplars", drop=1),
            Column("signature", drop=3),
        ]
        heading = (
            f"{len(self.seen)} signatures over {self.mismatches} mismatches; now: seen in the"
            f" {recent_minutes} minutes up to {short_ts(newest)}"
        )
        return prose(heading, width) + "\n" + table(columns, rows, width)


def signature_document(signature: Key, group: str) -> dict[str, Any]:
    """What a signature is, as `--json` and a fixture file say it."""
    return {
        "id": signature.id,
        "route_group": group,
        "route": signature.route,
        "differences": [{"field": f, "kind": k} for f, k in signature.differences],
        "legacy_status": signature.statuses[0],
        "app_status": signature.statuses[1],
        "breaks": [
            dict(zip(("consumer", "side", "field", "kind"), b, strict=True))
            for b in signature.breaks
        ],
    }


def describe(signature: Key) -> str:
    """`decision changed, tasks[].stage changed; breaks legacy-dashboard shadow decision missing`"""
    text = ", ".join(f"{f} {k}" for f, k in signature.differences) or "(status only)"
    if signature.breaks:
        text += "; breaks " + ", ".join(" ".join(b) for b in signature.breaks)
    return text


def occurring_since(newest: str, recent_minutes: int) -> str:
    """The `ts` from which a signature seen is still occurring."""
    if not newest:
        return ""
    return format_ts(datetime.fromisoformat(newest) - timedelta(minutes=recent_minutes))
