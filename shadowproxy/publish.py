"""The one comparison pipeline, and the one handler for every shadow-path failure.

Every comparison — HTTP or websocket, matched, mismatched or skipped — is published here and
nowhere else, through one ordered chain: metrics, then the diff log, then the rollback guard.
The order is deliberate: the counters are the cheapest and the most relied on (alerts, parity
panels), the diff log is what a maintainer reads, and the guard acts last, on a comparison that
is already counted and written, so an automatic rollback always has its evidence on disk.
Last, when given, the watches of a replay waiting for a request's verdict (difflog/watch.py).

Each stage is isolated: one that raises is reported through `failure()` (logged with the stage's
name, counted as `shadowproxy_shadow_failures_total{stage="publish"}`) and the next stage still
runs. Nothing published here can reach the client (github/scientist: the control always wins).

A skip is one event, counted once in `shadowproxy_shadow_skipped_total`: `skip()` publishes a
`skipped` comparison through the stages, except for skips decided before any shadow call
(`UNSHADOWED`: shadowing off, sampled out, at capacity, a write the policy keeps off the shadow),
which are not comparisons: they are counted and nothing else, so the hot path stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import structlog

from shadowproxy.difflog.watch import Watches
from shadowproxy.metrics import ProxyMetrics
from shadowproxy.types import UNSHADOWED, Comparison, DiffSink, Exchange, Outcome, SkipReason

log = structlog.get_logger(__name__)

PUBLISH_STAGE = "publish"  # the failure-counter label of every pipeline stage


@dataclass(frozen=True, slots=True)
class Stage:
    """One step of the pipeline: a name for the logs and the callable that takes a comparison."""

    name: str
    publish: Callable[[Comparison], None]


class Pipeline:
    """Publishes comparisons through its stages, in order; `failure()` is the one handler."""

    def __init__(
        self, metrics: ProxyMetrics, sink: DiffSink, *extra: Stage, watches: Watches | None = None
    ) -> None:
        self._metrics = metrics
        self._watches = watches
        self._stages: Sequence[Stage] = (
            Stage("metrics", metrics.comparison),
            Stage("difflog", sink.publish),
            *extra,
            *(() if watches is None else (Stage("watch", watches.publish),)),
        )

    def publish(self, comparison: Comparison) -> None:
        for stage in self._stages:
            try:
                stage.publish(comparison)
            except Exception as exc:  # one stage's bug must not cost the others their input
                self.failure(PUBLISH_STAGE, exc, comparison.exchange, publish_stage=stage.name)

    def skip(self, exchange: Exchange, reason: SkipReason) -> None:
        """Why an exchange is not compared; counted once, whatever the reason."""
        if reason in UNSHADOWED:
            self._metrics.skipped(exchange.route_group, reason)  # no shadow call: no comparison
            if self._watches:  # but a replay waiting for this request learns why
                self._watches.publish(skipped(exchange, reason))
            return
        self.publish(skipped(exchange, reason))

    def failure(
        self,
        stage: str,
        exc: BaseException,
        exchange: Exchange | None = None,
        **context: str,
    ) -> None:
        """Log an event with key-values (never headers, bodies or raw paths) and count it."""
        self._metrics.failure(stage)
        if exchange is not None:
            context |= {
                "route": exchange.route,
                "route_group": exchange.route_group.value,
                "request_id": exchange.request_id,
                "comparison_id": exchange.comparison_id,
            }
            if exchange.trace is not None:
                context["trace_id"] = exchange.trace.trace_id
        log.warning(
            "shadow_failure",
            stage=stage,
            error_type=type(exc).__name__,
            error=str(exc)[:200],
            **context,
        )


def skipped(exchange: Exchange, reason: SkipReason) -> Comparison:
    return Comparison(exchange=exchange, outcome=Outcome.SKIPPED, reason=reason.value)
