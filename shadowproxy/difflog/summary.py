"""`shadowproxy diffs summary`: what the selected records say, per route group and per route.

Per route group and per route: the records (comparisons recorded), matches, mismatches,
in-flight skews, accepted, noise, errors (the three error outcomes together), skipped by reason,
and the records whose answer breaks a dashboard consumer (per consumer). Then the fields that
differ most (`differences` only, list indexes folded into families, per route): in how many
records, first and last seen, and the first comparison id to look at (`diffs show ID`); then,
apart from them, the noisy fields (`noise`: differences on a field the legacy side was measured
to differ on with itself, in `noise` records and beside a mismatch's differences), each with the
latest rate measured (the entries' `reason`). Noise is never a mismatch: `mismatches`, which
`--fail-on-mismatch` gates on, counts `mismatch` records only. When the records come from more
than one proxy replica (`replica`), the records and outcomes per replica too (`Replicas`, which
`diffs report` shares).

One pass, memory bounded by the number of routes, field families and replicas, never by the
records.
`parity_table` (and `parity_rows`) also print `shadowproxy demo`'s parity from its counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from shadowproxy.difflog.read import Record, broken_consumers, family
from shadowproxy.difflog.table import ID_CHARS, Column, prose, table
from shadowproxy.types import Outcome

Key = TypeVar("Key", bound=Hashable)
ERROR_OUTCOMES = (Outcome.SHADOW_ERROR, Outcome.AUTHORITATIVE_ERROR, Outcome.BOTH_ERROR)
# The parity table's columns (`diffs` and `demo`): the three error outcomes share one column.
COLUMNS = ("match", "mismatch", "inflight_skew", "accepted", "noise", "errors", "skipped")
ROUTE_COLUMNS = ("records", "mismatch", "accepted", "noise", "errors")  # the per-route table's
NOISE_PREFIX = "noise: "  # how a noise entry's reason starts (diff/noise.py), left out in a table
MAX_REPLICAS = 256  # a deployment has a few; a stranger's folders cannot grow a table unbounded
OTHER_REPLICAS = "(other)"


def parity_row(outcomes: Mapping[str, int]) -> dict[str, int]:
    """Counts per outcome as the parity columns: the error outcomes summed into `errors`."""
    row = {outcome.value: outcomes.get(outcome.value, 0) for outcome in Outcome}
    row["errors"] = sum(row.pop(outcome.value) for outcome in ERROR_OUTCOMES)
    return {name: row[name] for name in COLUMNS}


def parity_rows(counts: Counter[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """Counts per (route group, outcome) as one parity row per route group."""
    groups = sorted({group for group, _ in counts})
    return {
        group: parity_row({o: n for (g, o), n in counts.items() if g == group}) for group in groups
    }


def parity_table(counts: Counter[tuple[str, str]]) -> str:
    """Counts per (route group, outcome) as a text table, one row per route group."""
    lines = [f"{'route group':<16}" + "".join(f"{c:>15}" for c in COLUMNS)]
    for group, row in parity_rows(counts).items():
        lines.append(f"{group:<16}" + "".join(f"{row[c]:>15}" for c in COLUMNS))
    return "\n".join(lines)


@dataclass(slots=True)
class Counts:
    """The records of one route group or one route."""

    records: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)  # `skipped` records by reason
    breaks: Counter[str] = field(default_factory=Counter)  # records breaking each consumer

    def document(self) -> dict[str, Any]:
        return {
            "records": self.records,
            **parity_row(self.outcomes),
            "skipped_by_reason": dict(self.skipped.most_common()),
            "breaks": dict(self.breaks.most_common()),
        }


@dataclass(slots=True)
class Seen:
    """One differing (or noisy) field family of one route."""

    count: int
    first: str
    last: str
    example: str  # the comparison id of the first record seen with it
    reason: str | None = None  # a noisy field's: the rate measured in the latest record

    def document(self, route: str, name: str) -> dict[str, Any]:
        return {
            "route": route,
            "field": name,
            "count": self.count,
            "first_seen": self.first,
            "last_seen": self.last,
            "example": self.example,
        }

    def again(self, ts: str, example: str, reason: str | None) -> None:
        self.count += 1
        if ts < self.first:
            self.first, self.example = ts, example
        if ts >= self.last:
            self.last = ts
            self.reason = reason or self.reason


SKIPPED = Outcome.SKIPPED.value
SKEW = Outcome.INFLIGHT_SKEW.value  # the column a narrow terminal leaves out first


@dataclass(slots=True)
class Replicas:
    """Records by the replica that wrote them (None: records before schema 3, which name none),
    per outcome."""

    outcomes: dict[str | None, Counter[str]] = field(default_factory=dict)

    @property
    def many(self) -> bool:
        """Whether the records come from more than one replica: only then are they shown."""
        return len(self.outcomes) > 1

    def add(self, record: Mapping[str, Any]) -> None:
        found = record.get("replica")
        name = found if isinstance(found, str) else None
        counts = self.outcomes.get(name)
        if counts is None:
            if len(self.outcomes) >= MAX_REPLICAS:
                name = OTHER_REPLICAS
            counts = self.outcomes.setdefault(name, Counter())
        counts[str(record.get("outcome"))] += 1

    def named(self) -> Iterator[tuple[str | None, Counter[str]]]:
        """Each replica's outcomes, by name (the unnamed last)."""
        yield from sorted(self.outcomes.items(), key=lambda item: (item[0] is None, item[0] or ""))

    def document(self) -> list[dict[str, Any]]:
        return [
            {"replica": name, "records": sum(counts.values()), **parity_row(counts)}
            for name, counts in self.named()
        ]

    def render(self, width: int | None) -> str:
        rows = [
            [name or "-", *map(str, (sum(counts.values()), *parity_row(counts).values()))]
            for name, counts in self.named()
        ]
        columns = [Column("replica", flex=True, least=16)]
        columns += [Column(c, ">", drop=1 if c == SKEW else 0) for c in ("records", *COLUMNS)]
        return table(columns, rows, width)


