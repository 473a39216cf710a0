"""The scale-out facts of deploy/k8s that a schema cannot see: three replicas that a deploy or a
node drain never takes below two, spread over nodes, probed on the admin endpoints that exist,
stopped within a grace period that covers the proxy's own shutdown, sized for the proxy's own
buffer bounds, restricted, sharing state through a Redis only the proxies reach, scraped with the
job the alerts select, and every file listed in kustomization.yaml.

The ConfigMap and the container's arguments are read by the proxy's own parsers
(`load_settings`, the CLI's argument parser), so a value the proxy would refuse fails here, and
the sums below use the values the proxy would run with.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from shadowproxy.ops.arguments import build_parser
from shadowproxy.settings import Settings, load_settings
from shadowproxy.variables import PROXY_VARIABLES, unknown_variables

REPO = Path(__file__).resolve().parents[2]
K8S_DIR = REPO / "deploy" / "k8s"
PROXY = "shadowproxy"
MiB = 1024 * 1024
ADMIN_SHUTDOWN_S = 1  # shadowproxy/ops/server.py: the admin runner's shutdown_timeout
POD_NAME = "shadowproxy-5d8f7c9b4-x2x9q"  # what the downward API hands SHADOWPROXY_REPLICA
# Pod Security Standard "restricted": the volume types it admits.
RESTRICTED_VOLUMES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
    "projected", "secret",
}  # fmt: skip


def documents() -> list[dict[str, Any]]:
    paths = sorted(p for p in K8S_DIR.glob("*.yaml") if p.name != "kustomization.yaml")
    return [doc for path in paths for doc in yaml.safe_load_all(path.read_text()) if doc]


@pytest.fixture(scope="module")
def docs() -> list[dict[str, Any]]:
    return documents()


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (doc,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def pod(docs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    spec: dict[str, Any] = find(docs, "Deployment", name)["spec"]["template"]["spec"]
    return spec


def proxy_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (container,) = pod(docs, PROXY)["containers"]
    assert isinstance(container, dict)
    return container


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) == {"matchLabels"}, "matchLabels only: read by this check"
    return bool(selector["matchLabels"]) and selector["matchLabels"].items() <= labels.items()


def pod_labels(docs: list[dict[str, Any]], name: str) -> dict[str, str]:
    labels: dict[str, str] = find(docs, "Deployment", name)["spec"]["template"]["metadata"][
        "labels"
    ]
    return labels


@pytest.fixture(scope="module")
def settings(docs: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The proxy's settings as one replica would load them: the ConfigMap, the container's own
    env (the token file replaced by a readable one, the downward API by a pod name) and args."""
    container = proxy_container(docs)
    (source,) = container["envFrom"]
    environ = dict(find(docs, "ConfigMap", source["configMapRef"]["name"])["data"])
    token = tmp_path_factory.mktemp("secret") / "admin_token"
    token.write_text("0123456789abcdef0123456789abcdef\n")
    for item in container["env"]:
        if item["name"] == "SHADOWPROXY_ADMIN_TOKEN_FILE":
            environ[item["name"]] = str(token)
        elif "valueFrom" in item:
            assert item["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
            environ[item["name"]] = POD_NAME
        else:
            environ[item["name"]] = item["value"]
    args = build_parser(environ).parse_args(container["args"])
    assert args.command == "run"
    return load_settings(
        environ,
        legacy_url=args.legacy,
        app_url=args.app,
        listen=args.listen,
        admin=args.admin,
        diff_log_dir=args.diff_log_dir,
        state_dir=args.state_dir,
    )


# ---------------------------------------------------------------- replicas and disruptions


def test_three_replicas_rolled_one_at_a_time_without_losing_one(docs: list[dict[str, Any]]) -> None:
    spec = find(docs, "Deployment", PROXY)["spec"]
    assert spec["replicas"] == 3
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    assert spec["minReadySeconds"] > 0
    assert selects(spec["selector"], pod_labels(docs, PROXY))


def test_the_disruption_budget_keeps_two_of_the_proxy_pods(docs: list[dict[str, Any]]) -> None:
    budget = find(docs, "PodDisruptionBudget", PROXY)["spec"]
    assert selects(budget["selector"], pod_labels(docs, PROXY))
    others = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] != PROXY]
    assert others
    assert not any(
        selects(budget["selector"], pod_labels(docs, d["metadata"]["name"])) for d in others
    )
    replicas = find(docs, "Deployment", PROXY)["spec"]["replicas"]
    if "maxUnavailable" in budget:
        assert "minAvailable" not in budget
        assert budget["maxUnavailable"] == 1
        kept = replicas - budget["maxUnavailable"]
    else:
        kept = budget["minAvailable"]
        assert kept < replicas, "a budget that allows no eviction wedges every node drain"
    assert kept >= 2
    assert budget["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


def test_replicas_spread_over_nodes_hard_and_zones_soft(docs: list[dict[str, Any]]) -> None:
    constraints = {c["topologyKey"]: c for c in pod(docs, PROXY)["topologySpreadConstraints"]}
    assert set(constraints) == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}
    assert constraints["kubernetes.io/hostname"]["whenUnsatisfiable"] == "DoNotSchedule"
    assert constraints["kubernetes.io/hostname"]["nodeTaintsPolicy"] == "Honor"
    assert constraints["topology.kubernetes.io/zone"]["whenUnsatisfiable"] == "ScheduleAnyway"
    for constraint in constraints.values():
        assert constraint["maxSkew"] == 1
        assert selects(constraint["labelSelector"], pod_labels(docs, PROXY))


