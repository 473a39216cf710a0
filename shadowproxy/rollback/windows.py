"""Window triggers: parity and the app's error rate over the last minutes, per route group.

A per-comparison trigger (`rollback.triggers`) fires on one loss; these fire on a rate. Each
route group keeps a sliding tally of its recent comparisons in `BUCKETS` time buckets of
`window_s / BUCKETS` seconds (bounded memory whatever the traffic), so a comparison stays in the
window for between `window_s - window_s / BUCKETS` and `window_s` seconds. A tally counts:

- parity: the comparisons compared on key fields (`match`, `accepted`, `inflight_skew`,
  `noise`, `mismatch`) and the `mismatch`es among them (noise is never evidence). Skipped
  comparisons and error outcomes are not in this denominator: an answer that never came is the
  error rate's business, not parity's;
- app errors: the comparisons where the app was asked (it has an observation) and the ones where
  its answer `failed` (a 5xx or a transport error), whichever side was authoritative.

The two evaluators, judged after each comparison is added (so a group is rolled back within one
comparison of the threshold being crossed), the app's error rate first:

- `app_error_rate`: app errors / asked > `max_app_error_ratio`, with at least `min_comparisons`
  asked in the window;
- `parity_below_threshold`: mismatches / compared > `max_mismatch_ratio`, with at least
  `min_comparisons` compared in the window.

Pure: no I/O, the clock is the caller's (`now` in seconds, any monotonic origin). `cooldown_left`
is the admin API's rule for moving a group back to the app after an automatic rollback.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from shadowproxy.types import Comparison, Outcome, RouteGroup

BUCKETS = 60  # buckets per window: a comparison's expiry is exact to window_s / BUCKETS
EVIDENCE = 5  # comparison ids kept per group and kind, newest last, for the audit event

COMPARED = frozenset(
    {Outcome.MATCH, Outcome.ACCEPTED, Outcome.INFLIGHT_SKEW, Outcome.NOISE, Outcome.MISMATCH}
)


@dataclass(frozen=True, slots=True)
class WindowSettings:
    window_s: float = 300.0  # SHADOWPROXY_PARITY_WINDOW_S
    min_comparisons: int = 20  # SHADOWPROXY_PARITY_MIN_COMPARISONS, per ratio's denominator
    max_mismatch_ratio: float = 0.05  # SHADOWPROXY_PARITY_MAX_MISMATCH
    max_app_error_ratio: float = 0.05  # SHADOWPROXY_APP_ERROR_MAX

    def __post_init__(self) -> None:
        if not (math.isfinite(self.window_s) and self.window_s > 0):
            raise ValueError(f"window_s must be a positive number of seconds, got {self.window_s}")
        if self.min_comparisons < 1:
            raise ValueError(f"min_comparisons must be at least 1, got {self.min_comparisons}")
        for name in ("max_mismatch_ratio", "max_app_error_ratio"):
            ratio = getattr(self, name)
            if not 0.0 <= ratio <= 1.0:
                raise ValueError(f"{name} must be a ratio between 0 and 1, got {ratio}")


DEFAULT_WINDOWS = WindowSettings()


@dataclass(frozen=True, slots=True)
class WindowTrigger:
    name: str  # metric label and log key, as the per-comparison triggers' names
    condition: str  # the condition in plain words


APP_ERROR_RATE = WindowTrigger(
    "app_error_rate",
    "the app fails too many answers (5xx or no answer) over the window",
)
PARITY_BELOW_THRESHOLD = WindowTrigger(
    "parity_below_threshold",
    "too many comparisons mismatch over the window",
)


@dataclass(slots=True)
class Counts:
    """What a window (or one bucket, or one comparison) holds."""

    comparisons: int = 0  # every comparison, skipped and errors included
    compared: int = 0  # parity's denominator: compared on key fields
    mismatches: int = 0
    asked: int = 0  # the error rate's denominator: the app was asked
    app_errors: int = 0  # ... and its answer failed

    def add(self, other: Counts, sign: int = 1) -> None:
        self.comparisons += sign * other.comparisons
        self.compared += sign * other.compared
        self.mismatches += sign * other.mismatches
        self.asked += sign * other.asked
        self.app_errors += sign * other.app_errors


def counts_of(comparison: Comparison) -> Counts:
    """One comparison's contribution to its group's window."""
    app = comparison.app
    return Counts(
        comparisons=1,
        compared=int(comparison.outcome in COMPARED),
        mismatches=int(comparison.outcome is Outcome.MISMATCH),
        asked=int(app is not None),
        app_errors=int(app is not None and app.failed),
    )


@dataclass(frozen=True, slots=True)
class Breach:
    """A window trigger's evaluator fired: `count` of `total` is `ratio` > `threshold`."""

    trigger: WindowTrigger
    count: int
    total: int
    threshold: float

    @property
    def ratio(self) -> float:
        return self.count / self.total


def _breach(
    trigger: WindowTrigger, count: int, total: int, threshold: float, minimum: int
) -> Breach | None:
    if total < minimum or count / total <= threshold:
        return None
    return Breach(trigger, count, total, threshold)