@dataclass(slots=True)
class Summary:
    """Tallies by (group, route, outcome, skip reason) and (group, route, consumer), one
    counter update per record; `groups()` and `routes()` fold them once at the end."""

    tally: Counter[tuple[str, str, str, str | None]] = field(default_factory=Counter)
    broken: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    fields: dict[tuple[str, str], Seen] = field(default_factory=dict)  # (route, family)
    noisy: dict[tuple[str, str], Seen] = field(default_factory=dict)  # (route, family) of noise
    replicas: Replicas = field(default_factory=Replicas)
    first: str = ""
    last: str = ""

    @property
    def mismatches(self) -> int:
        """Mismatches not accepted as known differences (nor noise, which is never one): what
        `--fail-on-mismatch` gates on."""
        return sum(n for (_, _, outcome, _), n in self.tally.items() if outcome == "mismatch")

    def add(self, record: Record) -> None:
        ts, outcome = record["ts"], record["outcome"]
        group, route = record["route_group"], record["route"]
        reason = str(record.get("reason") or "?") if outcome == SKIPPED else None
        self.tally[group, route, outcome, reason] += 1
        self.replicas.add(record)
        if record.get("client"):
            for consumer in broken_consumers(record):
                self.broken[group, route, consumer] += 1
        if ts > self.last:
            self.last = ts
        if ts < self.first or not self.first:
            self.first = ts
        differences = record.get("differences")
        if differences:
            for name in {family(entry["field"]) for entry in differences}:
                _seen(self.fields, (route, name), ts, record["comparison_id"])
        noise = record.get("noise")
        if noise:
            for name, reason in _rates(noise).items():
                _seen(self.noisy, (route, name), ts, record["comparison_id"], reason)

    def groups(self) -> dict[str, Counts]:
        return self._fold(lambda group, route: group)

    def routes(self) -> dict[tuple[str, str], Counts]:
        return self._fold(lambda group, route: (group, route))

    def _fold(self, by: Callable[[str, str], Key]) -> dict[Key, Counts]:
        folded: dict[Key, Counts] = {}
        for (group, route, outcome, reason), n in self.tally.items():
            counts = folded.setdefault(by(group, route), Counts())
            counts.records += n
            counts.outcomes[outcome] += n
            if reason is not None:
                counts.skipped[reason] += n
        for (group, route, consumer), n in self.broken.items():
            folded[by(group, route)].breaks[consumer] += n
        return dict(sorted(folded.items()))

    def top_fields(self, top: int) -> list[tuple[tuple[str, str], Seen]]:
        return _ranked(self.fields, top)

    def top_noise(self, top: int) -> list[tuple[tuple[str, str], Seen]]:
        return _ranked(self.noisy, top)

    def document(self, *, top: int) -> dict[str, Any]:
        return {
            "first": self.first or None,
            "last": self.last or None,
            "mismatches": self.mismatches,
            "counts": {group: counts.document() for group, counts in self.groups().items()},
            "routes": [
                {"route_group": group, "route": route, **counts.document()}
                for (group, route), counts in self.routes().items()
            ],
            "fields": [seen.document(route, name) for (route, name), seen in self.top_fields(top)],
            "distinct_fields": len(self.fields),
            "noise_fields": [
                {**seen.document(route, name), "reason": seen.reason}
                for (route, name), seen in self.top_noise(top)
            ],
            "distinct_noise_fields": len(self.noisy),
            "replicas": self.replicas.document(),
        }

    def render(self, *, top: int, width: int | None) -> str:
        if not self.tally:
            return ""
        groups = table(
            [
                Column("route group"),
                *(
                    Column(name, ">", drop=2 if name == SKEW else 0)
                    for name in ("records", *COLUMNS)
                ),
                Column("consumer breaks", flex=True, drop=1),
            ],
            [_group_row(group, counts) for group, counts in self.groups().items()],
            width,
        )
        routes = table(
            [
                Column("route", flex=True, least=16),
                Column("group", drop=3),
                *(Column(name, ">") for name in ROUTE_COLUMNS),
                Column("skipped by reason", flex=True, drop=2),
                Column("consumer breaks", flex=True, drop=1),
            ],
            [_route_row(key, counts) for key, counts in self.routes().items()],
            width,
        )
        lines = [groups, "", routes]
        if self.replicas.many:
            lines[1:1] = ["", "per replica:", self.replicas.render(width)]
        if self.fields:
            fields = table(
                [
                    Column("field", flex=True, least=16),
                    Column("route", flex=True, least=16, drop=1),
                    Column("records", ">"),
                    Column("first seen"),
                    Column("last seen"),
                    Column("example"),
                ],
                [_field_row(key, seen) for key, seen in self.top_fields(top)],
                width,
            )
            heading = f"top differing fields ({len(self.fields)} distinct per route):"
            lines += ["", heading, fields]
        if self.noisy:
            noisy = table(
                [
                    Column("field", flex=True, least=16),
                    Column("route", flex=True, least=16, drop=2),
                    Column("records", ">"),
                    Column("first seen", drop=4),
                    Column("last seen", drop=3),
                    Column("example"),
                    Column("measured (latest)", flex=True, least=20, drop=1, words=True),
                ],
                [_noise_row(key, seen) for key, seen in self.top_noise(top)],
                width,
                wrap=True,  # the rate measured is what the table is for: wrapped, not cut
            )
            heading = (
                f"noisy fields ({len(self.noisy)} distinct per route; legacy differs on them with"
                " itself: noise, not mismatches):"
            )
            lines += ["", prose(heading, width), noisy]
        return "\n".join(lines)


