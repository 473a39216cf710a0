"""Prometheus instruments of the proxy, all on an injected registry.

Labels are route groups, route templates, sides, outcomes and reasons: closed sets. The two
labels that could grow from traffic, the HTTP method and the differing field path, are folded
onto bounded sets here, so no caller can blow up cardinality by accident.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from shadowproxy.build import build_info
from shadowproxy.types import (
    ClientFindings,
    Comparison,
    DiffLogStats,
    ExchangeKind,
    Outcome,
    Role,
    RouteGroup,
    Side,
    SkipReason,
    field_family,
)

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
MAX_FIELD_LABELS = 200
OTHER = "other"
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class ProxyMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        # no `_created` series: nobody queries them, and they are a third of the exposition
        # (prometheus-client's switch is process-wide; every registry here wants it off)
        disable_created_metrics()  # type: ignore[no-untyped-call]
        # label children of the per-request families, by their labels (closed sets: bounded)
        self._request_children: dict[tuple[RouteGroup, str, str, Side, int], Counter] = {}
        self._upstream_children: dict[tuple[Side, Role, RouteGroup], Histogram] = {}
        Info("shadowproxy_build", "The running build.", registry=registry).info(build_info())
        ProcessCollector(registry=registry)  # process_cpu_seconds_total, RSS, open fds…
        PlatformCollector(registry=registry)  # python_info
        self.ws_open = Gauge(
            "shadowproxy_ws_connections_open",
            "Client websockets open now (relayed to the authoritative side).",
            ["route_group"],
            registry=registry,
        )
        self.correlation_entries = Gauge(
            "shadowproxy_correlation_entries",
            "Pairs of task ids (legacy's and the app's) the correlation map holds now.",
            registry=registry,
        )
        self.requests = Counter(
            "shadowproxy_requests_total",
            "Client requests answered, by route and the authoritative side that answered.",
            ["route_group", "route", "method", "authoritative", "code"],
            registry=registry,
        )
        self.comparisons = Counter(
            "shadowproxy_comparisons_total",
            "Comparisons of the two sides' answers, by outcome.",
            ["route_group", "route", "outcome"],
            registry=registry,
        )
        self.field_mismatches = Counter(
            "shadowproxy_field_mismatches_total",
            "Key fields that differed between the sides (list indexes folded to []).",
            ["route_group", "field"],
            registry=registry,
        )
        self.upstream_duration = Histogram(
            "shadowproxy_upstream_duration_seconds",
            "Time to a complete answer from one side, by its role in the exchange.",
            ["side", "role", "route_group"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.shadow_skipped = Counter(
            "shadowproxy_shadow_skipped_total",
            "Requests whose shadow was not compared, by reason.",
            ["route_group", "reason"],
            registry=registry,
        )
        self.shadow_inflight = Gauge(
            "shadowproxy_shadow_inflight",
            "Shadow exchanges running in the background now.",
            registry=registry,
        )
        self.authoritative_side = Gauge(
            "shadowproxy_authoritative_side",
            "1 for the side currently authoritative for the route group, 0 for the other.",
            ["route_group", "side"],
            registry=registry,
        )
        self.shadow_failures = Counter(
            "shadowproxy_shadow_failures_total",
            "Internal failures on the shadow path (never seen by the client), by stage.",
            ["stage"],
            registry=registry,
        )
        self.ws_connections = Counter(
            "shadowproxy_ws_connections_total",
            "Websocket connections to a side, by how they went: connected, refused (the upgrade "
            "got an HTTP answer), failed (unreachable or timed out), client_too_slow (closed "
            "1008) or frame_too_big (closed 1009).",
            ["route_group", "side", "result"],
            registry=registry,
        )
        self.ws_frames = Counter(
            "shadowproxy_ws_frames_total",
            "Websocket data frames relayed, by side and direction (sent to the side, received).",
            ["route_group", "side", "direction"],
            registry=registry,
        )
        self.ws_comparisons = Counter(
            "shadowproxy_ws_comparisons_total",
            "Websocket comparisons published, by outcome.",
            ["route_group", "outcome"],
            registry=registry,
        )
        self.ws_shadow_overflow = Counter(
            "shadowproxy_ws_shadow_overflow_total",
            "Websocket frames dropped from a full comparison buffer (never blocks the client).",
            ["route_group"],
            registry=registry,
        )
        self.rollback_triggers = Counter(
            "shadowproxy_rollback_triggers_total",
            "Comparisons that fired a rollback trigger, by what the guard did: rolled_back (the "
            "group now answers from legacy), counted (below SHADOWPROXY_ROLLBACK_AFTER), "
            "observed (legacy already answers), disabled (SHADOWPROXY_AUTO_ROLLBACK=off) or "
            "failed (the flag could not be saved).",
            ["route_group", "trigger", "action"],
            registry=registry,
        )
        self.rollbacks = Counter(
            "shadowproxy_rollbacks_total",
            "Route groups put back on legacy, by what asked for it: the trigger that fired "
            "(auto), the alert (alert), or an operator (manual: trigger operator, phase or clear).",
            ["route_group", "trigger", "mode"],
            registry=registry,
        )
        self.flags_version = Gauge(
            "shadowproxy_flags_version",
            "The flags' version: every flip, phase move, rollback and clear increments it.",
            registry=registry,
        )
        self.store_up = Gauge(
            "shadowproxy_store_up",
            "1 while the shared store (SHADOWPROXY_STORE=redis) answers, 0 while it does not; "
            "absent with the local store.",
            registry=registry,
        )
        self.store_pending = Gauge(
            "shadowproxy_store_pending",
            "Writes this replica keeps for the shared store until it answers: flag changes "
            "(flags), audit events (events) and correlation pairs (pairs).",
            ["kind"],
            registry=registry,
        )
        self.connections_closed = Counter(
            "shadowproxy_client_connections_closed_total",
            "Client connections the proxy closed itself: header_timeout (no complete request "
            "head within SHADOWPROXY_HEADER_TIMEOUT_S), max_connections (over "
            "SHADOWPROXY_MAX_CLIENT_CONNECTIONS open at once), request_target_too_long (414) or "
            "header_fields_too_large (431).",
            ["reason"],
            registry=registry,
        )
        self.admin_denied = Counter(
            "shadowproxy_admin_denied_total",
            "Admin API calls refused for a missing or wrong bearer token (401).",
            ["endpoint"],
            registry=registry,
        )
        self.consumer_breaks = Counter(
            "shadowproxy_consumer_breaks_total",
            "Answers that break a configured consumer contract (a path the dashboard reads is "
            "missing, mistyped or carries a value it does not know), by the role of the side that "
            "broke it: authoritative (the client got it) or shadow (it would after a flip). "
            "Breaks both sides share, and documented frontend defects, are not counted.",
            ["route_group", "consumer", "side", "field"],
            registry=registry,
        )
        self.consumer_checks = Counter(
            "shadowproxy_consumer_checks_total",
            "Comparisons whose answers were checked against a consumer contract.",
            ["route_group", "consumer"],
            registry=registry,
        )
        self.drift_findings = Counter(
            "shadowproxy_drift_findings_total",
            "App answers lacking a path (or changing its type) that legacy's answers carry in "
            "at least SHADOWPROXY_DRIFT_PRESENCE of the answers learned.",
            ["route_group", "kind"],
            registry=registry,
        )
        self.noise_samples = Counter(
            "shadowproxy_noise_samples_total",
            "A/A samples for the noise measurement: pairs of legacy answers to one read (the "
            "secondary's and the primary's) or two authoritative reads of one resource. "
            "result: sampled (compared), in_flight (a document still running: not noise), "
            "unusable (a side failed, the statuses differ, or a body does not parse).",
            ["route_group", "result"],
            registry=registry,
        )
        self._registry = registry
        self._fields: set[str] = set()
        self._children: dict[tuple[object, ...], Counter] = {}

    def request(self, group: RouteGroup, route: str, method: str, side: Side, code: int) -> None:
        """Counted on every client request: the label child is looked up once per label set
        (prometheus-client's `labels()` validates and locks on every call)."""
        label = method if method in KNOWN_METHODS else OTHER  # a client's method is unbounded
        key = (group, route, label, side, code)
        child = self._request_children.get(key)
        if child is None:
            child = self.requests.labels(group.value, route, label, side.value, str(code))
            self._request_children[key] = child
        child.inc()

    def upstream(self, side: Side, role: Role, group: RouteGroup, seconds: float) -> None:
        key = (side, role, group)
        child = self._upstream_children.get(key)
        if child is None:
            child = self.upstream_duration.labels(side.value, role.value, group.value)
            self._upstream_children[key] = child
        child.observe(seconds)

    def failure(self, stage: str) -> None:
        self.shadow_failures.labels(stage).inc()

    def rolled_back(self, group: RouteGroup, trigger: str, mode: str) -> None:
        self.rollbacks.labels(group.value, trigger, mode).inc()

    def authoritative(self, group: RouteGroup, side: Side) -> None:
        self.authoritative_side.labels(group.value, side.value).set(1)
        self.authoritative_side.labels(group.value, side.other.value).set(0)

    def comparison(self, comparison: Comparison) -> None:
        """The pipeline's first stage: every published comparison is counted here, once."""
        exchange = comparison.exchange
        group = exchange.route_group.value
        if comparison.outcome is Outcome.SKIPPED and comparison.reason in _SKIP_VALUES:
            self.shadow_skipped.labels(group, comparison.reason).inc()
        self.comparisons.labels(group, exchange.route, comparison.outcome.value).inc()
        if exchange.kind is ExchangeKind.WS:
            self.ws_comparisons.labels(group, comparison.outcome.value).inc()
        for difference in comparison.differences:
            self.field_mismatches.labels(group, self._field_label(difference.field)).inc()
        if comparison.client is not None:
            self._client(group, comparison.client)

    def _client(self, group: str, client: ClientFindings) -> None:
        """Labels: configured consumers and their contract paths only (bounded by the config).

        Every comparison of a status route carries several breaks before a cutover, so the
        children are looked up once and kept (`labels()` costs microseconds per call).
        """
        for consumer in client.consumers:
            self._inc(self.consumer_checks, group, consumer)
        for found in client.breaks:
            if found.counts:
                self._inc(self.consumer_breaks, group, found.consumer, found.side, found.field)
        for drift in client.drift:
            self._inc(self.drift_findings, group, drift.kind)

    def _inc(self, counter: Counter, *labels: str) -> None:
        """`counter.labels(*labels).inc()`, with the child kept after its first lookup."""
        key = (counter, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = counter.labels(*labels)
        child.inc()

    def skipped(self, group: RouteGroup, reason: SkipReason) -> None:
        """A skip decided before any shadow call: counted, but not a comparison."""
        self.shadow_skipped.labels(group.value, reason.value).inc()

    def watch_difflog(self, stats: Callable[[], DiffLogStats]) -> None:
        """Export the diff sink's own counts as `shadowproxy_difflog_records_total{result}`.

        Read at each scrape: the writer thread keeps plain integers and never touches Prometheus.
        """
        self._registry.register(_DiffLogCollector(stats))

    def watch_known(self, counts: Callable[[], tuple[int, int]]) -> None:
        """Export `shadowproxy_known_differences{state="active"|"expired"}` at each scrape."""
        self._registry.register(_KnownCollector(counts))

    def noise_sample(self, group: RouteGroup, result: str) -> None:
        self._inc(self.noise_samples, group.value, result)

    def watch_noise(self, rows: Callable[[], Iterable[tuple[str, str, float]]]) -> None:
        """Export `shadowproxy_noise_ratio{route_group, field}` at each scrape.

        `rows` yields (route group, field family, A/A rate); a group's routes that share a field
        family are reported by the highest rate (`GET /noise` has them per route), and at most
        `MAX_FIELD_LABELS` families, the noisiest.
        """
        self._registry.register(_NoiseCollector(rows))

    def watch_cutover(self, verdicts: Callable[[], Iterable[tuple[str, str, str]]]) -> None:
        """Export `shadowproxy_cutover_verdict{route_group, consumer, verdict}` at each scrape.

        `verdicts` yields (route group, consumer, verdict) for every pair readiness judges.
        """
        self._registry.register(_VerdictCollector(verdicts))

    def _field_label(self, field: str) -> str:
        label = field_family(field)
        if label in self._fields:
            return label
        if len(self._fields) >= MAX_FIELD_LABELS:
            return OTHER
        self._fields.add(label)
        return label


_SKIP_VALUES = frozenset(reason.value for reason in SkipReason)


class _DiffLogCollector(Collector):
    def __init__(self, stats: Callable[[], DiffLogStats]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[CounterMetricFamily]:
        stats = self._stats()
        family = CounterMetricFamily(
            "shadowproxy_difflog_records",
            "Diff-log records by fate: written (to every output), dropped (the writer's queue was "
            "full, or the log was closing) or failed (the record could not be built, or the disk "
            "or stdout refused it: full, unwritable, a file-size limit, a closed pipe; the "
            "diff_log_write_failed log line says why). Any dropped or failed record is a "
            "comparison missing from the diff log.",
            labels=["result"],
        )
        family.add_metric(["written"], stats.written)
        family.add_metric(["dropped"], stats.dropped)
        family.add_metric(["failed"], stats.failed + stats.write_errors)
        yield family


VERDICTS = ("ready", "blocked", "not_enough_traffic")


class _VerdictCollector(Collector):
    def __init__(self, verdicts: Callable[[], Iterable[tuple[str, str, str]]]) -> None:
        self._verdicts = verdicts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "shadowproxy_cutover_verdict",
            "Cutover readiness per route group and consumer: 1 for the current verdict (ready: "
            "the app's answers satisfy the consumer and the migration checkpoints hold; blocked; "
            "not_enough_traffic), 0 for the others. `shadowproxy cutover` explains it.",
            labels=["route_group", "consumer", "verdict"],
        )
        for group, consumer, verdict in self._verdicts():
            for name in VERDICTS:
                family.add_metric([group, consumer, name], 1.0 if name == verdict else 0.0)
        yield family


class _NoiseCollector(Collector):
    def __init__(self, rows: Callable[[], Iterable[tuple[str, str, float]]]) -> None:
        self._rows = rows

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "shadowproxy_noise_ratio",
            "Share of A/A samples (legacy against itself) that differ on a field, over "
            "SHADOWPROXY_NOISE_WINDOW_S; at SHADOWPROXY_NOISE_THRESHOLD and above the field is "
            "noisy and its legacy-vs-app differences count as outcome noise.",
            labels=["route_group", "field"],
        )
        highest: dict[tuple[str, str], float] = {}
        for group, field, rate in self._rows():
            highest[(group, field)] = max(rate, highest.get((group, field), 0.0))
        kept = sorted(highest.items(), key=lambda row: -row[1])[:MAX_FIELD_LABELS]
        for (group, field), rate in sorted(kept):  # the noisiest, bounded like field labels
            family.add_metric([group, field], rate)
        yield family


class _KnownCollector(Collector):
    def __init__(self, counts: Callable[[], tuple[int, int]]) -> None:
        self._counts = counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        active, expired = self._counts()
        family = GaugeMetricFamily(
            "shadowproxy_known_differences",
            "Configured known differences: active ones accept their difference, expired ones "
            "(past their `expires` day) no longer do, and it shows up as a mismatch again.",
            labels=["state"],
        )
        family.add_metric(["active"], active)
        family.add_metric(["expired"], expired)
        yield family
