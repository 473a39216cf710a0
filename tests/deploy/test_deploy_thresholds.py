"""deploy/thresholds.toml is the one place the alert thresholds live: each alert it lists compares
exactly that series against exactly that number, every other alert has no number to tune, and
every dashboard panel that draws a listed series shows the same numbers as its thresholds,
coloured by the alerts' severities. Changing a number in one of the three and not the others
fails here (the last test shows it for each of them)."""

from __future__ import annotations

import copy
import json
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from .test_deploy_grafana import DASHBOARD, all_panels
from .test_deploy_prometheus import alert_blocks

DEPLOY_DIR = Path(__file__).resolve().parents[2] / "deploy"
THRESHOLDS = DEPLOY_DIR / "thresholds.toml"
ALERTS = DEPLOY_DIR / "prometheus" / "rules" / "alerts.yml"
SEVERITY_COLOURS = {"critical": "red", "warning": "orange"}
HEALTHY = "green"
# An alert comparing against these tests presence (any count, a failed scrape, the side gauge).
NOT_A_THRESHOLD = frozenset({0.0, 1.0})
_COMPARISON = re.compile(r"(?:[<>]=?|[!=]=)\s*(?:bool\s+)?(-?[0-9][0-9.]*(?:e-?[0-9]+)?)")
_PERCENT = re.compile(r"(?<![\w.])([0-9]+(?:\.[0-9]+)?) ?%")
PromqlNames = Callable[[str], set[str]]


@dataclass(frozen=True)
class Threshold:
    alert: str
    series: str
    op: str
    value: float


def load_thresholds(text: str) -> dict[str, Threshold]:
    thresholds = {}
    for alert, table in tomllib.loads(text).items():
        assert set(table) == {"series", "op", "value"}, f"{alert}: keys {sorted(table)}"
        assert table["op"] in ("<", ">"), f"{alert}: op {table['op']!r}"
        assert isinstance(table["value"], float), f"{alert}: value {table['value']!r}"
        thresholds[alert] = Threshold(alert, table["series"], table["op"], table["value"])
    return thresholds


@dataclass(frozen=True)
class Alert:
    expr: str
    severity: str
    texts: str  # summary and description, as written (comments left out)


@pytest.fixture
def alerts(rules_in: Callable[[Path], list[tuple[str, str, str]]]) -> dict[str, Alert]:
    exprs = {name: expr for kind, name, expr in rules_in(ALERTS) if kind == "alert"}
    parsed = {}
    for name, block in alert_blocks(ALERTS.read_text()).items():
        (severity,) = re.findall(r"\n\s+severity: (\w+)\n", block)
        code = "\n".join(line for line in block.splitlines() if not line.lstrip().startswith("#"))
        texts = re.findall(r"\n\s+(?:summary|description): ((?:.|\n)*?)(?=\n\s+runbook:)", code)
        parsed[name] = Alert(exprs[name], severity, " ".join(texts))
    return parsed


@pytest.fixture
def thresholds() -> dict[str, Threshold]:
    return load_thresholds(THRESHOLDS.read_text())


@pytest.fixture
def dashboard() -> dict[str, Any]:
    value = json.loads(DASHBOARD.read_text())
    assert isinstance(value, dict)
    return value


def rule_disagreements(
    thresholds: Mapping[str, Threshold], alerts: Mapping[str, Alert]
) -> list[str]:
    problems = []
    for threshold in thresholds.values():
        if threshold.alert not in alerts:
            problems.append(f"{threshold.alert}: listed in thresholds.toml, not in alerts.yml")
            continue
        expr = alerts[threshold.alert].expr
        match = re.fullmatch(r"(\S+) ([<>]) (\S+)", expr)
        if match is None or (match[1], match[2], float(match[3])) != (
            threshold.series,
            threshold.op,
            threshold.value,
        ):
            wanted = f"{threshold.series} {threshold.op} {threshold.value:g}"
            problems.append(f"{threshold.alert}: expr {expr!r}, thresholds.toml says {wanted!r}")
    for name, alert in alerts.items():
        numbers = {float(number) for number in _COMPARISON.findall(alert.expr)}
        if name not in thresholds and numbers - NOT_A_THRESHOLD:
            problems.append(f"{name} compares against {sorted(numbers)}: list it in the file")
    return problems


def expected_steps(listed: list[Threshold], severity: Mapping[str, str]) -> list[dict[str, Any]]:
    """Grafana's steps for the alerts on one series: a step's colour holds from its value up."""
    (op,) = {threshold.op for threshold in listed}
    ordered = sorted(listed, key=lambda threshold: threshold.value)
    colours = [SEVERITY_COLOURS[severity[threshold.alert]] for threshold in ordered]
    if op == ">":  # healthy below the lowest threshold, each one's colour from its value up
        base, above = HEALTHY, colours
    else:  # the most severe colour below the lowest threshold, healthy above the highest
        base, above = colours[0], [*colours[1:], HEALTHY]
    steps: list[dict[str, Any]] = [{"color": base, "value": None}]
    steps += [{"color": c, "value": t.value} for c, t in zip(above, ordered, strict=True)]
    return steps


