"""The names and labels the dashboard and the rules rely on are the ones the proxy exports.

The deploy files are written against the project's fixed metric list; this drives the real
`shadowproxy.metrics.ProxyMetrics` once through its public methods and reads its exposition back
with the client's own parser, so a renamed metric or label breaks here, not on a dark dashboard.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from shadowproxy.metrics import ProxyMetrics
from shadowproxy.rollback.triggers import CLIENT_CONTRACT_BROKEN
from shadowproxy.types import (
    BreakKind,
    ClientFindings,
    Comparison,
    ContractBreak,
    Difference,
    DiffKind,
    DiffLogStats,
    DriftFinding,
    Exchange,
    ExchangeKind,
    Outcome,
    Role,
    RouteGroup,
    Side,
    SkipReason,
)

ROUTE = "/api/analysis/status/{task_id}"
RULES_DIR = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "rules"
RECORDING = RULES_DIR / "recording.yml"
# Outcomes the engine reaches without judging content: never "compared", never parity.
NOT_COMPARED = frozenset({"shadow_error", "authoritative_error", "both_error", "skipped"})


def _exchange() -> Exchange:
    return Exchange(
        comparison_id="c1",
        request_id="r1",
        kind=ExchangeKind.HTTP,
        route_group=RouteGroup.ANALYSIS,
        route=ROUTE,
        method="GET",
        path="/api/analysis/status/t1",
        authoritative=Side.LEGACY,
        profile="status_document",
    )


@pytest.fixture(scope="module")
def exported() -> dict[str, frozenset[str]]:
    """Sample name → label names, after one call of every public method."""
    registry = CollectorRegistry()
    metrics = ProxyMetrics(registry)
    exchange = _exchange()
    metrics.request(RouteGroup.ANALYSIS, ROUTE, "GET", Side.LEGACY, 200)
    metrics.upstream(Side.APP, Role.SHADOW, RouteGroup.ANALYSIS, 0.2)
    metrics.skipped(RouteGroup.ANALYSIS, SkipReason.QUEUE_FULL)
    metrics.failure("diff")
    metrics.authoritative(RouteGroup.ANALYSIS, Side.LEGACY)
    metrics.shadow_inflight.set(1)
    metrics.comparison(
        Comparison(
            exchange,
            Outcome.MISMATCH,
            differences=(Difference("decision", DiffKind.CHANGED, legacy="BUY", app="SELL"),),
        )
    )
    group = RouteGroup.WS_ANALYSIS.value
    metrics.ws_connections.labels(group, Side.APP.value, "connected").inc()
    metrics.ws_frames.labels(group, Side.APP.value, "received").inc()
    metrics.ws_comparisons.labels(group, Outcome.MATCH.value).inc()
    metrics.ws_shadow_overflow.labels(group).inc()
    metrics.rollback_triggers.labels("analysis", "analysis_result_lost", "rolled_back").inc()
    metrics.watch_difflog(lambda: DiffLogStats(written=3, dropped=1))
    metrics.comparison(
        Comparison(
            exchange,
            Outcome.MATCH,
            client=ClientFindings(
                consumers=("legacy-dashboard",),
                breaks=(
                    ContractBreak(
                        consumer="legacy-dashboard",
                        side=Role.AUTHORITATIVE,
                        field="tasks[].decision",
                        kind=BreakKind.MISSING,
                        expected="string",
                        got=None,
                    ),
                ),
                drift=(
                    DriftFinding(
                        field="tasks[*].error",
                        kind=BreakKind.MISSING,
                        legacy_presence=1.0,
                        expected="string|null",
                        got=None,
                    ),
                ),
            ),
        )
    )
    metrics.watch_cutover(lambda: [("analysis", "legacy-dashboard", "blocked")])
    # the admin control plane: a flip, a rollback posted by Alertmanager, a refused call
    metrics.flags_version.set(2)
    metrics.rollbacks.labels("analysis", "ShadowproxyAnalysisResultLost", "alert").inc()
    metrics.admin_denied.labels("/alertmanager").inc()
    # noise: an A/A sample taken, and the measured rate of one field family
    metrics.noise_sample(RouteGroup.ANALYSIS, "sampled")
    metrics.watch_noise(lambda: [("analysis", "tasks[].updated_at", 0.12)])
    text = generate_latest(registry).decode()
    return {
        sample.name: frozenset(sample.labels)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.mark.parametrize(
    ("sample", "labels"),
    [
        pytest.param(
            "shadowproxy_requests_total",
            {"route_group", "route", "method", "authoritative", "code"},
            id="requests",
        ),
        pytest.param(
            "shadowproxy_comparisons_total", {"route_group", "route", "outcome"}, id="comparisons"
        ),
        pytest.param(
            "shadowproxy_field_mismatches_total", {"route_group", "field"}, id="field-mismatches"
        ),
        pytest.param(
            "shadowproxy_upstream_duration_seconds_bucket",
            {"side", "role", "route_group", "le"},
            id="latency-histogram",
        ),
        pytest.param("shadowproxy_shadow_skipped_total", {"route_group", "reason"}, id="skipped"),
        pytest.param("shadowproxy_shadow_inflight", set(), id="inflight"),
        pytest.param(
            "shadowproxy_authoritative_side", {"route_group", "side"}, id="authoritative-side"
        ),
        pytest.param("shadowproxy_shadow_failures_total", {"stage"}, id="shadow-failures"),
        pytest.param(
            "shadowproxy_ws_connections_total",
            {"route_group", "side", "result"},
            id="ws-connections",
        ),
        pytest.param(
            "shadowproxy_ws_frames_total", {"route_group", "side", "direction"}, id="ws-frames"
        ),
        pytest.param(
            "shadowproxy_ws_comparisons_total", {"route_group", "outcome"}, id="ws-comparisons"
        ),
        pytest.param(
            "shadowproxy_ws_shadow_overflow_total", {"route_group"}, id="ws-shadow-overflow"
        ),
        pytest.param(
            "shadowproxy_rollback_triggers_total",
            {"route_group", "trigger", "action"},
            id="rollback-triggers",
        ),
        pytest.param("shadowproxy_difflog_records_total", {"result"}, id="difflog-records"),
        pytest.param(
            "shadowproxy_consumer_breaks_total",
            {"route_group", "consumer", "side", "field"},
            id="consumer-breaks",
        ),
        pytest.param(
            "shadowproxy_consumer_checks_total", {"route_group", "consumer"}, id="consumer-checks"
        ),
        pytest.param(
            "shadowproxy_drift_findings_total", {"route_group", "kind"}, id="drift-findings"
        ),
        pytest.param(
            "shadowproxy_cutover_verdict",
            {"route_group", "consumer", "verdict"},
            id="cutover-verdict",
        ),
        pytest.param("shadowproxy_flags_version", set(), id="flags-version"),
        pytest.param(
            "shadowproxy_rollbacks_total", {"route_group", "trigger", "mode"}, id="rollbacks"
        ),
        pytest.param("shadowproxy_admin_denied_total", {"endpoint"}, id="admin-denied"),
        pytest.param("shadowproxy_noise_ratio", {"route_group", "field"}, id="noise-ratio"),
        pytest.param(
            "shadowproxy_noise_samples_total", {"route_group", "result"}, id="noise-samples"
        ),
    ],
)
def test_proxy_exports_what_the_deploy_files_query(
    exported: dict[str, frozenset[str]], sample: str, labels: set[str]
) -> None:
    assert sample in exported, f"{sample} not exported; got {sorted(exported)}"
    assert exported[sample] == labels


def test_the_side_label_is_the_role_the_alert_selects() -> None:
    """ShadowproxyClientContractBroken selects side="authoritative" and joins the backend."""
    assert {role.value for role in Role} == {"authoritative", "shadow"}


def test_the_client_contract_trigger_is_the_one_the_alert_names() -> None:
    """alerts.yml and deploy/README.md name the rollback trigger label value."""
    assert CLIENT_CONTRACT_BROKEN.name == "client_contract_broken"


def test_noise_is_a_comparison_outcome_and_never_a_field_mismatch() -> None:
    """recording.yml counts outcome="noise" as compared and not a mismatch; the field-based
    rollback-trigger alerts select shadowproxy_field_mismatches_total, which must never see a
    noise difference (deploy/prometheus/tests/noise_test.yml relies on it)."""
    assert Outcome.NOISE.value == "noise"
    registry = CollectorRegistry()
    metrics = ProxyMetrics(registry)
    noisy = Difference("decision", DiffKind.CHANGED, legacy="BUY", app="SELL", reason="0.2")
    metrics.comparison(Comparison(_exchange(), Outcome.NOISE, noise=(noisy,)))
    samples = [
        sample
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
    ]
    outcomes = {
        s.labels["outcome"]: s.value for s in samples if s.name == "shadowproxy_comparisons_total"
    }
    assert outcomes == {"noise": 1.0}
    assert [s for s in samples if s.name == "shadowproxy_field_mismatches_total"] == []


def test_the_parity_recordings_name_every_compared_outcome(
    rules_in: Callable[[Path], list[tuple[str, str, str]]],
) -> None:
    """compared = every outcome judged on content; parity's numerator = compared but mismatch.
    A new outcome fails here until recording.yml decides which side of the ratio it is on."""
    exprs = {name: expr for kind, name, expr in rules_in(RECORDING) if kind == "record"}
    compared = frozenset(Outcome) - NOT_COMPARED
    assert compared == {"match", "mismatch", "inflight_skew", "accepted", "noise"}

    def outcome_sets(name: str) -> list[frozenset[str]]:
        found = re.findall(r'outcome=~"([^"]+)"', exprs[name])
        assert found, f"{name} selects no outcomes"
        return [frozenset(alternatives.split("|")) for alternatives in found]

    assert outcome_sets("route_group:shadowproxy_compared:increase5m") == [compared]
    numerator = compared - {"mismatch"}
    assert outcome_sets("route_group:shadowproxy_parity:ratio5m") == [numerator]
    assert outcome_sets("route_group:shadowproxy_ws_parity:ratio5m") == [
        numerator,
        compared,
        compared,
    ]