# ---------------------------------------------------------------- probes and shutdown


def test_probes_name_admin_endpoints_that_exist(docs: list[dict[str, Any]]) -> None:
    container = proxy_container(docs)
    admin_py = (REPO / "shadowproxy" / "ops" / "admin.py").read_text()
    routes = set(re.findall(r'add_get\("(/[a-z]+)"', admin_py))
    assert {"/readyz", "/healthz"} <= routes
    ready, live = container["readinessProbe"]["httpGet"], container["livenessProbe"]["httpGet"]
    assert ready == {"path": "/readyz", "port": "admin"}
    assert live == {"path": "/healthz", "port": "admin"}
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert container["args"][container["args"].index("--admin") + 1] == f"0.0.0.0:{ports['admin']}"


def prestop_sleep(container: dict[str, Any]) -> int:
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    assert len(command) == 2
    return int(command[1])


def test_grace_period_covers_the_drain_and_every_shutdown_phase(
    docs: list[dict[str, Any]], settings: Settings
) -> None:
    """preStop sleep, then shadowproxy/ops/server.py's phases one after the other: the admin
    port, open websockets (grace), closing the rest (settle), in-flight HTTP (grace), shadows
    (grace). The YAML comment states the same sum."""
    sleep = prestop_sleep(proxy_container(docs))
    grace, settle = settings.shutdown_grace_s, settings.ws_settle_s
    period = pod(docs, PROXY)["terminationGracePeriodSeconds"]
    assert sleep >= 5, "kube-proxies and ingress controllers need seconds to drop the pod"
    assert period >= sleep + grace
    required = sleep + ADMIN_SHUTDOWN_S + 3 * grace + settle
    assert period >= required
    assert period - required <= 30, "no grace period so long that a stuck pod lingers"
    text = (K8S_DIR / "proxy.yaml").read_text()
    assert f"= {required:.0f} s" in text, "the comment's arithmetic is the tested one"
    assert f"SHADOWPROXY_SHUTDOWN_GRACE_S = G = {grace:.0f}" in text


# ---------------------------------------------------------------- resources


