"""What `shadowproxy diffs report` shows, aggregated in one pass over diff-log records.

`aggregate(records)` folds an iterable of record dicts into a `ReportData` whose memory is
bounded whatever the number of records (`report_bins`): per route group the outcome counts and
each side's latency histogram; the outcome counts per replica (`summary.Replicas`); per time
bucket the records, mismatches and noise records of each group and each side's latency; tallies
of the differing field families, of the mismatch signatures (route + set of differing field
families + legacy/app status pair, as `shadowproxy diffs` groups them), of the noisy fields
(route + field family, with the latest rate measured: the `noise` entries of noise records and
of mismatches), of the consumer-contract breaks and wire drift (the records' `client`); the
client findings of the last hour for a readiness verdict; the latest mismatches.

Noise is compared (judged on the answers' content) and never a mismatch: it is in parity's
denominator, not its numerator.

What the records can and cannot tell:
- Matches are written only with `SHADOWPROXY_LOG_MATCHES=1`, so without match records the
  parity figures are those of the recorded comparisons, not of the traffic.
- Client findings of quiet outcomes are written as one exemplar per route and finding a minute,
  so break counts are counts of records (a lower bound), not of comparisons.
- Cutover readiness (`shadowproxy cutover`) judges every comparison the proxy made over its
  window. From records it can be told that a consumer is `blocked` (the app broke it in the last
  hour of records: a break of the app's answer is written every time when the app answered, and
  once a minute per route when it was the shadow), and `ready` or `not_enough_traffic` only when
  match records are there to count the comparisons checked. The migration checkpoints need the
  live proxy and are not judged here.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from shadowproxy.difflog.report_bins import LatencyHistogram, Tallies, TimeBuckets, latency_bin
from shadowproxy.difflog.summary import Replicas
from shadowproxy.types import Outcome, field_family

SIDES = ("legacy", "app")
ERRORS = frozenset({Outcome.SHADOW_ERROR, Outcome.AUTHORITATIVE_ERROR, Outcome.BOTH_ERROR})
COLUMNS = ("match", "mismatch", "accepted", "noise", "inflight_skew", "errors", "skipped")
COMPARED = ("match", "mismatch", "accepted", "noise", "inflight_skew")  # judged on the content
OUTCOMES = frozenset(o.value for o in Outcome)
MAX_GROUPS = 32  # the proxy has six; a stranger's folder cannot grow the page without bound
OTHER = "(other)"
CAPACITY = 2000  # keys per tally kept exactly (signatures, fields, breaks, drift)
EXAMPLES = 6
# The live readiness defaults (SHADOWPROXY_CUTOVER_WINDOW_S, _MIN_COMPARISONS) and its words
# (shadowproxy.cutover.readiness, a sibling layer this one does not import).
WINDOW_S = 3600
MIN_CHECKED = 20
READY, BLOCKED, NOT_ENOUGH = "ready", "blocked", "not_enough_traffic"
_MAX_KEYS_PER_MINUTE = 4096
_MATCH, _MISMATCH, _NOISE = Outcome.MATCH.value, Outcome.MISMATCH.value, Outcome.NOISE.value
# the same few hundred fields differ again and again: their families are remembered
_family = lru_cache(maxsize=1 << 14)(field_family)
_NO_FINDINGS: tuple[tuple[str, ...], tuple[tuple[str, str], ...]] = ((), ())

Signature = tuple[str, tuple[str, ...], int | None, int | None]  # route, fields, statuses
BreakKey = tuple[str, str, str, str, str, str]  # consumer, group, backend, field, kind, standing


@dataclass(slots=True)
class Slot:
    """One time bucket: [records, mismatches, noise] per route group, each side's latency."""

    counts: dict[str, list[int]] = field(default_factory=dict)
    latency: tuple[LatencyHistogram, LatencyHistogram] = field(
        default_factory=lambda: (LatencyHistogram(), LatencyHistogram())
    )

    def merge(self, other: Slot) -> None:
        for group, counts in other.counts.items():
            ours = self.counts.setdefault(group, [0, 0, 0])
            for i, n in enumerate(counts):
                ours[i] += n
        for histogram, theirs in zip(self.latency, other.latency, strict=True):
            histogram.merge(theirs)


