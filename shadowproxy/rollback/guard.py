"""The rollback guard: a rollback trigger flips its route group back to legacy, by itself.

It is the last stage of the comparison pipeline (`shadowproxy.publish`), so it sees every
published comparison (HTTP and websocket) after it was counted and written to the diff log.
A comparison that fires a trigger (`shadowproxy.rollback.triggers`) while the app answers that route
group counts as one hit; SHADOWPROXY_ROLLBACK_AFTER hits within ROLLBACK_WINDOW_S (default 1,
at once, as docs/migration.md §6 asks) flip the group to legacy through the same
persisted flags an operator uses, with a reason naming the trigger, field, route and
comparison. `shadowproxy flags clear` (or DELETE /flags) undoes it once the cause is fixed.

The window triggers (`shadowproxy.rollback.windows`: `app_error_rate`, `parity_below_threshold`)
judge rates instead: every comparison the app answered while the group's flag says app is added
to the group's sliding window, which is judged right after, so the group is rolled back within
one comparison of a threshold being crossed (no SHADOWPROXY_ROLLBACK_AFTER: the window is the
count). The reason states the ratio, threshold, count and window; the evidence is the last few
offending comparisons. A group's window starts over after any rollback of it (and whenever its
flag says legacy), so a later flip back to the app is judged on the app's new answers only.
With SHADOWPROXY_AUTO_ROLLBACK=off a firing window is reported (`action=disabled`) and started
over, so one report stands for one window's worth of evidence, not for every comparison after.

Only the group whose comparison fired is rolled back: the other groups' parity is unaffected,
and `shadowproxy flags rollback` remains the one step for everything.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping

import structlog

from shadowproxy.metrics import ProxyMetrics
from shadowproxy.rollback.flags import Flags
from shadowproxy.rollback.triggers import Hit, fired
from shadowproxy.rollback.windows import (
    DEFAULT_WINDOWS,
    Counts,
    WindowHit,
    Windows,
    WindowSettings,
)
from shadowproxy.types import Comparison, RouteGroup, Side

_COUNT_FIELDS = tuple(Counts.__dataclass_fields__)
ROLLBACK_WINDOW_S = 300.0  # as the deploy alerts' 5-minute increase windows

log = structlog.get_logger(__name__)


class RollbackGuard:
    """Judges each published comparison's triggers; `publish` is its pipeline stage."""

    def __init__(
        self,
        flags: Flags,
        metrics: ProxyMetrics,
        *,
        enabled: bool,
        after: int,
        windows: WindowSettings = DEFAULT_WINDOWS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._flags = flags
        self._metrics = metrics
        self._enabled = enabled
        self._after = after
        self._clock = clock
        self._hits: defaultdict[tuple[RouteGroup, str], deque[float]] = defaultdict(deque)
        self._windows = Windows(windows)

    def share(self, others: Callable[[str], Mapping[str, int]]) -> None:
        """Judge the window triggers on this replica's evidence plus `others(group)`: the other
        replicas' totals (a scale-out's shared store), by `Counts` field name."""

        def theirs(group: RouteGroup) -> Counts:
            totals = others(group.value)
            return Counts(**{name: int(totals.get(name, 0)) for name in _COUNT_FIELDS})

        self._windows.others = theirs

    def totals(self, group: str) -> dict[str, int]:
        """This replica's own window totals for `group`, by `Counts` field name (what it shares)."""
        counts = self._windows.counts(RouteGroup(group), self._clock())
        return {name: getattr(counts, name) for name in _COUNT_FIELDS}

    def publish(self, comparison: Comparison) -> None:
        hit = fired(comparison)
        if hit is not None:
            self._judge(comparison, hit)
        self._watch(comparison)

    # ------------------------------------------------------------------ per-comparison triggers

    def _judge(self, comparison: Comparison, hit: Hit) -> None:
        exchange, trigger = comparison.exchange, hit.trigger
        group = exchange.route_group
        action = self._act(comparison, hit)
        self._metrics.rollback_triggers.labels(group.value, trigger.name, action).inc()
        log.warning(
            "rollback_trigger",
            trigger=trigger.name,
            condition=trigger.condition,
            action=action,
            route_group=group.value,
            route=exchange.route,
            field=hit.field,
            comparison_id=exchange.comparison_id,
            task_id=comparison.task_id,
        )

    def _act(self, comparison: Comparison, hit: Hit) -> str:
        group = comparison.exchange.route_group
        if comparison.exchange.authoritative is not Side.APP:
            return "observed"  # clients got legacy's answer: nothing to roll back
        if self._flags.authoritative(group) is not Side.APP:
            return "observed"  # rolled back already (by the guard or an operator)
        if not self._enabled:
            return "disabled"
        if not self._counted(group, hit.trigger.name):
            return "counted"
        trigger = hit.trigger
        reason = (
            f"automatic rollback: {trigger.condition} ({trigger.name}: {hit.field} on "
            f"{comparison.exchange.route}, comparison {comparison.exchange.comparison_id})"
        )
        action = self._rollback(group, trigger.name, reason, (comparison.exchange.comparison_id,))
        if action == "rolled_back":
            self._hits[group, trigger.name].clear()
        return action

    def _counted(self, group: RouteGroup, trigger: str) -> bool:
        """Count one hit; whether the group has SHADOWPROXY_ROLLBACK_AFTER of them in the window."""
        now = self._clock()
        hits = self._hits[group, trigger]
        hits.append(now)
        while hits and hits[0] <= now - ROLLBACK_WINDOW_S:
            hits.popleft()
        return len(hits) >= self._after

    # ------------------------------------------------------------------ window triggers

    def _watch(self, comparison: Comparison) -> None:
        """Add a comparison the app answered to its group's window; act if the window fires."""
        group = comparison.exchange.route_group
        if self._flags.authoritative(group) is not Side.APP:
            self._windows.reset(group)  # legacy answers: a flip back to the app starts clean
            return
        if comparison.exchange.authoritative is not Side.APP:
            return  # answered by legacy just before a flip to the app: not the app's record
        hit = self._windows.observe(comparison, self._clock())
        if hit is not None:
            self._fire(comparison, hit)

    def _fire(self, comparison: Comparison, hit: WindowHit) -> None:
        trigger, breach = hit.trigger, hit.breach
        if self._enabled:
            action = self._rollback(hit.group, trigger.name, _window_reason(hit), hit.evidence)
        else:
            action = "disabled"
        if action != "failed":  # a failed flip is retried on the next comparison
            self._windows.reset(hit.group)
        self._metrics.rollback_triggers.labels(hit.group.value, trigger.name, action).inc()
        log.warning(
            "rollback_trigger",
            trigger=trigger.name,
            condition=trigger.condition,
            action=action,
            route_group=hit.group.value,
            route=comparison.exchange.route,
            comparison_id=comparison.exchange.comparison_id,
            ratio=round(breach.ratio, 4),
            threshold=breach.threshold,
            count=breach.count,
            total=breach.total,
            window_s=hit.window_s,
            evidence=list(hit.evidence),
        )

    # ------------------------------------------------------------------ the flip

    def _rollback(
        self, group: RouteGroup, trigger: str, reason: str, evidence: tuple[str, ...]
    ) -> str:
        """Flip the group to legacy as `auto:<trigger>`: `rolled_back`, or `failed` (disk)."""
        try:
            self._flags.set_authoritative(
                group, Side.LEGACY, reason=reason, actor=f"auto:{trigger}", evidence=evidence
            )
        except OSError as exc:
            log.error("automatic_rollback_failed", route_group=group.value, error=str(exc))
            return "failed"
        self._windows.reset(group)  # a later flip back to the app is judged on new answers
        return "rolled_back"


def _window_reason(hit: WindowHit) -> str:
    breach = hit.breach
    what = "app answers failed" if breach.trigger.name == "app_error_rate" else "mismatched"
    evidence = ", ".join(hit.evidence) or "none kept"
    return (
        f"automatic rollback: {breach.trigger.condition} ({breach.trigger.name}: "
        f"{breach.count} of {breach.total} {what} in the last {hit.window_s:g} s, "
        f"{breach.ratio:.1%} > {breach.threshold:.1%}; comparisons {evidence})"
    )
