"""The bounded summaries behind `shadowproxy diffs report`: memory fixed however many records.

- `Tallies`: counts per key (signature, field, consumer break) with the first and last time seen
  and the first comparison id, and a detail: what the first occurrence said, or (`latest=True`,
  a noisy field's measured rate) the latest. At most `2 * capacity` keys are held: past that the
  rarest are dropped down to `capacity` and their occurrences counted in `folded`, so the
  frequent keys keep exact counts and the page can say how much of the long tail it no longer
  shows.
- `LatencyHistogram`: latencies in fixed logarithmic bins (5% wide, 0.01 ms to about 3 h);
  percentiles read back within 2.5% of the exact value, and histograms add up (per time bucket,
  then per group), which a reservoir sample cannot.
- `TimeBuckets`: one summary per time bucket, the width chosen from the data's span as records
  arrive. It starts at one second; when the span no longer fits `MAX_BUCKETS` buckets it moves to
  the next width of `WIDTHS` (each a multiple of the one before) and merges the buckets it had,
  so no record is ever re-read: a chart has at most 120 buckets, and once widened at least 17.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Generic, Protocol, Self, TypeVar

K = TypeVar("K", bound=Hashable)

# ---------------------------------------------------------------- counts per key


@dataclass(slots=True)
class Tally:
    count: int
    first: float | None  # epoch seconds, None for a record without a readable `ts`
    last: float | None
    example: str  # the first comparison id seen with the key
    detail: str | None = None  # what the first occurrence said (e.g. "expected string, got int")


class Tallies(Generic[K]):
    def __init__(self, capacity: int, *, latest: bool = False) -> None:
        self.capacity = capacity
        self.latest = latest  # the detail is the latest occurrence's (by `ts`), not the first's
        self.entries: dict[K, Tally] = {}
        self.folded = 0  # occurrences of keys dropped as the rarest

    def add(self, key: K, ts: float | None, example: str, detail: str | None = None) -> None:
        entry = self.entries.get(key)
        if entry is None:
            if len(self.entries) >= 2 * self.capacity:
                self._prune()
            self.entries[key] = Tally(1, ts, ts, example, detail)
            return
        entry.count += 1
        later = entry.last is None or (ts is not None and ts >= entry.last)  # undated: not later
        if self.latest and detail is not None and later:
            entry.detail = detail
        if ts is not None:
            if entry.first is None or ts < entry.first:
                entry.first = ts
            if entry.last is None or ts > entry.last:
                entry.last = ts

    def top(self, n: int) -> list[tuple[K, Tally]]:
        """The `n` most frequent keys, most frequent first (ties: first seen first)."""
        ranked = sorted(
            self.entries.items(), key=lambda item: (-item[1].count, item[1].first or 0.0)
        )
        return ranked[:n]

    def _prune(self) -> None:
        kept = self.top(self.capacity)
        self.folded += sum(t.count for t in self.entries.values()) - sum(t.count for _, t in kept)
        self.entries = dict(kept)


# ---------------------------------------------------------------- latency percentiles

_LOW_MS = 0.01
_RATIO = 1.05
_LOG_LOW, _PER_LOG = math.log(_LOW_MS), 1 / math.log(_RATIO)
_TOP_BIN = int((math.log(1e7) - _LOG_LOW) * _PER_LOG)  # 10 000 s and beyond share the last bin
_ZERO = -1  # a side that failed at once: 0 ms is a value of its own


def latency_bin(ms: float) -> int:
    if ms <= _LOW_MS:
        return _ZERO if ms <= 0 else 0
    return min(int((math.log(ms) - _LOG_LOW) * _PER_LOG), _TOP_BIN)


def bin_value(index: int) -> float:
    """The value a bin stands for: the geometric middle of its edges."""
    return 0.0 if index == _ZERO else _LOW_MS * _RATIO ** (index + 0.5)


class LatencyHistogram:
    __slots__ = ("bins",)

    def __init__(self) -> None:
        self.bins: dict[int, int] = {}

    def add(self, index: int) -> None:
        """One latency, by its bin (`latency_bin`): computed once for all the histograms."""
        self.bins[index] = self.bins.get(index, 0) + 1

    @property
    def count(self) -> int:
        return sum(self.bins.values())

    def merge(self, other: LatencyHistogram) -> None:
        for index, count in other.bins.items():
            self.bins[index] = self.bins.get(index, 0) + count

    def quantile(self, q: float) -> float | None:
        """The nearest-rank `q` quantile (0 < q <= 1), as its bin's value; None when empty."""
        count = self.count
        if not count:
            return None
        rank = max(1, math.ceil(q * count))
        seen = 0
        for index in sorted(self.bins):  # the last bin is reached at the latest: rank <= count
            seen += self.bins[index]
            if seen >= rank:
                break
        return bin_value(index)


# ---------------------------------------------------------------- time buckets

WIDTHS = (1, 5, 10, 30, 60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400)
MAX_BUCKETS = 120


class Mergeable(Protocol):
    def merge(self, other: Self) -> None: ...


B = TypeVar("B", bound=Mergeable)


class TimeBuckets(Generic[B]):
    def __init__(self, make: Callable[[], B]) -> None:
        self._make = make
        self.width = WIDTHS[0]
        self.buckets: dict[int, B] = {}
        self._lo = self._hi = 0

    def at(self, ts: float) -> B:
        """The bucket of `ts` (epoch seconds), made (and the width widened) when needed."""
        index = int(ts // self.width)
        bucket = self.buckets.get(index)
        if bucket is not None:
            return bucket
        if self.buckets:
            while max(self._hi, index) - min(self._lo, index) >= MAX_BUCKETS:
                self._widen()
                index = int(ts // self.width)
            bucket = self.buckets.get(index)
            if bucket is not None:
                return bucket
            self._lo, self._hi = min(self._lo, index), max(self._hi, index)
        else:
            self._lo = self._hi = index
        bucket = self.buckets[index] = self._make()
        return bucket

    def series(self) -> Iterator[tuple[float, B | None]]:
        """Every bucket from the first to the last, by start time; None where nothing fell."""
        if self.buckets:
            for index in range(self._lo, self._hi + 1):
                yield float(index * self.width), self.buckets.get(index)

    def _widen(self) -> None:
        old = self.width
        self.width = next((w for w in WIDTHS if w > old), old * 2)
        merged: dict[int, B] = {}
        for index, bucket in self.buckets.items():
            target = index * old // self.width
            into = merged.get(target)
            if into is None:
                merged[target] = bucket
            else:
                into.merge(bucket)
        self.buckets = merged
        self._lo, self._hi = self._lo * old // self.width, self._hi * old // self.width
