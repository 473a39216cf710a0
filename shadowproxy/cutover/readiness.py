"""Cutover readiness over a sliding window: the evidence, and the verdict per group and consumer.

The question is the one a maintainer asks before `flags set GROUP app`: would the dashboards in use
break if the app answered now? So readiness looks at the *app's* answers, whichever side is
authoritative at the moment (the shadow before a flip, the authoritative one after it), and
counts only breaks the flip makes (`ContractBreak.counts`). Beside them, per route group, the
migration checkpoints' evidence (`checkpoints`): comparisons checked, violations, one example id.

Verdict, per route group and consumer that reads something of it:
- `blocked` when the app broke the consumer in the window, or a checkpoint was violated (the
  summary counts breaks per field: `blocked (12 breaks on decision, 1 break on status)`);
- `not_enough_traffic` while fewer than `min_comparisons` comparisons were checked;
- `ready` otherwise.

The window is kept as one-minute buckets, so the memory is bounded by the window and the label
sets (route groups, consumers, contract paths, learned paths), never by traffic.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from shadowproxy.contracts.model import Contract
from shadowproxy.cutover.checkpoints import CHECKPOINTS
from shadowproxy.routing import RouteTable
from shadowproxy.types import (
    Comparison,
    ContractBreak,
    Outcome,
    Role,
    RouteGroup,
    Side,
    field_family,
)

BUCKET_S = 60.0
READY, BLOCKED, NOT_ENOUGH = "ready", "blocked", "not_enough_traffic"
MAX_KEYS_PER_BUCKET = 4096  # a guard, far above what the label sets allow


@dataclass(slots=True)
class _Tally:
    count: int = 0
    example: str | None = None  # the latest comparison id
    detail: str | None = None  # e.g. "missing, expected string, got absent"


@dataclass(slots=True)
class _Bucket:
    start: float
    tallies: dict[tuple[str, ...], _Tally] = field(default_factory=dict)

    def add(
        self, key: tuple[str, ...], example: str | None = None, detail: str | None = None
    ) -> None:
        tally = self.tallies.get(key)
        if tally is None:
            if len(self.tallies) >= MAX_KEYS_PER_BUCKET:
                return
            tally = self.tallies[key] = _Tally()
        tally.count += 1
        tally.example = example or tally.example
        tally.detail = detail or tally.detail


@dataclass(frozen=True, slots=True)
class Verdict:
    group: str
    consumer: str
    verdict: str
    summary: str  # e.g. "blocked (12 breaks on decision, 12 on confidence)"


class Readiness:
    def __init__(
        self,
        consumers: Mapping[str, frozenset[RouteGroup]],
        *,
        min_comparisons: int,
        window_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`consumers`: each configured consumer with the route groups it reads."""
        self._consumers = consumers
        self._min = min_comparisons
        self._window_s = window_s
        self._clock = clock
        self._buckets: deque[_Bucket] = deque()

    # ------------------------------------------------------------------ the pipeline stage

    def publish(self, comparison: Comparison) -> None:
        bucket = self._bucket()
        exchange = comparison.exchange
        group, example = exchange.route_group.value, exchange.comparison_id
        for checkpoint in CHECKPOINTS:
            if checkpoint.applies(comparison):
                bucket.add(("checkpoint", group, checkpoint.name))
                if checkpoint.violated(comparison):
                    bucket.add(("violation", group, checkpoint.name), example)
        self._parity(bucket, comparison)
        client = comparison.client
        if client is None:
            return
        for consumer in client.consumers:
            if consumer in self._consumers:
                bucket.add(("checked", group, consumer))
        app_role = Role.AUTHORITATIVE if exchange.authoritative is Side.APP else Role.SHADOW
        # an example must be in the diff log: only exemplars are written whatever their outcome
        shown = example if client.exemplar else None
        for found in client.breaks:
            if found.counts and found.side is app_role and found.consumer in self._consumers:
                key = ("break", group, found.consumer, found.field, found.kind.value)
                bucket.add(key, shown, None if key in bucket.tallies else _detail(found))
        for drift in client.drift:
            key = ("drift", group, exchange.route, drift.field, drift.kind.value)
            detail = f"legacy has it in {drift.legacy_presence:.0%}"
            bucket.add(key, shown, None if key in bucket.tallies else detail)

    def _parity(self, bucket: _Bucket, comparison: Comparison) -> None:
        """What `GET /parity` reports: outcomes, each side's failures, the differing fields."""
        group = comparison.exchange.route_group.value
        bucket.add(("outcome", group, comparison.outcome.value))
        for observation in (comparison.legacy, comparison.app):
            if observation is not None:
                side = observation.side.value
                bucket.add(("asked", group, side))
                if observation.failed:
                    bucket.add(("failed", group, side))
        if comparison.outcome is Outcome.MISMATCH:
            for difference in comparison.differences:
                bucket.add(
                    ("field", group, field_family(difference.field)),
                    comparison.exchange.comparison_id,
                )

    # ------------------------------------------------------------------ what it says

    def parity(self, window_s: float, sides: Mapping[RouteGroup, Side]) -> dict[str, Any]:
        """Per route group over the last `window_s` (at most the readiness window, whole minutes):
        comparisons, the key-field mismatch ratio, each side's error ratio, the top fields."""
        merged = self._merged(since=self._clock() - window_s)
        groups: dict[str, Any] = {}
        for group in RouteGroup:
            outcomes = {
                key[2]: tally.count
                for key, tally in merged.items()
                if key[:2] == ("outcome", group.value)
            }
            compared = sum(outcomes.get(o.value, 0) for o in _COMPARED)
            errors = {
                side.value: _ratio(
                    _count(merged, ("failed", group.value, side.value)),
                    _count(merged, ("asked", group.value, side.value)),
                )
                for side in Side
            }
            fields = _rows(merged, ("field", group.value), ("field",))[:10]
            groups[group.value] = {
                "authoritative": sides[group].value,
                "comparisons": sum(outcomes.values()),
                "outcomes": outcomes,
                "mismatch_ratio": _ratio(outcomes.get(Outcome.MISMATCH.value, 0), compared),
                "error_ratio": errors,
                "top_fields": [
                    {"field": r["field"], "count": r["count"], "example": r["example"]}
                    for r in fields
                ],
            }
        return {"window_s": min(window_s, self._window_s), "groups": groups}

    def verdict(self, group: RouteGroup, consumer: str) -> Verdict:
        return self._verdict(self._merged(), group.value, consumer)

    def verdicts(self) -> Iterator[Verdict]:
        merged = self._merged()
        for consumer, groups in self._consumers.items():
            for group in RouteGroup:
                if group in groups:
                    yield self._verdict(merged, group.value, consumer)

    def blocking(self, group: RouteGroup) -> list[Verdict]:
        """The configured consumers a flip of `group` to the app would break now."""
        return [v for v in self.verdicts() if v.group == group.value and v.verdict == BLOCKED]

    def report(self) -> dict[str, Any]:
        """Everything `GET /cutover` and `shadowproxy cutover --json` show."""
        merged = self._merged()
        groups: dict[str, Any] = {}
        for group in RouteGroup:
            consumers = {
                consumer: self._consumer(merged, group.value, consumer)
                for consumer, read in self._consumers.items()
                if group in read
            }
            checkpoints = self._checkpoints(merged, group.value)
            drift = _rows(merged, ("drift", group.value), ("route", "field", "kind"))
            if consumers or drift or any(c["checked"] for c in checkpoints):
                groups[group.value] = {
                    "consumers": consumers,
                    "checkpoints": checkpoints,
                    "drift": drift,
                }
        return {
            "window_s": self._window_s,
            "min_comparisons": self._min,
            "judged_side": "app",
            "groups": groups,
        }

    # ------------------------------------------------------------------ internals

    def _consumer(
        self, merged: dict[tuple[str, ...], _Tally], group: str, consumer: str
    ) -> dict[str, Any]:
        verdict = self._verdict(merged, group, consumer)
        return {
            "checked": _count(merged, ("checked", group, consumer)),
            "verdict": verdict.verdict,
            "summary": verdict.summary,
            "breaks": _rows(merged, ("break", group, consumer), ("field", "kind")),
        }

    def _checkpoints(
        self, merged: dict[tuple[str, ...], _Tally], group: str
    ) -> list[dict[str, Any]]:
        rows = []
        for checkpoint in CHECKPOINTS:
            violations = merged.get(("violation", group, checkpoint.name), _Tally())
            rows.append(
                {
                    "name": checkpoint.name,
                    "condition": checkpoint.condition,
                    "checked": _count(merged, ("checkpoint", group, checkpoint.name)),
                    "violations": violations.count,
                    "example": violations.example,
                }
            )
        return rows

    def _verdict(self, merged: dict[tuple[str, ...], _Tally], group: str, consumer: str) -> Verdict:
        breaks = _rows(merged, ("break", group, consumer), ("field", "kind"))
        violated = [
            f"{c['violations']} on {c['name']}"
            for c in self._checkpoints(merged, group)
            if c["violations"]
        ]
        if breaks or violated:
            per_field: dict[str, int] = {}
            for row in breaks:  # one field may break in several ways: counted together
                per_field[row["field"]] = per_field.get(row["field"], 0) + row["count"]
            words = [
                f"{count} break{'s' if count != 1 else ''} on {field}"
                for field, count in per_field.items()
            ] + [f"checkpoint {text}" for text in violated]
            return Verdict(group, consumer, BLOCKED, f"blocked ({', '.join(words)})")
        checked = _count(merged, ("checked", group, consumer))
        if checked < self._min:
            return Verdict(
                group,
                consumer,
                NOT_ENOUGH,
                f"not enough traffic ({checked} of {self._min} checked)",
            )
        return Verdict(group, consumer, READY, f"ready ({checked} checked)")

    def _bucket(self) -> _Bucket:
        now = self._clock()
        self._expire(now)
        if not self._buckets or now - self._buckets[-1].start >= BUCKET_S:
            self._buckets.append(_Bucket(now))
        return self._buckets[-1]

    def _expire(self, now: float) -> None:
        while self._buckets and self._buckets[0].start + BUCKET_S <= now - self._window_s:
            self._buckets.popleft()

    def _merged(self, since: float | None = None) -> dict[tuple[str, ...], _Tally]:
        self._expire(self._clock())
        merged: dict[tuple[str, ...], _Tally] = {}
        for bucket in self._buckets:
            if since is not None and bucket.start + BUCKET_S <= since:
                continue
            for key, tally in bucket.tallies.items():
                total = merged.setdefault(key, _Tally())
                total.count += tally.count
                total.example = tally.example or total.example
                total.detail = tally.detail or total.detail
        return merged


