"""Noise: what the legacy side differs on with itself, and the differences it explains.

Two answers of the old system to one read can differ by themselves: a timestamp, an order, a
racy value. The proxy measures that per route template and field family from *A/A samples*:
pairs of legacy answers to one read (the primary legacy and a secondary instance of it), or,
without a secondary, two authoritative reads of one terminal resource (`http/noise.py` takes
them). It also counts how often the same field differs between legacy and the app (*L/A*).

Only a value both answers have counts (kinds `changed`, `type_changed`, `reordered`): a member
or a field one answer lacks is state, not noise — the secondary never receives writes, so the
tasks it lacks say nothing about nondeterminism, and a missing member is never excused.

A field family is classified, over the sliding window, from the totals (this replica's and,
with a shared store, the other replicas'):

- `unmeasured`: fewer than `min_count` A/A samples (or L/A comparisons) of its route;
- `quiet`: its A/A rate is below `threshold`;
- `noisy`: at or above it, and the L/A rate is not higher than the noise explains;
- `signal`: noisy, but legacy and the app differ on it clearly more often than legacy differs
  with itself (Diffy's rule: more than 20 % relative and 1 % absolute above the noise rate,
  plus two standard errors of the two rates) — a real difference hidden in a noisy field.

`split` moves the legacy-vs-app differences on `noisy` fields out of a comparison's mismatches,
each carrying its measured rate as its reason; every other difference stays what it was. The
classification is recomputed at most once a second, so a comparison never pays for it.
"""

from __future__ import annotations

import math
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

from shadowproxy.types import Difference, DiffKind, field_family

# the kinds that are a value two answers disagree on; missing/extra members are state
NOISE_KINDS = frozenset({DiffKind.CHANGED, DiffKind.TYPE_CHANGED, DiffKind.REORDERED})
RELATIVE = 0.2  # how far above the noise rate legacy-vs-app may be before it is signal ...
ABSOLUTE = 0.01  # ... and at least this much, beyond two standard errors
BUCKETS = 30  # the window slides in steps of window_s / BUCKETS
MAX_KEYS = 10_000  # counted (route, field family) pairs: a family beyond it is not counted
CLASSIFY_EVERY_S = 1.0

AA, LA = "aa", "la"  # the two kinds of samples, as the totals' keys spell them
_SEP = "\t"  # totals keys: "<kind>\t<route>\t<family>", the family empty for the route's count


class NoiseState(StrEnum):
    UNMEASURED = "unmeasured"
    QUIET = "quiet"
    NOISY = "noisy"
    SIGNAL = "signal"


@dataclass(frozen=True, slots=True)
class NoiseConfig:
    threshold: float = 0.05  # an A/A rate at or above it makes a field noisy
    min_count: int = 20  # A/A samples (and L/A comparisons) a route needs before any verdict
    window_s: float = 3600.0


@dataclass(frozen=True, slots=True)
class FieldNoise:
    """One field family of one route, as measured over the window."""

    route: str
    field: str
    state: NoiseState
    aa_samples: int
    aa_differed: int
    la_compared: int
    la_differed: int

    @property
    def rate(self) -> float:
        """The noise rate: the share of A/A samples of the route that differ on the field."""
        return self.aa_differed / self.aa_samples if self.aa_samples else 0.0

    @property
    def la_rate(self) -> float:
        return self.la_differed / self.la_compared if self.la_compared else 0.0

    @property
    def reason(self) -> str:
        return (
            f"noise: legacy differs with itself on {self.rate:.0%} of {self.aa_samples} reads"
            f" (legacy vs app {self.la_rate:.0%} of {self.la_compared})"
        )


@dataclass(frozen=True, slots=True)
class NoiseSplit:
    remaining: tuple[Difference, ...]
    noise: tuple[Difference, ...]


_NOTHING = NoiseSplit((), ())


def key(kind: str, route: str, family: str = "") -> str:
    return f"{kind}{_SEP}{route}{_SEP}{family}"


def _parts(name: str) -> tuple[str, str, str] | None:
    parts = name.split(_SEP)
    if len(parts) != 3 or parts[0] not in (AA, LA):
        return None
    return parts[0], parts[1], parts[2]


class _Window:
    """Counts over a sliding window of `BUCKETS` steps; `totals` is kept as buckets come and go."""

    def __init__(self, window_s: float, clock: Callable[[], float]) -> None:
        self._step = window_s / BUCKETS
        self._clock = clock
        self._buckets: deque[tuple[float, Counter[str]]] = deque()
        self.totals: Counter[str] = Counter()

    def add(self, names: Iterable[str]) -> None:
        now = self._clock()
        if not self._buckets or now >= self._buckets[-1][0] + self._step:
            self._buckets.append((now, Counter()))
        self.expire(now)
        bucket = self._buckets[-1][1]
        for name in names:
            bucket[name] += 1
            self.totals[name] += 1

    def expire(self, now: float) -> None:
        oldest = now - self._step * BUCKETS
        while self._buckets and self._buckets[0][0] + self._step <= oldest:
            _, gone = self._buckets.popleft()
            self.totals.subtract(gone)
            for name in gone:
                if self.totals[name] <= 0:
                    del self.totals[name]


