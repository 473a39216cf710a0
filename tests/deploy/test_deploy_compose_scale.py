"""deploy/docker-compose.yml against the Compose Specification's JSON schema, and its `scale`
profile: two proxy replicas sharing state through Redis behind nginx (deploy/nginx/scale.conf),
added without changing what a plain `docker compose up` starts.

The schema is compose-spec's own `compose-spec.json` (Apache-2.0) as check-jsonschema vendors and
keeps current (its builtin `vendor.compose-spec`, a dev dependency), validated with jsonschema.
Docker is not needed; `nginx -t` checks the nginx file where nginx is installed.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml  # type: ignore[import-untyped]

from shadowproxy.ops.arguments import build_parser
from shadowproxy.settings import load_settings
from shadowproxy.variables import PROXY_VARIABLES

DEPLOY_DIR = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE = DEPLOY_DIR / "docker-compose.yml"
NGINX = DEPLOY_DIR / "nginx" / "scale.conf"
VENDOR = "check_jsonschema.builtin_schemas.vendor"
DEFAULT_SERVICES = {"legacy", "app", "proxy", "prometheus", "alertmanager", "grafana"}
SCALE_SERVICES = {"redis", "proxy-a", "proxy-b", "nginx"}
REPLICAS = ("proxy-a", "proxy-b")


def compose_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        resources.files(VENDOR).joinpath("compose-spec.json").read_text(encoding="utf-8")
    )
    return schema


def load_compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return doc


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


def schema_errors(doc: dict[str, Any]) -> list[str]:
    schema = compose_schema()
    cls = jsonschema.validators.validator_for(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return [_describe(error) for error in validator.iter_errors(doc)]


def _describe(error: Any) -> str:
    """Where and what, with the reasons of each alternative a oneOf/anyOf tried."""
    where = ".".join(str(part) for part in error.absolute_path) or "(top)"
    reasons = [_describe(sub) for sub in error.context or ()]
    return f"{where}: {error.message}" + "".join(f"\n  {reason}" for reason in reasons)


# ---------------------------------------------------------------- the schema


def test_the_schema_is_compose_specs_own_under_its_license() -> None:
    schema = compose_schema()
    assert schema["title"] == "Compose Specification"
    assert schema["$id"] == "compose_spec.json"
    assert {"services", "volumes", "secrets"} <= set(schema["properties"])
    jsonschema.validators.validator_for(schema).check_schema(schema)
    license_text = resources.files(VENDOR).joinpath("licenses", "LICENSE.compose-spec")
    assert "Apache License" in license_text.read_text(encoding="utf-8")


def test_compose_file_validates_against_the_compose_spec(compose: dict[str, Any]) -> None:
    assert schema_errors(compose) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(
            lambda c: c["services"]["proxy-a"].update(profile=["scale"]),
            "'profile' was unexpected",
            id="misspelt-key",
        ),
        pytest.param(
            lambda c: c["services"]["nginx"].update(profiles="scale"),
            "is not of type 'array'",
            id="profiles-not-a-list",
        ),
        pytest.param(
            lambda c: c["services"]["redis"]["healthcheck"].update(test=5),
            "5 is not of type",
            id="bad-type",
        ),
        pytest.param(
            lambda c: c["services"]["proxy-b"]["depends_on"].update(redis={"condition": "up"}),
            "'up' is not one of",
            id="bad-condition",
        ),
    ],
)
def test_the_schema_rejects_a_broken_compose_file(change: Any, message: str) -> None:
    broken = copy.deepcopy(load_compose())
    change(broken)
    errors = schema_errors(broken)
    assert any(message in error for error in errors), errors


# ---------------------------------------------------------------- the scale profile


def test_default_up_is_unchanged_and_the_scale_profile_adds_four(compose: dict[str, Any]) -> None:
    services = compose["services"]
    default = {name for name, service in services.items() if "profiles" not in service}
    assert default == DEFAULT_SERVICES
    scale = {name for name, service in services.items() if "scale" in service.get("profiles", [])}
    assert scale == SCALE_SERVICES
    assert all(services[name]["profiles"] == ["scale"] for name in SCALE_SERVICES)
    for name in DEFAULT_SERVICES:  # a default service may not need a profiled one
        assert not set(services[name].get("depends_on", {})) & SCALE_SERVICES, name


def test_replicas_run_the_single_proxy_with_a_shared_store(compose: dict[str, Any]) -> None:
    services = compose["services"]
    single = services["proxy"]
    names = set()
    for name in REPLICAS:
        replica = services[name]
        assert replica["command"] == single["command"]
        assert replica["image"] == single["image"]
        env = replica["environment"]
        assert env.items() >= single["environment"].items(), "the single proxy's flags"
        assert set(env) - set(single["environment"]) == {
            "SHADOWPROXY_STORE",
            "SHADOWPROXY_REDIS_URL",
            "SHADOWPROXY_DIFF_LOG",
            "SHADOWPROXY_REPLICA",
        }
        assert set(env) <= PROXY_VARIABLES
        names.add(env["SHADOWPROXY_REPLICA"])
        assert replica["depends_on"]["redis"] == {"condition": "service_healthy"}
        assert replica["secrets"] == single["secrets"]
        (volume,) = replica["volumes"]
        assert volume.split(":", 1)[0] == f"{name}-data", "each replica its own local folders"
    assert names == set(REPLICAS), "each replica names itself in its records"


@pytest.mark.parametrize("name", REPLICAS)
def test_a_replica_starts_with_these_settings(
    compose: dict[str, Any], name: str, tmp_path: Path
) -> None:
    """The proxy's own parsers accept the replica's command and environment as they are."""
    service = compose["services"][name]
    token = tmp_path / "admin_token"
    token.write_text("0123456789abcdef0123456789abcdef\n")
    environ = dict(service["environment"], SHADOWPROXY_ADMIN_TOKEN_FILE=str(token))
    args = build_parser(environ).parse_args(service["command"])
    settings = load_settings(
        environ, legacy_url=args.legacy, app_url=args.app, listen=args.listen, admin=args.admin
    )
    assert settings.store == "redis"
    assert settings.replica == name
    assert settings.diff_log_output == "both"
    url = settings.redis_url
    assert url is not None
    match = re.fullmatch(r"redis://([a-z-]+):([0-9]+)/0", url)
    assert match is not None
    host, port = match.groups()
    assert host in compose["services"]
    assert "redis-server" in compose["services"][host]["command"]
    assert port == "6379"


def test_replicas_publish_their_admin_ports_apart_on_loopback(compose: dict[str, Any]) -> None:
    published: dict[str, str] = {}
    for name in (*REPLICAS, "proxy", "nginx"):
        for port in compose["services"][name]["ports"]:
            address, host_port, _ = str(port).split(":")
            assert address == "127.0.0.1"
            assert host_port not in published, f"{name} and {published.get(host_port)}"
            published[host_port] = name
    assert "ports" not in compose["services"]["redis"], "Redis only on the compose network"


def test_redis_matches_the_kubernetes_one(compose: dict[str, Any]) -> None:
    redis = compose["services"]["redis"]
    k8s = yaml.safe_load_all((DEPLOY_DIR / "k8s" / "redis.yaml").read_text())
    (deployment,) = [doc for doc in k8s if doc and doc["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert redis["image"] == container["image"]
    ours, theirs = redis_options(redis["command"]), redis_options(container["args"])
    assert ours["--save"] == ""
    assert ours["--appendonly"] == "no"
    assert ours.items() <= theirs.items()
    # the image turns protected mode off already; the cluster says so where a policy guards it
    assert set(theirs) - set(ours) == {"--protected-mode"}
    assert redis["healthcheck"]["test"] == ["CMD", *container["readinessProbe"]["exec"]["command"]]


def redis_options(argv: list[str]) -> dict[str, str]:
    assert argv[0] == "redis-server"
    assert len(argv) % 2 == 1, "every option has one value"
    return dict(zip(argv[1::2], argv[2::2], strict=True))


# ---------------------------------------------------------------- nginx


def nginx_directives(text: str) -> list[list[str]]:
    """`name arg ...;` statements and `name arg {` block openings, comments dropped."""
    code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    return [part.split() for part in re.split(r"[;{}]", code) if part.strip()]


def test_nginx_balances_both_replicas_for_http_and_websockets(compose: dict[str, Any]) -> None:
    nginx = compose["services"]["nginx"]
    (mount,) = nginx["volumes"]
    source, target, mode = mount.split(":")
    assert (DEPLOY_DIR / source).resolve() == NGINX.resolve()
    assert target.startswith("/etc/nginx/conf.d/")
    assert mode == "ro"
    directives = nginx_directives(NGINX.read_text())
    servers = {d[1] for d in directives if d[0] == "server" and len(d) > 1}
    listen = set()
    for name in REPLICAS:
        argv = compose["services"][name]["command"]
        listen.add(f"{name}:{argv[argv.index('--listen') + 1].rsplit(':', 1)[1]}")
    assert servers == listen
    assert ["upstream", "shadowproxy"] in directives
    assert ["proxy_pass", "http://shadowproxy"] in directives
    assert ["proxy_http_version", "1.1"] in directives
    assert ["proxy_set_header", "Upgrade", "$http_upgrade"] in directives
    assert ["proxy_set_header", "Connection", "$connection_upgrade"] in directives
    assert ["map", "$http_upgrade", "$connection_upgrade"] in directives
    assert ["default", "upgrade"] in directives
    (listen_port,) = [d[1] for d in directives if d[0] == "listen"]
    (published,) = nginx["ports"]
    assert str(published).rsplit(":", 1)[1] == listen_port
    timeout = {d[0]: d[1] for d in directives if d[0] == "proxy_read_timeout"}
    assert timeout["proxy_read_timeout"] in ("1h", "3600s"), "websockets idle for minutes"


def test_nginx_accepts_the_config(tmp_path: Path) -> None:
    """nginx's own parser, on the file as mounted into its http block (the replicas' names
    replaced by loopback, since nginx resolves upstream servers when it reads the file); the
    same file with a misspelt directive is refused, so the check is live."""
    binary = shutil.which("nginx")
    if binary is None:
        pytest.skip("nginx is not installed (Debian: nginx-light)")
    result = nginx_test(binary, NGINX.read_text(), tmp_path / "ok")
    assert result.returncode == 0, result.stderr
    broken = nginx_test(binary, NGINX.read_text() + "\nproxy_buffring off;\n", tmp_path / "bad")
    assert broken.returncode != 0
    assert "proxy_buffring" in broken.stderr


def nginx_test(binary: str, text: str, root: Path) -> subprocess.CompletedProcess[str]:
    root.mkdir()
    (root / "scale.conf").write_text(re.sub(r"\bproxy-[ab]:", "127.0.0.1:", text))
    temp = " ".join(
        f"{kind}_temp_path {root / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (root / "nginx.conf").write_text(
        f"pid {root / 'nginx.pid'};\nerror_log {root / 'error.log'};\nevents {{}}\n"
        f"http {{ access_log off; {temp} include {root / 'scale.conf'}; }}\n"
    )
    return subprocess.run(
        [binary, "-t", "-q", "-p", str(root), "-c", str(root / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=30,
    )
