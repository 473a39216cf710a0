"""Dockerfile, docker-compose and Kubernetes manifests, checked structurally (Docker and a cluster
cannot run here): the YAML-subset reader gives real nesting, so probes, ports, selectors, mounts
and flags are checked where they must sit, not just somewhere in the file."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

DEPLOY_DIR = Path(__file__).resolve().parents[2] / "deploy"
REPO_DIR = DEPLOY_DIR.parent
K8S_FILES = sorted((DEPLOY_DIR / "k8s").glob("*.yaml"))
GROUPS = ("ANALYSIS", "REPORTS", "PORTFOLIO", "WS_ANALYSIS", "WS_ORCHESTRATOR", "SYSTEM")
LoadYaml = Callable[[Path], list[object]]


@pytest.fixture
def compose(load_yaml: LoadYaml) -> dict[str, Any]:
    (doc,) = load_yaml(DEPLOY_DIR / "docker-compose.yml")
    assert isinstance(doc, dict)
    return doc


@pytest.fixture
def k8s(load_yaml: LoadYaml) -> list[dict[str, Any]]:
    docs = [doc for path in K8S_FILES for doc in load_yaml(path)]
    mappings = [doc for doc in docs if isinstance(doc, dict)]
    assert len(mappings) == len(docs), "every manifest document is a mapping"
    return mappings


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (doc,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def flag_after(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


# ---------------------------------------------------------------- Dockerfile


def test_dockerfile_installs_the_project_and_runs_shadowproxy() -> None:
    text = (DEPLOY_DIR / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.MULTILINE)
    assert re.search(r"^RUN pip install \.", text, re.MULTILINE)
    assert 'ENTRYPOINT ["shadowproxy"]' in text
    assert re.search(r'^CMD \["up", .*"0\.0\.0\.0:8000".*"0\.0\.0\.0:9100"', text, re.MULTILINE)
    assert re.search(r"^USER 10001$", text, re.MULTILINE)
    for package in ("orchestrator", "legacy_backend", "app_service", "shadowproxy"):
        assert f"COPY {package} ./{package}" in text


def test_docker_ignore_keeps_local_state_out() -> None:
    ignored = (DEPLOY_DIR / "Dockerfile.dockerignore").read_text().split()
    assert {".git", ".venv", "var", "diff_logs"} <= set(ignored)


# ---------------------------------------------------------------- compose


def test_compose_runs_the_six_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"legacy", "app", "proxy", "prometheus", "alertmanager", "grafana"}
    for name in ("legacy", "app", "proxy"):
        assert services[name]["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
        assert "healthcheck" in services[name]


def test_compose_proxy_points_at_the_backends_and_binds_all_interfaces(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    argv = services["proxy"]["command"]
    assert argv[0] == "run"
    assert flag_after(argv, "--legacy") == "http://legacy:8001"
    assert flag_after(argv, "--app") == "http://app:8002"
    assert flag_after(argv, "--admin") == "0.0.0.0:9100"
    assert flag_after(argv, "--listen") == "0.0.0.0:8000"
    assert flag_after(services["legacy"]["command"], "--port") == "8001"
    assert flag_after(services["app"]["command"], "--port") == "8002"
    assert services["proxy"]["depends_on"]["legacy"]["condition"] == "service_healthy"


def test_compose_publishes_only_on_loopback(compose: dict[str, Any]) -> None:
    ports = [p for service in compose["services"].values() for p in service.get("ports", [])]
    assert ports
    assert all(str(port).startswith("127.0.0.1:") for port in ports)


def test_compose_flags_cover_every_route_group(compose: dict[str, Any]) -> None:
    env = compose["services"]["proxy"]["environment"]
    assert {f"TA_AUTHORITATIVE_{group}" for group in GROUPS} <= set(env)
    assert all(env[f"TA_AUTHORITATIVE_{group}"] in ("legacy", "app") for group in GROUPS)


def test_compose_mounts_exist_and_named_volumes_are_declared(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY_DIR / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in compose["volumes"], f"{name} uses undeclared volume {source}"


def test_prometheus_scrapes_the_compose_admin_port(compose: dict[str, Any]) -> None:
    config = (DEPLOY_DIR / "prometheus" / "prometheus.yml").read_text()
    admin_port = flag_after(compose["services"]["proxy"]["command"], "--admin").split(":")[1]
    assert f'targets: ["proxy:{admin_port}"]' in config
    assert 'targets: ["alertmanager:9093"]' in config


# ---------------------------------------------------------------- Kubernetes


def test_every_manifest_has_kind_name_and_namespace(k8s: list[dict[str, Any]]) -> None:
    assert len(k8s) >= 10
    for doc in k8s:
        assert {"apiVersion", "kind", "metadata"} <= set(doc)
        assert doc["metadata"]["name"]
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "shadowproxy"


def test_proxy_probes_use_the_admin_port(k8s: list[dict[str, Any]]) -> None:
    pod = find(k8s, "Deployment", "shadowproxy")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"proxy": 8000, "admin": 9100}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "admin"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "admin"}
    assert flag_after(container["args"], "--admin") == "0.0.0.0:9100"


def test_proxy_pod_carries_the_scrape_annotations(k8s: list[dict[str, Any]]) -> None:
    metadata = find(k8s, "Deployment", "shadowproxy")["spec"]["template"]["metadata"]
    assert metadata["annotations"] == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "9100",
        "prometheus.io/path": "/metrics",
    }


def test_proxy_reads_flags_from_the_configmap(k8s: list[dict[str, Any]]) -> None:
    pod = find(k8s, "Deployment", "shadowproxy")["spec"]["template"]["spec"]
    (source,) = pod["containers"][0]["envFrom"]
    flags = find(k8s, "ConfigMap", source["configMapRef"]["name"])["data"]
    assert {f"TA_AUTHORITATIVE_{group}" for group in GROUPS} <= set(flags)
    assert all(re.fullmatch(r"TA_[A-Z_]+|SHADOWPROXY_[A-Z_]+", key) for key in flags)
    assert all(isinstance(value, str) for value in flags.values()), "env values must be strings"


@pytest.mark.parametrize(
    ("deployment", "service", "port"),
    [
        pytest.param("shadowproxy", "shadowproxy", 8000, id="proxy"),
        pytest.param("shadowproxy", "shadowproxy-admin", 9100, id="admin"),
        pytest.param("legacy", "legacy", 8001, id="legacy"),
        pytest.param("app", "app", 8002, id="app"),
    ],
)
def test_services_select_their_pods_on_named_ports(
    k8s: list[dict[str, Any]], deployment: str, service: str, port: int
) -> None:
    spec = find(k8s, "Deployment", deployment)["spec"]
    pod_labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= pod_labels.items()
    svc = find(k8s, "Service", service)["spec"]
    assert svc["selector"].items() <= pod_labels.items()
    (svc_port,) = svc["ports"]
    container_ports = {
        p["name"]: p["containerPort"] for p in spec["template"]["spec"]["containers"][0]["ports"]
    }
    assert svc_port["port"] == port
    assert container_ports[svc_port["targetPort"]] == port


def test_proxy_urls_match_the_backend_services(k8s: list[dict[str, Any]]) -> None:
    args = find(k8s, "Deployment", "shadowproxy")["spec"]["template"]["spec"]["containers"][0][
        "args"
    ]
    for side, port in (("legacy", 8001), ("app", 8002)):
        assert flag_after(args, f"--{side}") == f"http://{side}:{port}"
        assert find(k8s, "Service", side)["spec"]["ports"][0]["port"] == port


def test_volumes_refer_to_declared_claims(k8s: list[dict[str, Any]]) -> None:
    claims = {d["metadata"]["name"] for d in k8s if d["kind"] == "PersistentVolumeClaim"}
    for doc in k8s:
        if doc["kind"] == "Deployment":
            pod = doc["spec"]["template"]["spec"]
            for volume in pod["volumes"]:
                assert volume["persistentVolumeClaim"]["claimName"] in claims
            mounts = {m["name"] for c in pod["containers"] for m in c["volumeMounts"]}
            assert mounts == {v["name"] for v in pod["volumes"]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("a: &x 1\nb: *x\n", "unsupported", id="anchors-rejected"),
        pytest.param("a:\n  b: 1\n    c: 2\n", "unexpected indentation", id="bad-indent"),
        pytest.param("a: 1\na: 2\n", "duplicate key", id="duplicate-key"),
    ],
)
def test_yaml_reader_refuses_what_it_cannot_read(
    load_yaml: LoadYaml, tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_yaml(path)