def quantity(text: str) -> int:
    units = {"Ki": 1024, "Mi": MiB, "Gi": 1024 * MiB}
    match = re.fullmatch(r"([0-9]+)(Ki|Mi|Gi)", text)
    assert match, f"memory quantity in binary units: {text!r}"
    return int(match.group(1)) * units[match.group(2)]


def worst_case_bytes(settings: Settings) -> dict[str, float]:
    """Every bound full at once (the terms of the comment in proxy.yaml)."""
    d, f, b = settings.max_diff_bytes, settings.ws_max_frame_bytes, settings.ws_buffer_bytes
    per_connection = max(2 * d, settings.ws_send_buffer_bytes + 4 * f)
    return {
        "baseline": 64 * MiB,
        "comparison": 2 * 8 * d,
        "diff-log queue": 10_000 * 2 * 1024,
        "http shadows": 2 * settings.max_inflight_shadows * 3 * d,
        "websocket shadows": settings.max_ws_shadows * (4 * b + 2 * f),
        "client connections": settings.max_client_connections * per_connection,
    }


def test_memory_limit_holds_the_worst_case_of_the_buffer_bounds(
    docs: list[dict[str, Any]], settings: Settings
) -> None:
    resources = proxy_container(docs)["resources"]
    limit = quantity(resources["limits"]["memory"])
    request = quantity(resources["requests"]["memory"])
    terms = worst_case_bytes(settings)
    total = sum(terms.values())
    assert total <= limit, {name: value / MiB for name, value in terms.items()}
    assert limit - total <= limit // 4, "the limit is the worst case, not a guess far above it"
    assert 64 * MiB < request <= limit
    text = (K8S_DIR / "proxy.yaml").read_text()
    assert f"total = {total / MiB:.0f} MiB" in text, "the comment's arithmetic is the tested one"
    assert "cpu" in resources["requests"]
    assert "cpu" in resources["limits"]


def test_the_default_bounds_would_not_fit_a_pod() -> None:
    """Why configmap.yaml lowers them: with the proxy's defaults the same sum is absurd."""
    defaults = load_settings({}, legacy_url="http://legacy:8001", app_url="http://app:8002")
    assert sum(worst_case_bytes(defaults).values()) > 30 * 1024 * MiB  # deploy/README.md


# ---------------------------------------------------------------- state, logs, variables


def test_replicas_share_state_through_the_redis_service(
    docs: list[dict[str, Any]], settings: Settings
) -> None:
    assert settings.store == "redis"
    assert settings.redis_url == "redis://redis:6379/0"
    assert settings.diff_log_output == "both"
    assert settings.replica == POD_NAME
    service = find(docs, "Service", "redis")["spec"]
    assert selects({"matchLabels": service["selector"]}, pod_labels(docs, "redis"))
    (port,) = service["ports"]
    assert port["port"] == 6379
    (redis,) = pod(docs, "redis")["containers"]
    assert {p["name"]: p["containerPort"] for p in redis["ports"]}[port["targetPort"]] == 6379


def test_the_proxy_keeps_no_claim_and_writes_only_to_empty_dirs(
    docs: list[dict[str, Any]], settings: Settings
) -> None:
    spec = pod(docs, PROXY)
    volumes = {volume["name"]: volume for volume in spec["volumes"]}
    assert not any("persistentVolumeClaim" in volume for volume in volumes.values())
    claims = {d["metadata"]["name"] for d in docs if d["kind"] == "PersistentVolumeClaim"}
    assert claims == {"legacy-data", "app-data"}, "the backends' own stores only"
    writable = {
        mount["mountPath"]: volumes[mount["name"]]
        for mount in proxy_container(docs)["volumeMounts"]
        if not mount.get("readOnly")
    }
    assert set(writable) >= {"/tmp", str(settings.state_dir), str(settings.diff_log_dir)}
    for path, volume in writable.items():
        assert "sizeLimit" in volume["emptyDir"], f"{path}: a bounded emptyDir"