class NoiseTable:
    def __init__(
        self,
        config: NoiseConfig = NoiseConfig(),
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._clock = clock
        self._window = _Window(config.window_s, clock)
        self._others: Callable[[], Mapping[str, int]] = dict  # the other replicas' totals
        self._states: dict[tuple[str, str], FieldNoise] = {}
        self._noisy: frozenset[tuple[str, str]] = frozenset()
        self._classified_at = -math.inf

    # ------------------------------------------------------------------ samples

    def sampled(self, route: str, differences: Iterable[Difference]) -> None:
        """One A/A sample of `route`: two legacy answers to one read and how they differ."""
        self._count(AA, route, differences)

    def compared(self, route: str, differences: Iterable[Difference]) -> None:
        """One legacy-vs-app comparison of two 2xx answers on `route`, before any verdict."""
        self._count(LA, route, differences)

    def _count(self, kind: str, route: str, differences: Iterable[Difference]) -> None:
        families = {field_family(d.field) for d in differences if d.kind in NOISE_KINDS}
        names = [key(kind, route), *(key(kind, route, f) for f in families)]
        if len(self._window.totals) >= MAX_KEYS:  # bodies keyed by data: keep what is known
            names = [name for name in names if name in self._window.totals] or names[:1]
        self._window.add(names)

    # ------------------------------------------------------------------ verdicts

    def split(self, route: str, differences: tuple[Difference, ...]) -> NoiseSplit:
        """The differences left as mismatches, and those on `noisy` fields (with their rate)."""
        if not differences:
            return _NOTHING
        self._classify_if_due()
        if not self._noisy:
            return NoiseSplit(differences, ())
        remaining: list[Difference] = []
        noise: list[Difference] = []
        for difference in differences:
            family = field_family(difference.field)
            if difference.kind in NOISE_KINDS and (route, family) in self._noisy:
                noise.append(replace(difference, reason=self._states[(route, family)].reason))
            else:
                remaining.append(difference)
        return NoiseSplit(tuple(remaining), tuple(noise))

    def fields(self) -> tuple[FieldNoise, ...]:
        """Every field family with an A/A difference in the window, by route and field."""
        self._classify()
        return tuple(self._states[name] for name in sorted(self._states))

    def totals(self) -> dict[str, int]:
        """This replica's window totals, for the other replicas (a shared store)."""
        self._window.expire(self._clock())
        return dict(self._window.totals)

    def share(self, others: Callable[[], Mapping[str, int]]) -> None:
        """Judge on the other replicas' totals too (a shared store; empty while it is down)."""
        self._others = others

    def _classify_if_due(self) -> None:
        if self._clock() - self._classified_at >= CLASSIFY_EVERY_S:
            self._classify()

    def _classify(self) -> None:
        now = self._clock()
        self._window.expire(now)
        totals: Counter[str] = Counter(self._window.totals)
        totals.update(self._others())
        states: dict[tuple[str, str], FieldNoise] = {}
        for name, differed in totals.items():
            parts = _parts(name)
            if parts is None or parts[0] != AA or not parts[2]:
                continue
            _, route, family = parts
            states[(route, family)] = self._state(
                route,
                family,
                aa=(totals[key(AA, route)], differed),
                la=(totals[key(LA, route)], totals[key(LA, route, family)]),
            )
        self._states = states
        self._noisy = frozenset(n for n, s in states.items() if s.state is NoiseState.NOISY)
        self._classified_at = now

    def _state(
        self, route: str, family: str, *, aa: tuple[int, int], la: tuple[int, int]
    ) -> FieldNoise:
        found = FieldNoise(route, family, NoiseState.UNMEASURED, aa[0], aa[1], la[0], la[1])
        minimum = self.config.min_count
        if found.aa_samples < minimum or found.la_compared < minimum:
            return found
        if found.rate < self.config.threshold:
            return replace(found, state=NoiseState.QUIET)
        state = NoiseState.SIGNAL if _exceeds(found) else NoiseState.NOISY
        return replace(found, state=state)


def _exceeds(found: FieldNoise) -> bool:
    """Whether legacy-vs-app differs on the field clearly more often than legacy with itself."""
    pooled = (found.aa_differed + found.la_differed) / (found.aa_samples + found.la_compared)
    error = math.sqrt(pooled * (1 - pooled) * (1 / found.aa_samples + 1 / found.la_compared))
    margin = max(RELATIVE * found.rate, ABSOLUTE) + 2 * error
    return found.la_rate - found.rate > margin