@dataclass(slots=True)
class GroupStats:
    outcomes: Counter[str] = field(default_factory=Counter)
    authoritative: Counter[str] = field(default_factory=Counter)
    latency: tuple[LatencyHistogram, LatencyHistogram] = field(
        default_factory=lambda: (LatencyHistogram(), LatencyHistogram())
    )

    def column(self, name: str) -> int:
        if name == "errors":
            return sum(self.outcomes[outcome] for outcome in ERRORS)
        return self.outcomes[name]

    @property
    def records(self) -> int:
        return sum(self.outcomes.values())

    @property
    def compared(self) -> int:
        return sum(self.outcomes[name] for name in COMPARED)

    @property
    def parity(self) -> float | None:
        """The share of compared records that did not mismatch; None when none was compared."""
        compared = self.compared
        return 1 - self.outcomes["mismatch"] / compared if compared else None


@dataclass(frozen=True, slots=True)
class Verdict:
    group: str
    consumer: str
    checked: int  # records of the window with this consumer's findings
    breaks: tuple[tuple[str, int], ...]  # counted breaks of the app's answer, per field
    example: str | None  # the latest comparison id with such a break
    verdict: str | None  # READY, BLOCKED, NOT_ENOUGH; None when the records cannot tell


@dataclass(slots=True)
class _Minute:
    counts: Counter[tuple[str, ...]] = field(default_factory=Counter)
    examples: dict[tuple[str, ...], str] = field(default_factory=dict)