def test_redis_is_pinned_without_persistence_and_recreated(docs: list[dict[str, Any]]) -> None:
    deployment = find(docs, "Deployment", "redis")["spec"]
    assert deployment["replicas"] == 1
    assert deployment["strategy"] == {"type": "Recreate"}, "never two stores behind the Service"
    (container,) = pod(docs, "redis")["containers"]
    assert re.fullmatch(r"redis:7\.[0-9]+\.[0-9]+-alpine", container["image"])
    args = container["args"]
    assert args[args.index("--save") + 1] == ""
    assert args[args.index("--appendonly") + 1] == "no"
    assert args[args.index("--maxmemory-policy") + 1].startswith("volatile-")


def env_names(doc: dict[str, Any]) -> Iterator[str]:
    if doc["kind"] == "ConfigMap":
        yield from doc["data"]
    if doc["kind"] == "Deployment":
        for container in doc["spec"]["template"]["spec"]["containers"]:
            yield from (item["name"] for item in container.get("env", []))


def test_every_proxy_variable_the_manifests_name_is_known(docs: list[dict[str, Any]]) -> None:
    """By structure (ConfigMap keys, env entries) and by text (comments too)."""
    named = {name for doc in docs for name in env_names(doc) if name.startswith("SHADOWPROXY_")}
    assert {"SHADOWPROXY_STORE", "SHADOWPROXY_REDIS_URL", "SHADOWPROXY_REPLICA"} <= named
    assert named - PROXY_VARIABLES == set()
    text = "".join(path.read_text() for path in K8S_DIR.iterdir() if path.is_file())
    mentioned = set(re.findall(r"\bSHADOWPROXY_[A-Z0-9_]*[A-Z0-9]\b", text))
    assert mentioned - PROXY_VARIABLES == set()
    unread = {name for doc in docs for name in env_names(doc)} - PROXY_VARIABLES
    assert {name for name in unread if name.startswith(("SHADOWPROXY_", "TA_"))} == set()


def service_link_variables(docs: list[dict[str, Any]]) -> set[str]:
    """What the kubelet injects into a pod with service links on, for each Service in the
    namespace (the docker-links form, as in the kubelet's envvars package)."""
    names = set()
    for service in (d for d in docs if d["kind"] == "Service"):
        prefix = service["metadata"]["name"].upper().replace("-", "_")
        names |= {f"{prefix}_SERVICE_HOST", f"{prefix}_SERVICE_PORT", f"{prefix}_PORT"}
        for port in service["spec"]["ports"]:
            number, name = port["port"], port.get("name", "")
            tcp = f"{prefix}_PORT_{number}_TCP"
            names |= {tcp, f"{tcp}_PROTO", f"{tcp}_PORT", f"{tcp}_ADDR"}
            if name:
                names.add(f"{prefix}_SERVICE_PORT_{name.upper().replace('-', '_')}")
    return names


def test_no_service_link_variable_reaches_the_proxy_as_an_unknown_setting(
    docs: list[dict[str, Any]],
) -> None:
    """The Service "shadowproxy" would hand every pod names with the proxy's prefix that it does
    not read, and the proxy warns about each at start: its pod turns service links off."""
    injected = service_link_variables(docs)
    assert "SHADOWPROXY_ADMIN_SERVICE_PORT_ADMIN" in injected
    unknown = {name for name, _ in unknown_variables(dict.fromkeys(injected, "x"))}
    assert unknown, "with links on, the proxy would warn about these"
    assert unknown <= injected
    assert pod(docs, PROXY)["enableServiceLinks"] is False


# ---------------------------------------------------------------- security