def panel_disagreements(
    thresholds: Mapping[str, Threshold],
    severity: Mapping[str, str],
    dashboard: dict[str, Any],
    promql_names: PromqlNames,
) -> list[str]:
    by_series: dict[str, list[Threshold]] = {}
    for threshold in thresholds.values():
        by_series.setdefault(threshold.series, []).append(threshold)
    problems, drawn = [], set()
    for panel in all_panels(dashboard["panels"]):
        names = {n for target in panel.get("targets", []) for n in promql_names(target["expr"])}
        series = sorted(names & by_series.keys())
        if not series:
            continue
        where = f"panel {panel['id']} {panel['title']!r}"
        if len(series) > 1:
            problems.append(f"{where} draws {series}: one thresholded series per panel")
            continue
        listed = by_series[series[0]]
        drawn.add(series[0])
        defaults = panel["fieldConfig"]["defaults"]
        steps = defaults.get("thresholds", {}).get("steps")
        if steps != expected_steps(listed, severity):
            alerts = [threshold.alert for threshold in listed]
            problems.append(f"{where}: thresholds {steps}, not those of {alerts}")
        style = defaults.get("custom", {}).get("thresholdsStyle", {}).get("mode", "off")
        if panel["type"] == "timeseries" and style == "off":
            problems.append(f"{where}: the thresholds are not drawn (thresholdsStyle off)")
        quoted = {float(n) for n in _PERCENT.findall(panel.get("description", ""))}
        if quoted - {round(t.value * 100, 6) for t in listed}:
            problems.append(f"{where}: its description quotes {sorted(quoted)} %")
    problems += [f"no panel draws {series}" for series in sorted(by_series.keys() - drawn)]
    return problems


def test_the_thresholds_file_lists_known_alerts_on_their_own_series(
    thresholds: dict[str, Threshold], promql_names: PromqlNames, allowed_names: frozenset[str]
) -> None:
    assert len(thresholds) >= 5
    for threshold in thresholds.values():
        assert promql_names(threshold.series) == {threshold.series}
        assert threshold.series in allowed_names, f"{threshold.alert}: unknown series"


def test_alert_rules_compare_exactly_the_listed_thresholds(
    thresholds: dict[str, Threshold], alerts: dict[str, Alert]
) -> None:
    assert rule_disagreements(thresholds, alerts) == []


def test_dashboard_panels_show_exactly_the_alert_thresholds(
    thresholds: dict[str, Threshold],
    alerts: dict[str, Alert],
    dashboard: dict[str, Any],
    promql_names: PromqlNames,
) -> None:
    severity = {name: alert.severity for name, alert in alerts.items()}
    assert panel_disagreements(thresholds, severity, dashboard, promql_names) == []


def test_alert_texts_quote_their_own_threshold(
    thresholds: dict[str, Threshold], alerts: dict[str, Alert]
) -> None:
    """A summary or description that says "< 99%" says the number the expression compares."""
    for threshold in thresholds.values():
        quoted = {float(number) for number in _PERCENT.findall(alerts[threshold.alert].texts)}
        assert quoted <= {round(threshold.value * 100, 6)}, threshold.alert


def test_parity_colours_step_from_critical_through_warning_to_healthy(
    thresholds: dict[str, Threshold], alerts: dict[str, Alert]
) -> None:
    """The expected steps themselves, for the series two alerts share."""
    series = "route_group:shadowproxy_parity:ratio5m"
    parity = [threshold for threshold in thresholds.values() if threshold.series == series]
    severity = {name: alert.severity for name, alert in alerts.items()}
    assert expected_steps(parity, severity) == [
        {"color": "red", "value": None},
        {"color": "orange", "value": 0.9},
        {"color": "green", "value": 0.99},
    ]


@pytest.mark.parametrize("where", ["thresholds-file", "alert-rule", "panel"])
def test_a_number_changed_in_one_place_only_is_a_disagreement(
    where: str,
    thresholds: dict[str, Threshold],
    alerts: dict[str, Alert],
    dashboard: dict[str, Any],
    promql_names: PromqlNames,
) -> None:
    name = "ShadowproxyParityLow"
    if where == "thresholds-file":
        thresholds = {**thresholds, name: replace(thresholds[name], value=0.98)}
    elif where == "alert-rule":
        changed = alerts[name].expr.replace("0.99", "0.98")
        alerts = {**alerts, name: replace(alerts[name], expr=changed)}
    else:
        dashboard = copy.deepcopy(dashboard)
        (panel,) = [p for p in all_panels(dashboard["panels"]) if p["id"] == 6]
        panel["fieldConfig"]["defaults"]["thresholds"]["steps"][-1]["value"] = 0.98
    severity = {alert: parsed.severity for alert, parsed in alerts.items()}
    problems = rule_disagreements(thresholds, alerts)
    problems += panel_disagreements(thresholds, severity, dashboard, promql_names)
    assert problems, f"a changed {where} went unnoticed"
