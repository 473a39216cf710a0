"""The Grafana dashboard and its provisioning: valid JSON, unique panel ids, no datasource uid (the
`datasource` variable instead), every query filtered by the `instance` variable and selecting only
the fixed metrics and our recordings, a unit on every panel, and the panels an on-call engineer
needs. (The panels' thresholds: test_deploy_thresholds.py.)"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from shadowproxy.diff.noise import NoiseConfig

GRAFANA_DIR = Path(__file__).resolve().parents[2] / "deploy" / "grafana"
DASHBOARD = GRAFANA_DIR / "dashboards" / "shadowproxy.json"
LoadYaml = Callable[[Path], list[object]]
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
INSTANCE = 'instance=~"$instance"'
# Grafana unit ids the panels use; a typo would silently show raw numbers.
UNITS = frozenset({"percentunit", "s", "reqps", "ops", "short", "none", "bytes"})


def all_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    for panel in panels:
        yield panel
        yield from all_panels(panel.get("panels", []))


@pytest.fixture
def dashboard() -> dict[str, Any]:
    value = json.loads(DASHBOARD.read_text())
    assert isinstance(value, dict)
    return value


def variable(dashboard: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [v for v in dashboard["templating"]["list"] if v["name"] == name]
    assert isinstance(found, dict)
    return found


def queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, PromQL) for every panel target, every query variable and every annotation."""
    for panel in all_panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            yield f"panel {panel['id']} {panel['title']!r}", target["expr"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            yield f"variable {variable['name']}", variable["query"]["query"]
    for annotation in dashboard["annotations"]["list"]:
        yield f"annotation {annotation['name']!r}", annotation["expr"]


def test_panel_ids_are_unique(dashboard: dict[str, Any]) -> None:
    ids = [panel["id"] for panel in all_panels(dashboard["panels"])]
    assert len(ids) > 10
    assert len(ids) == len(set(ids))


def test_every_datasource_reference_is_the_datasource_variable(dashboard: dict[str, Any]) -> None:
    """No fixed uid anywhere: the dashboard imports into any Grafana with a Prometheus."""
    refs = []
    for panel in all_panels(dashboard["panels"]):
        if panel["type"] != "row":
            refs.append(panel["datasource"])
        refs.extend(target["datasource"] for target in panel.get("targets", []))
    refs.extend(v["datasource"] for v in dashboard["templating"]["list"] if "datasource" in v)
    refs.extend(annotation["datasource"] for annotation in dashboard["annotations"]["list"])
    assert len(refs) > 20
    assert all(ref == DATASOURCE for ref in refs)
    source = variable(dashboard, "datasource")
    assert (source["type"], source["query"]) == ("datasource", "prometheus")
    assert source["current"] == {}, "a pinned current value would name a uid again"


def test_the_provisioned_datasource_is_the_variables_default(
    dashboard: dict[str, Any], load_yaml: LoadYaml
) -> None:
    """With `current` empty the variable starts on Grafana's default datasource: in compose, the
    provisioned one. Its uid stays fixed for links, but the dashboard never names it."""
    (doc,) = load_yaml(GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml")
    assert isinstance(doc, dict)
    (source,) = doc["datasources"]
    assert (source["type"], source["isDefault"]) == ("prometheus", True)
    assert str(source["uid"]) not in DASHBOARD.read_text()


def test_instance_variable_lists_the_proxies(
    dashboard: dict[str, Any], fixed_metrics: frozenset[str]
) -> None:
    instance = variable(dashboard, "instance")
    match = re.fullmatch(r"label_values\((\w+), instance\)", instance["query"]["query"])
    assert match is not None
    assert match[1] in fixed_metrics
    assert instance["definition"] == instance["query"]["query"]
    assert (instance["includeAll"], instance["multi"], instance["allValue"]) == (True, True, ".*")
    names = [v["name"] for v in dashboard["templating"]["list"]]
    assert names.index("datasource") < names.index("instance") < names.index("route_group")


def test_every_query_selects_only_the_chosen_instances(
    dashboard: dict[str, Any], promql_names: Callable[[str], set[str]]
) -> None:
    """Every series in every panel, annotation and variable query carries the instance matcher
    (all but the variable that lists the instances)."""
    checked = 0
    for where, expr in queries(dashboard):
        if where == "variable instance":
            continue
        for name in promql_names(expr):
            selectors = re.findall(rf"(?<![\w:]){re.escape(name)}(\{{[^{{}}]*\}})?(?![\w:])", expr)
            assert selectors, f"{where}: {name} not found in {expr!r}"
            for matchers in selectors:
                assert INSTANCE in matchers, f"{where}: {name}{matchers} ignores $instance"
                checked += 1
    assert checked > 30


def test_every_panel_has_a_unit(dashboard: dict[str, Any]) -> None:
    for panel in all_panels(dashboard["panels"]):
        if panel["type"] == "row":
            continue
        unit = panel["fieldConfig"]["defaults"].get("unit")
        assert unit in UNITS, f"panel {panel['id']} {panel['title']!r}: unit {unit!r}"
        exprs = " ".join(target["expr"] for target in panel["targets"])
        if ":ratio5m" in exprs:
            assert unit == "percentunit", f"panel {panel['id']} draws a ratio"
        if "duration_seconds" in exprs:
            assert unit == "s", f"panel {panel['id']} draws seconds"


def test_queries_use_only_fixed_metrics_and_recordings(
    dashboard: dict[str, Any],
    promql_names: Callable[[str], set[str]],
    allowed_names: frozenset[str],
) -> None:
    seen = 0
    for where, expr in queries(dashboard):
        names = promql_names(expr)
        assert names, f"{where}: no series in {expr!r}"
        assert names <= allowed_names, f"{where} selects unknown {names - allowed_names}"
        seen += 1
    assert seen >= 15


def test_every_fixed_metric_reaches_the_dashboard(
    dashboard: dict[str, Any],
    promql_names: Callable[[str], set[str]],
    rules_in: Callable[[Path], list[tuple[str, str, str]]],
    fixed_metrics: frozenset[str],
) -> None:
    """Directly, or through the recording rules the dashboard draws."""
    recordings = {
        name: promql_names(expr)
        for _, name, expr in rules_in(GRAFANA_DIR.parent / "prometheus" / "rules" / "recording.yml")
    }
    reached: set[str] = set()
    pending = [name for _, expr in queries(dashboard) for name in promql_names(expr)]
    while pending:
        name = pending.pop()
        if name not in reached:
            reached.add(name)
            pending.extend(recordings.get(name, ()))
    base = {name.removesuffix("_bucket") for name in reached}
    assert fixed_metrics - base == set()


@pytest.mark.parametrize(
    ("panel_type", "needle"),
    [
        pytest.param("stat", "shadowproxy_authoritative_side", id="authoritative-side-stat"),
        pytest.param("timeseries", "route_group:shadowproxy_parity:ratio5m", id="parity-over-time"),
        pytest.param("timeseries", "rate(shadowproxy_comparisons_total", id="outcomes"),
        pytest.param("bargauge", "topk(10", id="top-mismatching-fields"),
        pytest.param("timeseries", "p95_5m", id="latency-p95"),
        pytest.param("timeseries", "p50_5m", id="latency-p50"),
        pytest.param("timeseries", "shadowproxy_shadow_skipped", id="skipped-by-reason"),
        pytest.param("timeseries", "shadowproxy_shadow_inflight", id="inflight"),
        pytest.param("timeseries", "shadowproxy_ws_frames_total", id="websocket-frames"),
        pytest.param("table", "ALERTS", id="firing-alerts"),
        pytest.param("table", "shadowproxy_cutover_verdict", id="cutover-readiness"),
        pytest.param("timeseries", "shadowproxy_consumer_breaks_total", id="consumer-breaks"),
        pytest.param("timeseries", "shadowproxy_consumer_checks_total", id="consumer-checks"),
        pytest.param("timeseries", "shadowproxy_drift_findings_total", id="drift-findings"),
        pytest.param("timeseries", "shadowproxy_rollbacks_total", id="rollbacks-by-mode"),
        pytest.param("timeseries", "shadowproxy_admin_denied_total", id="admin-denied"),
        pytest.param("bargauge", "shadowproxy_noise_ratio", id="noise-by-field"),
        pytest.param("timeseries", "shadowproxy_noise_samples_total", id="noise-samples"),
    ],
)
def test_on_call_panels_exist(dashboard: dict[str, Any], panel_type: str, needle: str) -> None:
    matching = [
        panel
        for panel in all_panels(dashboard["panels"])
        if panel["type"] == panel_type
        and any(needle in target["expr"] for target in panel.get("targets", []))
    ]
    assert matching, f"no {panel_type} panel queries {needle}"
    assert all(panel.get("description") for panel in matching)


@pytest.mark.parametrize(
    ("name", "needle", "labels"),
    [
        pytest.param(
            "Flag flips",
            'changes(shadowproxy_flags_version{instance=~"$instance"}[1m]) > 0',
            {"instance"},
            id="flag-flips",
        ),
        pytest.param(
            "Rollbacks",
            "increase(shadowproxy_rollbacks_total",
            {"route_group", "mode", "trigger", "instance"},
            id="rollbacks",
        ),
    ],
)
def test_flips_and_rollbacks_are_annotated(
    dashboard: dict[str, Any], name: str, needle: str, labels: set[str]
) -> None:
    """Every flip and every rollback (auto, alert or manual) is a mark on every panel."""
    (annotation,) = [a for a in dashboard["annotations"]["list"] if a["name"] == name]
    assert needle in annotation["expr"]
    assert annotation["expr"].rstrip().endswith("> 0")
    assert annotation["enable"] is True
    assert annotation["step"] == "1m", "one step per [1m] window: each change marked once"
    assert set(annotation["tagKeys"].split(",")) == labels
    assert annotation["titleFormat"]
    assert annotation["textFormat"]


def test_a_first_rollback_is_annotated_like_the_recordings_count_new_series(
    dashboard: dict[str, Any],
) -> None:
    """A group's first rollback by a trigger is a brand-new counter series: increase() alone
    needs two samples and would not mark it (the new-series rule of recording.yml)."""
    (annotation,) = [a for a in dashboard["annotations"]["list"] if a["name"] == "Rollbacks"]
    assert "unless shadowproxy_rollbacks_total" in annotation["expr"]
    assert "offset 1m" in annotation["expr"]
    assert 'and on (job, instance) (up{instance=~"$instance"} offset 1m)' in annotation["expr"]


def test_authoritative_stat_names_the_sides(dashboard: dict[str, Any]) -> None:
    (stat,) = [
        p
        for p in all_panels(dashboard["panels"])
        if p["type"] == "stat" and "authoritative_side" in p["targets"][0]["expr"]
    ]
    mapping = stat["fieldConfig"]["defaults"]["mappings"][0]["options"]
    assert {mapping["0"]["text"], mapping["1"]["text"]} == {"legacy", "app"}


def test_cutover_readiness_table_colours_every_verdict(dashboard: dict[str, Any]) -> None:
    (table,) = [
        p
        for p in all_panels(dashboard["panels"])
        if p["type"] == "table" and "cutover_verdict" in p["targets"][0]["expr"]
    ]
    (target,) = table["targets"]
    assert "== 1" in target["expr"]
    assert "by (route_group, consumer, verdict)" in target["expr"]
    assert target["format"] == "table"
    (override,) = [
        o for o in table["fieldConfig"]["overrides"] if o["matcher"]["options"] == "verdict"
    ]
    properties = {prop["id"]: prop["value"] for prop in override["properties"]}
    options = properties["mappings"][0]["options"]
    assert {verdict: options[verdict]["color"] for verdict in options} == {
        "ready": "green",
        "blocked": "red",
        "not_enough_traffic": "#8e8e8e",
    }
    assert properties["custom.cellOptions"] == {"type": "color-background"}


def test_client_compatibility_row_holds_its_panels(dashboard: dict[str, Any]) -> None:
    """The row's panels sit below it and above the next row (rows here are never collapsed)."""
    panels = dashboard["panels"]
    (start,) = [i for i, p in enumerate(panels) if p["title"] == "Client compatibility"]
    end = next((i for i in range(start + 1, len(panels)) if panels[i]["type"] == "row"), None)
    needles = {"cutover_verdict", "consumer_breaks", "consumer_checks", "drift_findings"}
    found = {
        needle
        for panel in panels[start + 1 : end]
        for target in panel.get("targets", [])
        for needle in needles
        if f"shadowproxy_{needle}" in target["expr"]
    }
    assert found == needles


def test_noise_by_field_steps_at_the_default_noise_threshold(dashboard: dict[str, Any]) -> None:
    """SHADOWPROXY_NOISE_THRESHOLD's default: at or above it a field is noisy."""
    (panel,) = [
        p
        for p in all_panels(dashboard["panels"])
        if any("shadowproxy_noise_ratio" in target["expr"] for target in p.get("targets", []))
    ]
    (target,) = panel["targets"]
    assert "max by (route_group, field)" in target["expr"]
    assert target["expr"].startswith("sort_desc(")
    defaults = panel["fieldConfig"]["defaults"]
    assert defaults["unit"] == "percentunit"
    steps = [step["value"] for step in defaults["thresholds"]["steps"]]
    assert steps == [None, NoiseConfig().threshold]
    assert "GET /noise" in panel["description"]


def test_latency_panels_split_side_and_role(dashboard: dict[str, Any]) -> None:
    latency = [
        target
        for panel in all_panels(dashboard["panels"])
        for target in panel.get("targets", [])
        if "upstream_duration_seconds" in target["expr"]
    ]
    assert len(latency) == 2
    for target in latency:
        assert "by (side, role, route_group)" in target["expr"]
        assert "{{side}} {{role}}" in target["legendFormat"]


def test_provider_path_matches_the_compose_mount(load_yaml: LoadYaml) -> None:
    (provider_doc,) = load_yaml(GRAFANA_DIR / "provisioning" / "dashboards" / "shadowproxy.yml")
    assert isinstance(provider_doc, dict)
    (provider,) = provider_doc["providers"]
    (compose,) = load_yaml(GRAFANA_DIR.parent / "docker-compose.yml")
    assert isinstance(compose, dict)
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./grafana/dashboards:{provider['options']['path']}:ro" in mounts
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in mounts


def test_panels_fit_the_grid_without_overlapping(dashboard: dict[str, Any]) -> None:
    cells: dict[tuple[int, int], int] = {}
    for panel in all_panels(dashboard["panels"]):
        pos = panel["gridPos"]
        assert pos["x"] >= 0, f"panel {panel['id']} starts left of the grid"
        assert pos["x"] + pos["w"] <= 24, f"panel {panel['id']} ends right of the grid"
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"panels {cells.get((x, y))} and {panel['id']} overlap"
                cells[(x, y)] = panel["id"]