def pod_templates(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for doc in docs:
        if doc["kind"] == "Deployment":
            yield doc["metadata"]["name"], doc["spec"]["template"]["spec"]


def test_the_namespace_enforces_the_restricted_standard(docs: list[dict[str, Any]]) -> None:
    labels = find(docs, "Namespace", "shadowproxy")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_every_pod_meets_the_restricted_standard(docs: list[dict[str, Any]]) -> None:
    templates = dict(pod_templates(docs))
    assert set(templates) == {"shadowproxy", "redis", "legacy", "app"}
    for name, spec in templates.items():
        context = spec["securityContext"]
        assert context["runAsNonRoot"] is True, name
        assert context["runAsUser"] > 0, name
        assert not {"hostNetwork", "hostPID", "hostIPC"} & set(spec), name
        for volume in spec.get("volumes", []):
            assert set(volume) - {"name"} <= RESTRICTED_VOLUMES, (name, volume["name"])
        for container in spec["containers"]:
            own = container.get("securityContext", {})
            assert own["allowPrivilegeEscalation"] is False, name
            assert own["capabilities"]["drop"] == ["ALL"], name
            assert set(own["capabilities"].get("add", [])) <= {"NET_BIND_SERVICE"}, name
            assert not own.get("privileged", False), name
            assert own.get("runAsUser", context["runAsUser"]) > 0, name
            seccomp = own.get("seccompProfile", context.get("seccompProfile"))
            assert seccomp == {"type": "RuntimeDefault"}, name
        assert spec.get("automountServiceAccountToken") is False, name


@pytest.mark.parametrize("name", [PROXY, "redis"])
def test_proxy_and_redis_are_hardened_at_both_levels(docs: list[dict[str, Any]], name: str) -> None:
    spec = pod(docs, name)
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in spec["containers"]:
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True
        assert context["runAsNonRoot"] is True
        assert context["runAsUser"] == spec["securityContext"]["runAsUser"]
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}


# ---------------------------------------------------------------- network and monitoring


def test_only_proxy_pods_reach_redis(docs: list[dict[str, Any]]) -> None:
    policy = find(docs, "NetworkPolicy", "redis")["spec"]
    assert selects(policy["podSelector"], pod_labels(docs, "redis"))
    assert policy["policyTypes"] == ["Ingress"]
    (rule,) = policy["ingress"]
    (port,) = rule["ports"]
    (redis,) = pod(docs, "redis")["containers"]
    assert port == {"port": redis["ports"][0]["name"], "protocol": "TCP"}
    (peer,) = rule["from"]
    assert set(peer) == {"podSelector"}, "pods of this namespace only"
    assert selects(peer["podSelector"], pod_labels(docs, PROXY))
    for other in ("legacy", "app", "redis"):
        assert not selects(peer["podSelector"], pod_labels(docs, other))


def test_service_monitor_scrapes_every_replica_with_the_job_the_alerts_select(
    docs: list[dict[str, Any]],
) -> None:
    monitor = find(docs, "ServiceMonitor", PROXY)["spec"]
    services = [d for d in docs if d["kind"] == "Service"]
    chosen = [s for s in services if selects(monitor["selector"], s["metadata"]["labels"])]
    assert [s["metadata"]["name"] for s in chosen] == ["shadowproxy-admin"]
    assert monitor["namespaceSelector"] == {"matchNames": ["shadowproxy"]}
    (endpoint,) = monitor["endpoints"]
    assert endpoint["port"] in {port["name"] for port in chosen[0]["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    alerts = (REPO / "deploy" / "prometheus" / "rules" / "alerts.yml").read_text()
    jobs = set(re.findall(r'job="([^"]+)"', alerts))
    assert len(jobs) == 1
    (relabel,) = [r for r in endpoint["relabelings"] if r["targetLabel"] == "job"]
    assert relabel["replacement"] in jobs


# ---------------------------------------------------------------- kustomization


def test_kustomization_lists_every_manifest_of_the_folder() -> None:
    kustomization = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert kustomization["kind"] == "Kustomization"
    resources = kustomization["resources"]
    assert len(resources) == len(set(resources))
    files = {p.name for p in K8S_DIR.iterdir() if p.suffix in (".yaml", ".yml", ".json")}
    assert set(resources) == files - {"kustomization.yaml"}
    assert resources.index("namespace.yaml") == 0