def _group_row(group: str, counts: Counts) -> list[str]:
    numbers = [counts.records, *parity_row(counts.outcomes).values()]
    return [group, *map(str, numbers), _counted(counts.breaks)]


def _route_row(key: tuple[str, str], counts: Counts) -> list[str]:
    group, route = key
    row = {"records": counts.records, **parity_row(counts.outcomes)}
    numbers = [row[name] for name in ROUTE_COLUMNS]
    return [route, group, *map(str, numbers), _counted(counts.skipped), _counted(counts.breaks)]


def _field_row(key: tuple[str, str], seen: Seen) -> list[str]:
    route, name = key
    first, last = short_ts(seen.first), short_ts(seen.last)
    return [name, route, str(seen.count), first, last, seen.example[:ID_CHARS]]


def _noise_row(key: tuple[str, str], seen: Seen) -> list[str]:
    route, name = key
    first, last = short_ts(seen.first), short_ts(seen.last)
    measured = (seen.reason or "-").removeprefix(NOISE_PREFIX)
    return [name, route, str(seen.count), first, last, seen.example[:ID_CHARS], measured]


def _rates(noise: object) -> dict[str, str | None]:
    """A record's noise as the rate measured per field family (read defensively: the reader
    checks `differences` only)."""
    rates: dict[str, str | None] = {}
    for entry in noise if isinstance(noise, list) else ():
        name = entry.get("field") if isinstance(entry, dict) else None
        if isinstance(name, str):
            reason = entry.get("reason")
            rates.setdefault(family(name), reason if isinstance(reason, str) else None)
    return rates


def _seen(
    seen: dict[tuple[str, str], Seen],
    key: tuple[str, str],
    ts: str,
    example: str,
    reason: str | None = None,
) -> None:
    found = seen.get(key)
    if found is None:
        seen[key] = Seen(1, ts, ts, example, reason)
    else:
        found.again(ts, example, reason)


def _ranked(seen: dict[tuple[str, str], Seen], top: int) -> list[tuple[tuple[str, str], Seen]]:
    return sorted(seen.items(), key=lambda item: (-item[1].count, item[0]))[:top]


def _counted(counts: Counter[str]) -> str:
    return ", ".join(f"{name} {n}" for name, n in counts.most_common())


def short_ts(ts: str) -> str:
    """`2026-04-13T12:00:03.120Z` as `04-13 12:00:03`, for tables (`--json` has it whole)."""
    return ts[5:19].replace("T", " ")