def consumer_groups(
    contracts: Iterable[Contract], routes: RouteTable
) -> dict[str, frozenset[RouteGroup]]:
    """Each consumer with the route groups of the routes it reads."""
    # the first spec of a template wins, as in `RouteTable.match` (configured routes come first)
    groups = {spec.template: spec.group for spec in reversed(routes.specs)}
    return {
        contract.name: frozenset(groups[s.route] for s in contract.reads if s.route in groups)
        for contract in contracts
    }


def _detail(found: ContractBreak) -> str:
    where = f" in {found.message!r} messages" if found.message else ""
    return f"expected {found.expected}, got {found.got}{where}"


_COMPARED = (
    Outcome.MATCH,
    Outcome.MISMATCH,
    Outcome.ACCEPTED,
    Outcome.INFLIGHT_SKEW,
    Outcome.NOISE,
)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _count(merged: Mapping[tuple[str, ...], _Tally], key: tuple[str, ...]) -> int:
    tally = merged.get(key)
    return tally.count if tally else 0


def _rows(
    merged: Mapping[tuple[str, ...], _Tally], prefix: tuple[str, ...], names: Iterable[str]
) -> list[dict[str, Any]]:
    """The tallies under a key prefix, most frequent first, with their key parts named."""
    width, columns = len(prefix), tuple(names)
    rows = [
        {
            **dict(zip(columns, key[width:], strict=True)),
            "count": tally.count,
            "example": tally.example,
            "detail": tally.detail,
        }
        for key, tally in merged.items()
        if key[:width] == prefix
    ]
    return sorted(rows, key=lambda row: (-row["count"], tuple(str(row[c]) for c in columns)))
