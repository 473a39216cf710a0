"""Every manifest in deploy/k8s against a schema, read the way kubectl reads it (a real YAML
parser: PyYAML, which kubernetes-validate itself depends on).

The core kinds go through kubernetes-validate (the Kubernetes OpenAPI schemas, strict: an unknown
or misplaced field is an error) for two Kubernetes versions. The Prometheus Operator's kinds
(ServiceMonitor, PrometheusRule) are custom resources the core schemas do not know: they are
checked against the part of their CRD schemas these manifests use, written out below, and the
PrometheusRule objects must be exactly what deploy/k8s/render_monitoring.py renders from
deploy/prometheus/rules/ — so the Operator and the plain Prometheus never load different rules.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml  # type: ignore[import-untyped]

DEPLOY_DIR = Path(__file__).resolve().parents[2] / "deploy"
K8S_DIR = DEPLOY_DIR / "k8s"
RULES_DIR = DEPLOY_DIR / "prometheus" / "rules"
RENDER = K8S_DIR / "render_monitoring.py"
RULE_YAML = K8S_DIR / "prometheus-rule.yaml"
# Kubernetes versions the manifests must be valid for: the oldest still commonly run by the
# managed offerings and a recent one (kubernetes-validate ships schemas from 1.25 on).
KUBERNETES_VERSIONS = ("1.31", "1.34")
MANIFESTS = sorted(path for path in K8S_DIR.glob("*.yaml") if path.name != "kustomization.yaml")
CUSTOM_KINDS = {"ServiceMonitor", "PrometheusRule"}
RULE_FILES = ("recording.yml", "alerts.yml")


def documents(path: Path) -> list[dict[str, Any]]:
    docs = [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]
    assert all(isinstance(doc, dict) for doc in docs), f"{path.name}: every document a mapping"
    return docs


def all_documents() -> list[dict[str, Any]]:
    return [doc for path in MANIFESTS for doc in documents(path)]


def schema_errors(doc: dict[str, Any], version: str) -> list[str]:
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(part) for part in exc.path) or "(top)"
        return [f"{doc['kind']}/{doc['metadata']['name']}: {where}: {exc.message}"]
    return []


# ---------------------------------------------------------------- core kinds


CORE_MANIFESTS = [
    path for path in MANIFESTS if any(d["kind"] not in CUSTOM_KINDS for d in documents(path))
]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("path", CORE_MANIFESTS, ids=lambda path: path.name)
def test_manifest_validates_against_the_kubernetes_schemas(path: Path, version: str) -> None:
    docs = [doc for doc in documents(path) if doc["kind"] not in CUSTOM_KINDS]
    errors = [error for doc in docs for error in schema_errors(doc, version)]
    assert errors == []


def test_every_document_is_checked_by_one_of_the_two_schemas() -> None:
    """Nothing escapes: a core kind kubernetes-validate has no schema for (a typo in apiVersion or
    kind) fails here instead of being skipped, and only the two Operator kinds are custom."""
    docs = all_documents()
    assert len(docs) >= 15
    for doc in docs:
        if doc["kind"] in CUSTOM_KINDS:
            assert doc["apiVersion"] == "monitoring.coreos.com/v1"
            continue
        for version in KUBERNETES_VERSIONS:
            assert schema_errors(doc, version) == []  # raises SchemaNotFoundError if unknown


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(lambda d: d["spec"].update(replica=3), "'replica' was unexpected", id="typo"),
        pytest.param(lambda d: d["spec"].update(replicas="3"), "is not of type", id="type"),
        pytest.param(
            lambda d: d["spec"]["template"]["spec"]["containers"][0].pop("name"),
            "'name' is a required property",
            id="required",
        ),
    ],
)
def test_the_validator_rejects_a_broken_deployment(change: Any, message: str) -> None:
    """The check is live and strict: the proxy's Deployment with one mistake fails."""
    (deployment,) = [d for d in documents(K8S_DIR / "proxy.yaml") if d["kind"] == "Deployment"]
    assert schema_errors(deployment, KUBERNETES_VERSIONS[0]) == []
    broken = copy.deepcopy(deployment)
    change(broken)
    (error,) = schema_errors(broken, KUBERNETES_VERSIONS[0])
    assert message in error