def parity_below_threshold(counts: Counts, settings: WindowSettings) -> Breach | None:
    return _breach(
        PARITY_BELOW_THRESHOLD,
        counts.mismatches,
        counts.compared,
        settings.max_mismatch_ratio,
        settings.min_comparisons,
    )


def app_error_rate(counts: Counts, settings: WindowSettings) -> Breach | None:
    return _breach(
        APP_ERROR_RATE,
        counts.app_errors,
        counts.asked,
        settings.max_app_error_ratio,
        settings.min_comparisons,
    )


EVALUATORS = (app_error_rate, parity_below_threshold)


@dataclass(frozen=True, slots=True)
class WindowHit:
    """A window trigger fired for a group: the breach, the window and its evidence."""

    group: RouteGroup
    breach: Breach
    window_s: float
    comparisons: int  # every comparison in the window
    evidence: tuple[str, ...]  # the last mismatching (or app-failing) comparison ids, <= EVIDENCE

    @property
    def trigger(self) -> WindowTrigger:
        return self.breach.trigger


@dataclass(slots=True)
class _Bucket:
    index: int
    counts: Counts = field(default_factory=Counts)


class Tally:
    """One group's sliding window: buckets (oldest first), their sum, the latest evidence."""

    def __init__(self, window_s: float) -> None:
        self._width = window_s / BUCKETS
        self._buckets: deque[_Bucket] = deque()
        self._total = Counts()
        self._evidence: dict[str, deque[tuple[int, str]]] = {
            kind: deque(maxlen=EVIDENCE)
            for kind in (APP_ERROR_RATE.name, PARITY_BELOW_THRESHOLD.name)
        }

    def __len__(self) -> int:
        """The buckets held: at most BUCKETS, whatever the traffic."""
        return len(self._buckets)

    def add(self, comparison: Comparison, now: float) -> None:
        index = self._expire(now)
        if not self._buckets or self._buckets[-1].index < index:
            self._buckets.append(_Bucket(index))
        one = counts_of(comparison)  # a clock that steps back adds to the newest bucket
        self._buckets[-1].counts.add(one)
        self._total.add(one)
        kept = self._buckets[-1].index
        comparison_id = comparison.exchange.comparison_id
        if one.app_errors:
            self._evidence[APP_ERROR_RATE.name].append((kept, comparison_id))
        if one.mismatches:
            self._evidence[PARITY_BELOW_THRESHOLD.name].append((kept, comparison_id))

    def counts(self, now: float) -> Counts:
        self._expire(now)
        total = Counts()
        total.add(self._total)
        return total

    def evidence(self, trigger: WindowTrigger) -> tuple[str, ...]:
        """The kept ids of `trigger`'s kind still in the window, oldest first."""
        oldest = self._buckets[0].index if self._buckets else math.inf
        return tuple(cid for index, cid in self._evidence[trigger.name] if index >= oldest)

    def _expire(self, now: float) -> int:
        """Drop the buckets that left the window; the index of `now`'s bucket."""
        index = math.floor(now / self._width)
        while self._buckets and self._buckets[0].index <= index - BUCKETS:
            self._total.add(self._buckets.popleft().counts, -1)
        return index


class Windows:
    """Every route group's tally, and the window triggers judged on it."""

    def __init__(self, settings: WindowSettings = DEFAULT_WINDOWS) -> None:
        self.settings = settings
        self._tallies: dict[RouteGroup, Tally] = {}
        # other replicas' totals per group (a scale-out's shared store), judged with this one's
        self.others: Callable[[RouteGroup], Counts] | None = None

    def observe(self, comparison: Comparison, now: float) -> WindowHit | None:
        """Add a comparison to its group's window, then judge the window: what fires, if any."""
        group = comparison.exchange.route_group
        tally = self._tallies.get(group)
        if tally is None:
            tally = self._tallies[group] = Tally(self.settings.window_s)
        tally.add(comparison, now)
        counts = tally.counts(now)
        if self.others is not None:
            counts.add(self.others(group))
        for evaluate in EVALUATORS:
            breach = evaluate(counts, self.settings)
            if breach is not None:
                evidence = tally.evidence(breach.trigger)
                return WindowHit(
                    group, breach, self.settings.window_s, counts.comparisons, evidence
                )
        return None

    def counts(self, group: RouteGroup, now: float) -> Counts:
        tally = self._tallies.get(group)
        return tally.counts(now) if tally is not None else Counts()

    def reset(self, group: RouteGroup) -> None:
        """Forget the group's window (after a rollback: a later flip back starts clean)."""
        self._tallies.pop(group, None)


def cooldown_left(flags_rolled_back_at: float | None, now: float, cooldown_s: float) -> float:
    """Seconds before a group rolled back automatically at `flags_rolled_back_at` (epoch s,
    `Flags.rolled_back_at`) may be moved back to the app; 0 when none are left or it never was.

    A clock that stepped back never makes it more than `cooldown_s`.
    """
    if flags_rolled_back_at is None:
        return 0.0
    left = flags_rolled_back_at + cooldown_s - now
    return max(0.0, min(cooldown_s, left))
