"""Dockerfile, docker-compose and Kubernetes manifests, checked structurally (Docker and a cluster
cannot run here): the YAML-subset reader gives real nesting, so probes, ports, selectors, mounts
and flags are checked where they must sit, not just somewhere in the file."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

DEPLOY_DIR = Path(__file__).resolve().parents[2] / "deploy"
REPO_DIR = DEPLOY_DIR.parent
# The Kubernetes objects the YAML-subset reader can read; prometheus-rule.yaml (generated, with
# the rules' block scalars) and kustomization.yaml (no object) are checked by
# test_deploy_k8s_schema.py and test_deploy_scaleout.py with a full YAML parser.
K8S_FILES = sorted(
    path
    for path in (DEPLOY_DIR / "k8s").glob("*.yaml")
    if path.name not in {"prometheus-rule.yaml", "kustomization.yaml"}
)
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
    """By default; the `scale` profile's services (test_deploy_compose_scale.py) are opt-in."""
    services = compose["services"]
    default = {name for name, service in services.items() if "profiles" not in service}
    assert default == {"legacy", "app", "proxy", "prometheus", "alertmanager", "grafana"}
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


def test_compose_admin_token_is_a_file_secret_outside_git(compose: dict[str, Any]) -> None:
    """The proxy reads the token from the compose secret; the file behind it is never in git."""
    (name,) = compose["secrets"]
    source = compose["secrets"][name]["file"]
    assert source.startswith("./secrets/")
    proxy = compose["services"]["proxy"]
    assert proxy["secrets"] == [name]
    assert proxy["environment"]["SHADOWPROXY_ADMIN_TOKEN_FILE"] == f"/run/secrets/{name}"
    assert "SHADOWPROXY_ADMIN_TOKEN" not in proxy["environment"], "no inline token"
    assert (DEPLOY_DIR / f"{source}.example").is_file(), "an example shows the format"
    ignore = (DEPLOY_DIR / "secrets" / ".gitignore").read_text().split()
    assert ignore[ignore.index("*") :] == ["*", "!.gitignore", "!*.example"]


def test_the_token_file_is_ignored_by_git_and_the_example_is_not() -> None:
    if not (REPO_DIR / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout")

    def ignored(path: str) -> bool:
        result = subprocess.run(
            ["git", "-C", str(REPO_DIR), "check-ignore", "-q", "--no-index", path],
            capture_output=True,
            timeout=30,
            check=False,
        )
        assert result.returncode in (0, 1), result.stderr
        return result.returncode == 0

    assert ignored("deploy/secrets/admin_token")
    assert ignored("deploy/secrets/admin_token.real")
    assert not ignored("deploy/secrets/admin_token.example")


def test_example_token_is_no_token() -> None:
    """Copied as is, it stops the proxy's start: a token has no spaces (settings)."""
    example = (DEPLOY_DIR / "secrets" / "admin_token.example").read_text().strip()
    assert " " in example
    assert "REPLACE ME" in example


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


def test_volumes_refer_to_declared_claims_and_secrets(k8s: list[dict[str, Any]]) -> None:
    claims = {d["metadata"]["name"] for d in k8s if d["kind"] == "PersistentVolumeClaim"}
    secrets = {d["metadata"]["name"]: d for d in k8s if d["kind"] == "Secret"}
    for doc in k8s:
        if doc["kind"] == "Deployment":
            pod = doc["spec"]["template"]["spec"]
            for volume in pod["volumes"]:
                if "secret" in volume:
                    secret = secrets[volume["secret"]["secretName"]]
                    keys = {item["key"] for item in volume["secret"]["items"]}
                    assert keys <= set(secret["stringData"])
                elif "emptyDir" in volume:
                    assert volume["emptyDir"]["sizeLimit"], "a bounded scratch folder"
                else:
                    assert volume["persistentVolumeClaim"]["claimName"] in claims
            mounts = {m["name"] for c in pod["containers"] for m in c["volumeMounts"]}
            assert mounts == {v["name"] for v in pod["volumes"]}


def test_proxy_reads_the_admin_token_from_the_mounted_secret(k8s: list[dict[str, Any]]) -> None:
    pod = find(k8s, "Deployment", "shadowproxy")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {item["name"]: item for item in container["env"]}
    assert "SHADOWPROXY_ADMIN_TOKEN" not in env, "no inline token"
    path = env["SHADOWPROXY_ADMIN_TOKEN_FILE"]["value"]
    directory, filename = path.rsplit("/", 1)
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == directory]
    assert mount["readOnly"] is True
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    (item,) = volume["secret"]["items"]
    assert item["path"] == filename
    secret = find(k8s, "Secret", volume["secret"]["secretName"])
    assert set(secret["stringData"]) == {item["key"]}
    # not readable by others; the pod's fsGroup makes it readable by the proxy's user
    assert str(volume["secret"]["defaultMode"]) in ("440", "400")
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsUser"]


def test_secret_ships_a_placeholder_the_proxy_refuses(k8s: list[dict[str, Any]]) -> None:
    """A token has at least 16 characters and no spaces: the placeholder is not one. Only the
    placeholder carries the label the documented `kubectl apply -l` leaves out."""
    placeholders = [d for d in k8s if d["metadata"]["labels"].get("shadowproxy.io/placeholder")]
    assert [(d["kind"], d["metadata"]["name"]) for d in placeholders] == [
        ("Secret", "shadowproxy-admin-token")
    ]
    assert placeholders[0]["metadata"]["labels"]["shadowproxy.io/placeholder"] == "true"
    text = (DEPLOY_DIR / "k8s" / "secret.yaml").read_text()
    assert "MUST BE REPLACED" in text
    (value,) = re.findall(r'^  admin_token: "([^"]*)"$', text, re.MULTILINE)
    assert "REPLACE ME" in value
    assert " " in value


def test_network_policy_admits_the_admin_port_only_from_prometheus_and_alertmanager(
    k8s: list[dict[str, Any]],
) -> None:
    policy = find(k8s, "NetworkPolicy", "shadowproxy")["spec"]
    pod = find(k8s, "Deployment", "shadowproxy")["spec"]["template"]
    assert policy["podSelector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert policy["policyTypes"] == ["Ingress"]
    ports = {p["name"]: p["containerPort"] for p in pod["spec"]["containers"][0]["ports"]}
    rules: dict[str, list[dict[str, Any]]] = {}
    for rule in policy["ingress"]:
        (port,) = rule["ports"]
        assert port["protocol"] == "TCP"
        assert port["port"] in ports, "named ports of the proxy container"
        assert port["port"] not in rules
        rules[port["port"]] = rule["from"]
    assert set(rules) == set(ports), "every port has a rule; nothing else is admitted"
    admin_peers = rules["admin"]
    assert all(peer["namespaceSelector"] == {} for peer in admin_peers)
    names = [peer["podSelector"]["matchLabels"] for peer in admin_peers]
    assert names == [
        {"app.kubernetes.io/name": "prometheus"},
        {"app.kubernetes.io/name": "alertmanager"},
    ]
    assert rules["proxy"] == [{"podSelector": {}}], "the dashboard port: the whole namespace"


def test_admin_service_still_reaches_the_admin_port_the_policy_guards(
    k8s: list[dict[str, Any]],
) -> None:
    (svc_port,) = find(k8s, "Service", "shadowproxy-admin")["spec"]["ports"]
    policy = find(k8s, "NetworkPolicy", "shadowproxy")["spec"]
    assert svc_port["targetPort"] in {rule["ports"][0]["port"] for rule in policy["ingress"]}


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