def test_kustomize_builds_exactly_the_objects_of_the_files() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed (its built-in kustomize builds the folder)")
    result = subprocess.run(
        [kubectl, "kustomize", str(K8S_DIR)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    built = {(d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(result.stdout) if d}
    assert built == {(d["kind"], d["metadata"]["name"]) for d in all_documents()}


# ---------------------------------------------------------------- Prometheus Operator kinds
# The fields of the CRDs (monitoring.coreos.com/v1) these manifests may use, with the CRDs' own
# types and required fields; additionalProperties false, so a misspelt field is an error rather
# than something the Operator silently ignores.

DURATION = {
    "type": "string",
    "pattern": r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?"
    r"(([0-9]+)s)?(([0-9]+)ms)?)$",
}
STRINGS = {"type": "object", "additionalProperties": {"type": "string"}}
LABEL_NAME = {"type": "string", "pattern": r"^[a-zA-Z_][a-zA-Z0-9_]*$"}
METADATA = {
    "type": "object",
    "required": ["name", "namespace"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
        "namespace": {"const": "shadowproxy"},
        "labels": STRINGS,
        "annotations": STRINGS,
    },
}
RELABELING = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "action": {
            "enum": [
                "replace",
                "Replace",
                "keep",
                "Keep",
                "drop",
                "Drop",
                "hashmod",
                "HashMod",
                "labelmap",
                "LabelMap",
                "labeldrop",
                "LabelDrop",
                "labelkeep",
                "LabelKeep",
                "lowercase",
                "Lowercase",
                "uppercase",
                "Uppercase",
                "keepequal",
                "KeepEqual",
                "dropequal",
                "DropEqual",
            ]
        },
        "sourceLabels": {"type": "array", "items": LABEL_NAME},
        "separator": {"type": "string"},
        "targetLabel": {"type": "string"},
        "regex": {"type": "string"},
        "modulus": {"type": "integer"},
        "replacement": {"type": "string"},
    },
}
SERVICE_MONITOR = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": METADATA,
        "spec": {
            "type": "object",
            "required": ["selector", "endpoints"],
            "additionalProperties": False,
            "properties": {
                "jobLabel": {"type": "string"},
                "namespaceSelector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "any": {"type": "boolean"},
                        "matchNames": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "selector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"matchLabels": STRINGS, "matchExpressions": {"type": "array"}},
                },
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["port"],
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string", "pattern": "^/"},
                            "scheme": {"enum": ["http", "https"]},
                            "interval": DURATION,
                            "scrapeTimeout": DURATION,
                            "honorLabels": {"type": "boolean"},
                            "relabelings": {"type": "array", "items": RELABELING},
                            "metricRelabelings": {"type": "array", "items": RELABELING},
                        },
                    },
                },
            },
        },
    },
}
RULE_SCHEMA = {
    "type": "object",
    "required": ["expr"],
    "additionalProperties": False,
    "oneOf": [{"required": ["record"]}, {"required": ["alert"]}],
    "properties": {
        "record": {"type": "string", "pattern": r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"},
        "alert": {"type": "string", "minLength": 1},
        "expr": {"type": ["string", "integer"], "minLength": 1},
        "for": DURATION,
        "keep_firing_for": DURATION,
        "labels": STRINGS,
        "annotations": STRINGS,
    },
    # a recording rule has no duration and no annotations (Prometheus refuses them)
    "if": {"required": ["record"]},
    "then": {"not": {"anyOf": [{"required": ["for"]}, {"required": ["annotations"]}]}},
}
PROMETHEUS_RULE = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "PrometheusRule"},
        "metadata": METADATA,
        "spec": {
            "type": "object",
            "required": ["groups"],
            "additionalProperties": False,
            "properties": {
                "groups": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["name", "rules"],
                        "additionalProperties": False,
                        "properties": {
                            "name": {"type": "string", "minLength": 1},
                            "interval": DURATION,
                            "limit": {"type": "integer"},
                            "rules": {"type": "array", "minItems": 1, "items": RULE_SCHEMA},
                        },
                    },
                }
            },
        },
    },
}
CRD_SCHEMAS = {"ServiceMonitor": SERVICE_MONITOR, "PrometheusRule": PROMETHEUS_RULE}


