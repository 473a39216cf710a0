"""The Prometheus side of deploy/: configs and rules pass the real promtool, every alert is
unit-tested firing and quiet, and every query speaks only the fixed metric vocabulary."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

PROMETHEUS_DIR = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
UNIT_TESTS = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))
Rules = Callable[[Path], list[tuple[str, str, str]]]


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def alert_blocks(text: str) -> dict[str, str]:
    """Alert name → the text of its rule (up to the next rule or group)."""
    parts = re.split(r"^(?=\s*- (?:alert|record): |\s*- name: )", text, flags=re.MULTILINE)
    blocks = {}
    for part in parts:
        head = re.match(r"\s*- alert: (\S+)", part)
        if head:
            blocks[head.group(1)] = part
    return blocks


def test_compose_config_passes_promtool(tool: Callable[[str], str]) -> None:
    result = run(tool("promtool"), "check", "config", str(PROMETHEUS_DIR / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 rule files found" in result.stdout


def test_k8s_config_passes_promtool_where_kubernetes_sd_is_built_in(
    tool: Callable[[str], str],
) -> None:
    result = run(tool("promtool"), "check", "config", str(PROMETHEUS_DIR / "prometheus-k8s.yml"))
    if "field kubernetes_sd_configs not found" in result.stdout + result.stderr:
        # Debian's prometheus package is built without Kubernetes service discovery.
        pytest.skip("this promtool build has no kubernetes_sd_configs support")
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_files_pass_promtool(tool: Callable[[str], str]) -> None:
    result = run(tool("promtool"), "check", "rules", *map(str, RULE_FILES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(RULE_FILES)


@pytest.mark.parametrize("unit_test", [pytest.param(p, id=p.stem) for p in UNIT_TESTS])
def test_rule_unit_tests_pass(tool: Callable[[str], str], unit_test: Path) -> None:
    result = run(tool("promtool"), "test", "rules", str(unit_test))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_a_broken_expectation_fails_promtool(tool: Callable[[str], str], tmp_path: Path) -> None:
    """The unit tests can fail: an alert expected on a healthy series is reported missing."""
    broken = tmp_path / "broken_test.yml"
    healthy = (PROMETHEUS_DIR / "tests" / "healthy_test.yml").read_text()
    rules_dir = PROMETHEUS_DIR / "rules"
    broken.write_text(
        healthy.replace("../rules/", f"{rules_dir}/").replace(
            "      - alertname: ShadowproxyDown\n        eval_time: 30m\n        exp_alerts: []",
            "      - alertname: ShadowproxyDown\n        eval_time: 30m\n        exp_alerts:\n"
            "          - exp_labels: {severity: critical}",
        )
    )
    result = run(tool("promtool"), "test", "rules", str(broken))
    assert result.returncode != 0
    assert "ShadowproxyDown" in result.stdout + result.stderr


def test_every_alert_is_unit_tested_firing_and_quiet() -> None:
    alerts = set(alert_blocks((PROMETHEUS_DIR / "rules" / "alerts.yml").read_text()))
    fired: set[str] = set()
    quiet: set[str] = set()
    for path in UNIT_TESTS:
        pairs = re.findall(
            r"- alertname: (\S+)\n\s+eval_time: \S+\n\s+exp_alerts:(.*)", path.read_text()
        )
        for name, rest in pairs:
            (quiet if rest.strip() == "[]" else fired).add(name)
    assert alerts, "no alerts found in alerts.yml"
    assert alerts - fired == set(), "alerts never shown firing"
    assert alerts - quiet == set(), "alerts never shown quiet"
    assert (fired | quiet) - alerts == set(), "unit tests name alerts that do not exist"


def test_every_alert_has_severity_duration_and_runbook() -> None:
    for name, block in alert_blocks((PROMETHEUS_DIR / "rules" / "alerts.yml").read_text()).items():
        assert re.search(r"\n\s+for: \d+m\n", block), f"{name} has no for: duration"
        assert re.search(r"\n\s+severity: (critical|warning)\n", block), f"{name} severity"
        for annotation in ("summary", "description", "runbook"):
            assert re.search(rf"\n\s+{annotation}: ", block), f"{name} lacks {annotation}"


# The migration plan's critical rollback triggers (docs/migration.md §6): Alertmanager sends these
# to the proxy's POST /alertmanager, which rolls their route_group back to legacy.
ROLLBACK_ALERTS = frozenset(
    {
        "ShadowproxyAnalysisResultLost",
        "ShadowproxyTaskStatusLost",
        "ShadowproxySignalReclassified",
        "ShadowproxyWebsocketProgressStalled",
        "ShadowproxyReportArtifactMissing",
        "ShadowproxyClientContractBroken",
    }
)


def test_exactly_the_critical_rollback_triggers_ask_for_a_rollback() -> None:
    blocks = alert_blocks((PROMETHEUS_DIR / "rules" / "alerts.yml").read_text())
    labelled = {name for name, block in blocks.items() if '\n          rollback: "true"\n' in block}
    assert labelled == ROLLBACK_ALERTS
    for name in labelled:
        assert "\n          severity: critical\n" in blocks[name], (
            f"{name}: warnings never roll back"
        )
    assert all("rollback:" not in block for name, block in blocks.items() if name not in labelled)


def test_rollback_alerts_fire_with_the_route_group_the_proxy_rolls_back() -> None:
    """The webhook needs route_group on the alert: every firing expectation of a rollback alert
    in the unit tests carries it beside rollback="true" (promtool checks the labels exactly)."""
    seen: set[str] = set()
    for path in UNIT_TESTS:
        name = ""
        for line in path.read_text().splitlines():
            head = re.match(r"\s*- alertname: (\S+)", line)
            if head:
                name = head.group(1)
            if name in ROLLBACK_ALERTS and "exp_labels:" in line:
                assert 'rollback: "true"' in line, f"{path.name}: {line.strip()}"
                assert re.search(r"route_group: \w+", line), f"{path.name}: {line.strip()}"
                seen.add(name)
    assert seen == ROLLBACK_ALERTS


def test_group_runbooks_name_the_flag_and_the_one_step_rollback() -> None:
    text = (PROMETHEUS_DIR / "rules" / "alerts.yml").read_text()
    runbook = text.split("runbook: &group_rollback >-", 1)[1].split("\n\n", 1)[0]
    assert "/flags/{{ $labels.route_group }}" in runbook
    assert "curl -X POST http://{{ $labels.instance }}/rollback" in runbook
    assert "TA_AUTHORITATIVE_{{ $labels.route_group | toUpper }}=legacy" in runbook
    # the admin API refuses writes without the bearer token (deploy/README.md "Admin token")
    assert runbook.count('-H "Authorization: Bearer\n            $SHADOWPROXY_ADMIN_TOKEN"') == 2
    assert text.count("*group_rollback") >= 10


@pytest.mark.parametrize("rule_file", [pytest.param(p, id=p.stem) for p in RULE_FILES])
def test_rules_select_only_fixed_metrics_and_recordings(
    rule_file: Path,
    rules_in: Rules,
    promql_names: Callable[[str], set[str]],
    allowed_names: frozenset[str],
) -> None:
    entries = rules_in(rule_file)
    assert entries
    for _, name, expr in entries:
        names = promql_names(expr)
        assert names, f"{name}: no series found in {expr!r}"
        assert names <= allowed_names, f"{name} selects unknown series {names - allowed_names}"


def test_every_recording_is_used_by_an_alert_another_recording_or_the_dashboard(
    rules_in: Rules, promql_names: Callable[[str], set[str]]
) -> None:
    recordings = {
        n for kind, n, _ in rules_in(PROMETHEUS_DIR / "rules" / "recording.yml") if kind == "record"
    }
    used: set[str] = set()
    for path in RULE_FILES:
        for _, _, expr in rules_in(path):
            used |= promql_names(expr)
    dashboard = PROMETHEUS_DIR.parent / "grafana" / "dashboards" / "shadowproxy.json"
    for expr in re.findall(r'"expr": "((?:[^"\\]|\\.)*)"', dashboard.read_text()):
        used |= promql_names(expr.replace('\\"', '"'))
    assert recordings - used == set()


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        pytest.param(
            'sum by (route_group) (rate(shadowproxy_requests_total{code=~"5.."}[5m]))',
            {"shadowproxy_requests_total"},
            id="aggregation-with-matchers",
        ),
        pytest.param(
            "(a_total unless a_total offset 5m) and on (job, instance) (up offset 5m)",
            {"a_total", "up"},
            id="set-operators-and-offset",
        ),
        pytest.param(
            "histogram_quantile(0.95, rate(x_bucket[$__rate_interval])) > 1e-3",
            {"x_bucket"},
            id="functions-variables-numbers",
        ),
        pytest.param(
            "label_values(shadowproxy_requests_total, route_group)",
            {"shadowproxy_requests_total"},
            id="grafana-label-values",
        ),
        pytest.param(
            'route_group:shadowproxy_parity:ratio5m{route_group=~"$route_group"} < 0.99',
            {"route_group:shadowproxy_parity:ratio5m"},
            id="recording-rule-name",
        ),
    ],
)
def test_promql_name_extraction(
    promql_names: Callable[[str], set[str]], expr: str, expected: set[str]
) -> None:
    assert promql_names(expr) == expected