class ReadinessWindow:
    """The last `WINDOW_S` of records in one-minute buckets: matches, consumers checked and the
    counted breaks of the app's answers per (group, consumer, field)."""

    def __init__(self) -> None:
        self.minutes: dict[int, _Minute] = {}
        self.newest: int | None = None  # the latest minute seen
        self._minute: int | None = None  # the minute of the previous record, and its bucket
        self._bucket: _Minute | None = None

    def add(
        self,
        ts: float,
        group: str,
        outcome: str,
        checked: Iterable[str],
        breaks: Iterable[tuple[str, str]],
        example: str,
    ) -> None:
        minute = int(ts // 60)
        bucket = self._bucket if minute == self._minute else self._move(minute)
        if bucket is None or len(bucket.counts) >= _MAX_KEYS_PER_MINUTE:
            return
        if outcome == _MATCH:
            bucket.counts[("match",)] += 1
        for consumer in checked:
            bucket.counts[("checked", group, consumer)] += 1
        for consumer, path in breaks:
            key = ("break", group, consumer, path)
            bucket.counts[key] += 1
            bucket.examples[key] = example

    def _move(self, minute: int) -> _Minute | None:
        """The bucket of a minute other than the previous record's; None when it is older than
        the window. A later minute expires the buckets that fall out of the window."""
        if self.newest is None or minute > self.newest:
            self.newest = minute
            for old in [m for m in self.minutes if m <= minute - WINDOW_S // 60]:
                del self.minutes[old]
        elif minute <= self.newest - WINDOW_S // 60:
            return None
        bucket = self.minutes.get(minute)
        if bucket is None:
            bucket = self.minutes[minute] = _Minute()
        self._minute, self._bucket = minute, bucket
        return bucket

    @property
    def span(self) -> tuple[float, float] | None:
        """The window's start and end (epoch seconds): the last hour up to the latest record."""
        if self.newest is None:
            return None
        return float((self.newest + 1) * 60 - WINDOW_S), float((self.newest + 1) * 60)

    def verdicts(self) -> list[Verdict]:
        counts: Counter[tuple[str, ...]] = Counter()
        examples: dict[tuple[str, ...], str] = {}
        for minute in sorted(self.minutes):
            counts.update(self.minutes[minute].counts)
            examples.update(self.minutes[minute].examples)
        judged = [key for key in counts if key[0] == "checked"]
        rows = []
        for _, group, consumer in sorted(judged):
            breaks = sorted(
                ((key[3], n) for key, n in counts.items() if key[:3] == ("break", group, consumer)),
                key=lambda row: (-row[1], row[0]),
            )
            latest = [examples[("break", group, consumer, path)] for path, _ in breaks]
            checked = counts[("checked", group, consumer)]
            if breaks:
                verdict: str | None = BLOCKED
            elif counts[("match",)]:
                verdict = READY if checked >= MIN_CHECKED else NOT_ENOUGH
            else:
                verdict = None
            rows.append(
                Verdict(group, consumer, checked, tuple(breaks), next(iter(latest), None), verdict)
            )
        return rows


class ReportData:
    def __init__(self) -> None:
        self.records = 0
        self.undated = 0  # records without a readable `ts`: counted, in no time bucket
        self.first: float | None = None
        self.last: float | None = None
        self.groups: dict[str, GroupStats] = {}
        self.replicas = Replicas()
        self.timeline: TimeBuckets[Slot] = TimeBuckets(Slot)
        self.fields: Tallies[tuple[str, str, str]] = Tallies(CAPACITY)  # group, family, kind
        self.signatures: Tallies[Signature] = Tallies(CAPACITY)
        self.noise: Tallies[tuple[str, str, str]] = Tallies(CAPACITY, latest=True)  # group, route,
        # field family; the detail: the rate measured in the latest record
        self.breaks: Tallies[BreakKey] = Tallies(CAPACITY)
        self.drift: Tallies[tuple[str, str, str, str]] = Tallies(CAPACITY)  # group, route, ...
        self.with_client = 0  # records that carry client findings
        self.readiness = ReadinessWindow()
        self._latest: list[tuple[float, int, Mapping[str, Any]]] = []  # a heap of mismatches

    def add(self, record: Mapping[str, Any]) -> None:
        self.records += 1
        ts = _epoch(record.get("ts"))
        group = self._group(str(record.get("route_group")))
        outcome = str(record.get("outcome"))
        example = str(record.get("comparison_id"))
        stats = self.groups[group]
        stats.outcomes[outcome if outcome in OUTCOMES else OTHER] += 1
        self.replicas.add(record)
        side = record.get("authoritative")
        if side in SIDES:
            stats.authoritative[str(side)] += 1
        bins = (_latency_bin(record.get("legacy")), _latency_bin(record.get("app")))
        _add_bins(stats.latency, bins)
        checked, app_breaks = self._client(record, ts, group, example)
        if ts is None:
            self.undated += 1
        else:
            if self.first is None or ts < self.first:
                self.first = ts
            if self.last is None or ts > self.last:
                self.last = ts
            slot = self.timeline.at(ts)
            counts = slot.counts.get(group) or slot.counts.setdefault(group, [0, 0, 0])
            counts[0] += 1
            if outcome == _MISMATCH:
                counts[1] += 1
            elif outcome == _NOISE:
                counts[2] += 1
            _add_bins(slot.latency, bins)
            self.readiness.add(ts, group, outcome, checked, app_breaks, example)
        if outcome == _MISMATCH:
            self._mismatch(record, ts, group, example)
        if record.get("noise"):
            self._noise(record, ts, group, example)

    def latest(self) -> list[Mapping[str, Any]]:
        """The latest mismatch records (by `ts`), newest first."""
        return [record for _, _, record in sorted(self._latest, reverse=True)]

    def _group(self, name: str) -> str:
        if name not in self.groups:
            if len(self.groups) >= MAX_GROUPS:
                name = OTHER
            self.groups.setdefault(name, GroupStats())
        return name

    def _mismatch(
        self, record: Mapping[str, Any], ts: float | None, group: str, example: str
    ) -> None:
        found = {
            (_family(str(d.get("field"))), str(d.get("kind")))
            for d in dicts(record.get("differences"))
        }
        for family, kind in found:  # once per record: the records that differ on it
            self.fields.add((group, family, kind), ts, example)
        signature = (
            str(record.get("route")),
            tuple(sorted({family for family, _ in found})),
            _status(record.get("legacy")),
            _status(record.get("app")),
        )
        self.signatures.add(signature, ts, example)
        entry = (float("-inf") if ts is None else ts, self.records, record)
        if len(self._latest) < EXAMPLES:
            heapq.heappush(self._latest, entry)
        else:
            heapq.heappushpop(self._latest, entry)

    def _noise(self, record: Mapping[str, Any], ts: float | None, group: str, example: str) -> None:
        """The noisy field families of a noise record or a mismatch, once per record each."""
        route, found = str(record.get("route")), dict[str, str | None]()
        for entry in dicts(record.get("noise")):
            name, reason = entry.get("field"), entry.get("reason")
            if isinstance(name, str):  # the reader checks `differences` only: read defensively
                found.setdefault(_family(name), reason if isinstance(reason, str) else None)
        for family, reason in found.items():
            self.noise.add((group, route, family), ts, example, reason)

    def _client(
        self, record: Mapping[str, Any], ts: float | None, group: str, example: str
    ) -> tuple[Sequence[str], Sequence[tuple[str, str]]]:
        """Tally the record's consumer breaks and drift; return the consumers that checked it
        and the counted breaks of the app's answer (consumer, field), for readiness."""
        client = record.get("client")
        if not isinstance(client, dict):
            return _NO_FINDINGS
        self.with_client += 1
        authoritative = record.get("authoritative")
        app_role = "authoritative" if authoritative == "app" else "shadow"
        checked: list[str] = []
        app_breaks: list[tuple[str, str]] = []
        consumers = client.get("consumer")
        for name, verdicts in (consumers if isinstance(consumers, dict) else {}).items():
            checked.append(str(name))
            breaks = verdicts.get("breaks") if isinstance(verdicts, dict) else None
            for found in dicts(breaks):
                backend = "app" if found.get("side") == app_role else "legacy"
                path, kind = str(found.get("field")), str(found.get("kind"))
                standing = "shared" if found.get("shared") else "counted"
                if found.get("known") is not None:
                    standing = "known"
                detail = f"expected {found.get('expected')}, got {found.get('got')}"
                if found.get("message"):
                    detail += f" in {found.get('message')!r} messages"
                self.breaks.add(
                    (str(name), group, backend, path, kind, standing), ts, example, detail
                )
                if backend == "app" and standing == "counted":
                    app_breaks.append((str(name), path))
        for drift in dicts(client.get("drift")):
            key = (group, str(record.get("route")), str(drift.get("field")), str(drift.get("kind")))
            presence = drift.get("legacy_presence")
            share = f"legacy has it in {presence:.0%}" if isinstance(presence, float) else None
            self.drift.add(key, ts, example, share)
        return checked, app_breaks


def aggregate(records: Iterable[Mapping[str, Any]]) -> ReportData:
    data = ReportData()
    for record in records:
        data.add(record)
    return data


def _epoch(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _latency_bin(side: object) -> int | None:
    value = side.get("latency_ms") if type(side) is dict else None
    return latency_bin(value) if type(value) is float or type(value) is int else None


def _add_bins(
    histograms: tuple[LatencyHistogram, LatencyHistogram], bins: tuple[int | None, int | None]
) -> None:
    legacy, app = bins
    if legacy is not None:
        histograms[0].add(legacy)
    if app is not None:
        histograms[1].add(app)


def _status(side: object) -> int | None:
    status = side.get("status") if isinstance(side, dict) else None
    return status if isinstance(status, int) and not isinstance(status, bool) else None


def dicts(value: object) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