def crd_errors(doc: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(CRD_SCHEMAS[doc["kind"]])
    return [
        f"{'.'.join(str(part) for part in error.absolute_path) or '(top)'}: {error.message}"
        for error in validator.iter_errors(doc)
    ]


def custom_resources(kind: str) -> list[dict[str, Any]]:
    return [doc for doc in all_documents() if doc["kind"] == kind]


def test_the_crd_schemas_are_themselves_valid() -> None:
    for schema in CRD_SCHEMAS.values():
        jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("kind", sorted(CUSTOM_KINDS))
def test_custom_resources_match_their_crd(kind: str) -> None:
    docs = custom_resources(kind)
    assert docs, f"no {kind} in deploy/k8s"
    assert [error for doc in docs for error in crd_errors(doc)] == []


@pytest.mark.parametrize(
    ("kind", "change", "message"),
    [
        pytest.param(
            "ServiceMonitor",
            lambda d: d["spec"]["endpoints"][0].update(intervall="15s"),
            "'intervall' was unexpected",
            id="servicemonitor-typo",
        ),
        pytest.param(
            "ServiceMonitor",
            lambda d: d["spec"].pop("selector"),
            "'selector' is a required property",
            id="servicemonitor-selector",
        ),
        pytest.param(
            "PrometheusRule",
            lambda d: d["spec"]["groups"][0]["rules"][0].pop("expr"),
            "'expr' is a required property",
            id="rule-without-expr",
        ),
        pytest.param(
            "PrometheusRule",
            lambda d: first_alert(d).update({"for": "5 minutes"}),
            "does not match",
            id="rule-bad-duration",
        ),
        pytest.param(
            "PrometheusRule",
            lambda d: first_alert(d)["labels"].update(rollback=True),
            "is not of type 'string'",
            id="unquoted-label",
        ),
        pytest.param(
            "PrometheusRule",
            lambda d: first_alert(d).update(record="shadowproxy:x"),
            "is valid under each of",
            id="alert-and-record",
        ),
    ],
)
def test_the_crd_check_rejects_a_broken_resource(kind: str, change: Any, message: str) -> None:
    doc = copy.deepcopy(custom_resources(kind)[-1])  # the last PrometheusRule: the alerts
    assert crd_errors(doc) == []
    change(doc)
    errors = crd_errors(doc)
    assert any(message in error for error in errors), errors


def first_alert(doc: dict[str, Any]) -> dict[str, Any]:
    """The first alert with labels (severity at least) of a PrometheusRule."""
    alerts = [
        r for g in doc["spec"]["groups"] for r in g["rules"] if "alert" in r and "labels" in r
    ]
    assert alerts
    rule: dict[str, Any] = alerts[0]
    return rule


def render(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RENDER), *args], capture_output=True, text=True, timeout=60
    )


def test_prometheus_rule_is_what_the_script_renders_from_the_rule_files() -> None:
    """The committed file may never drift from the rule files: rerun the script after an edit."""
    result = render("--stdout")
    assert result.returncode == 0, result.stderr
    assert RULE_YAML.read_text(encoding="utf-8") == result.stdout, (
        "deploy/k8s/prometheus-rule.yaml is stale: run "
        ".venv/bin/python deploy/k8s/render_monitoring.py"
    )
    assert render("--check").returncode == 0


def test_the_drift_check_fails_on_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "prometheus-rule.yaml"
    stale.write_text(RULE_YAML.read_text(encoding="utf-8").replace("for: 5m", "for: 6m", 1))
    assert stale.read_text() != RULE_YAML.read_text(encoding="utf-8")
    result = render("--check", "--output", str(stale))
    assert result.returncode == 1
    assert "+++ rendered" in result.stderr
    assert "is stale" in result.stderr


def test_a_rule_file_change_changes_the_render(tmp_path: Path) -> None:
    for name in RULE_FILES:
        shutil.copy(RULES_DIR / name, tmp_path / name)
    alerts = tmp_path / "alerts.yml"
    alerts.write_text(alerts.read_text().replace("for: 5m", "for: 7m", 1))
    result = render("--stdout", "--rules", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout != RULE_YAML.read_text(encoding="utf-8")
    assert "for: 7m" in result.stdout


def test_prometheus_rules_hold_the_same_groups_as_the_rule_files() -> None:
    """Read back with a YAML parser, not as text: one PrometheusRule per rule file, in order,
    whose groups equal the file's groups — names, expressions, labels, annotations, all."""
    rules = custom_resources("PrometheusRule")
    assert [doc["metadata"]["name"] for doc in rules] == [
        f"shadowproxy-{Path(name).stem}" for name in RULE_FILES
    ]
    for doc, name in zip(rules, RULE_FILES, strict=True):
        (source,) = documents(RULES_DIR / name)
        assert set(source) == {"groups"}
        assert doc["spec"]["groups"] == source["groups"]
        names = [group["name"] for group in source["groups"]]
        assert len(names) == len(set(names)), f"{name}: group names are unique"
    alerts = [rule for group in rules[1]["spec"]["groups"] for rule in group["rules"]]
    assert any(rule.get("labels", {}).get("rollback") == "true" for rule in alerts)
