"""The rollback guard: a rollback trigger flips its route group back to legacy, by itself.

It is the last stage of the comparison pipeline (`shadowproxy.publish`), so it sees every
published comparison (HTTP and websocket) after it was counted and written to the diff log.
A comparison that fires a trigger (`shadowproxy.rollback.triggers`) while the app answers that route
group counts as one hit; SHADOWPROXY_ROLLBACK_AFTER hits within ROLLBACK_WINDOW_S (default 1,
at once, as docs/migration.md §6 asks) flip the group to legacy through the same
persisted flags an operator uses, with a reason naming the trigger, field, route and
comparison. `shadowproxy flags clear` (or DELETE /flags) undoes it once the cause is fixed.

Only the group whose comparison fired is rolled back: the other groups' parity is unaffected,
and `shadowproxy flags rollback` remains the one step for everything.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable

import structlog

from shadowproxy.metrics import ProxyMetrics
from shadowproxy.rollback.flags import Flags
from shadowproxy.rollback.triggers import Hit, fired
from shadowproxy.types import Comparison, RouteGroup, Side

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
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._flags = flags
        self._metrics = metrics
        self._enabled = enabled
        self._after = after
        self._clock = clock
        self._hits: defaultdict[tuple[RouteGroup, str], deque[float]] = defaultdict(deque)

    def publish(self, comparison: Comparison) -> None:
        hit = fired(comparison)
        if hit is not None:
            self._judge(comparison, hit)

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
        now = self._clock()
        trigger = hit.trigger
        hits = self._hits[group, trigger.name]
        hits.append(now)
        while hits and hits[0] <= now - ROLLBACK_WINDOW_S:
            hits.popleft()
        if len(hits) < self._after:
            return "counted"
        reason = (
            f"automatic rollback: {trigger.condition} ({trigger.name}: {hit.field} on "
            f"{comparison.exchange.route}, comparison {comparison.exchange.comparison_id})"
        )
        try:
            self._flags.set_authoritative(group, Side.LEGACY, reason=reason)
        except OSError as exc:
            log.error("automatic_rollback_failed", route_group=group.value, error=str(exc))
            return "failed"
        hits.clear()
        return "rolled_back"
