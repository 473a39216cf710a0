"""Alertmanager routing: valid for the real amtool, critical pages and warning tickets, rollback
alerts to the proxy's own admin API (with its bearer token from a file) as well, no external
address, inhibitions about alerts that exist."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

DEPLOY_DIR = Path(__file__).resolve().parents[2] / "deploy"
CONFIG = DEPLOY_DIR / "alertmanager" / "alertmanager.yml"


def amtool(binary: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([binary, *argv], capture_output=True, text=True, timeout=60, check=False)


def test_config_passes_amtool(tool: Callable[[str], str]) -> None:
    result = amtool(tool("amtool"), "check-config", str(CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        pytest.param(
            ["severity=critical", "alertname=ShadowproxyAnalysisResultLost"],
            "shadowproxy-pager",
            id="critical-pages",
        ),
        pytest.param(
            ["severity=warning", "alertname=ShadowproxyParityLow"],
            "shadowproxy-tickets",
            id="warning-tickets",
        ),
        pytest.param(["alertname=Unlabelled"], "shadowproxy-tickets", id="default-tickets"),
        pytest.param(
            [
                "severity=critical",
                'rollback="true"',
                "route_group=analysis",
                "alertname=ShadowproxyAnalysisResultLost",
            ],
            "shadowproxy-rollback,shadowproxy-pager",
            id="rollback-trigger-rolls-back-and-pages",
        ),
        pytest.param(
            ['rollback="false"', "severity=critical", "alertname=ShadowproxyParityCritical"],
            "shadowproxy-pager",
            id="no-rollback-label-no-webhook",
        ),
    ],
)
def test_routing_by_severity(tool: Callable[[str], str], labels: list[str], receiver: str) -> None:
    result = amtool(
        tool("amtool"),
        "config",
        "routes",
        "test",
        f"--config.file={CONFIG}",
        f"--verify.receivers={receiver}",
        *labels,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receiver


def receiver_block(name: str) -> str:
    """The text of one receiver, up to the next one (the config's last section)."""
    text = CONFIG.read_text().split("\nreceivers:\n", 1)[1]
    parts = re.split(r"^(?=  - name: )", text, flags=re.MULTILINE)
    (block,) = [part for part in parts if part.startswith(f"  - name: {name}\n")]
    return block


def test_pager_and_ticket_receivers_are_loopback_placeholders() -> None:
    for name in ("shadowproxy-pager", "shadowproxy-tickets"):
        hosts = re.findall(r"https?://([^/:\s]+)", receiver_block(name))
        assert hosts
        assert set(hosts) <= {"127.0.0.1", "localhost"}


def test_every_other_address_is_the_compose_proxy_admin_port(
    load_yaml: Callable[[Path], list[object]],
) -> None:
    (compose,) = load_yaml(DEPLOY_DIR / "docker-compose.yml")
    assert isinstance(compose, dict)
    argv = compose["services"]["proxy"]["command"]
    admin_port = argv[argv.index("--admin") + 1].rsplit(":", 1)[1]
    settings = [
        line for line in CONFIG.read_text().splitlines() if not line.lstrip().startswith("#")
    ]
    addresses = set(re.findall(r"https?://([^/\s]+)", "\n".join(settings)))
    assert addresses - {"127.0.0.1:5001", "localhost:5001"} == {f"proxy:{admin_port}"}


def test_rollback_webhook_posts_to_the_proxy_with_the_mounted_token(
    load_yaml: Callable[[Path], list[object]],
) -> None:
    """The bearer token comes from the compose secret both services mount, never inline."""
    block = receiver_block("shadowproxy-rollback")
    assert re.search(r"^      - url: http://proxy:\d+/alertmanager$", block, re.MULTILINE)
    assert re.search(r"^        send_resolved: true$", block, re.MULTILINE)
    auth = block.split("        http_config:\n", 1)[1]
    assert re.search(r"^          authorization:\n            type: Bearer\n", auth, re.MULTILINE)
    (credentials,) = re.findall(r"^            credentials_file: (\S+)$", auth, re.MULTILINE)
    assert "credentials:" not in block.replace("credentials_file:", ""), "no inline token"
    (compose,) = load_yaml(DEPLOY_DIR / "docker-compose.yml")
    assert isinstance(compose, dict)
    (secret,) = compose["secrets"]
    assert credentials == f"/run/secrets/{secret}"
    assert secret in compose["services"]["alertmanager"]["secrets"]
    assert secret in compose["services"]["proxy"]["secrets"]


def test_rollback_route_is_first_short_and_continues_to_the_pager() -> None:
    """First, so no severity route swallows it; `continue`, so a human is still paged."""
    routes = CONFIG.read_text().split("\n  routes:\n", 1)[1].split("\n\n", 1)[0]
    first = re.split(r"^    - receiver: ", routes, flags=re.MULTILINE)[1]
    assert first.startswith("shadowproxy-rollback\n")
    assert "      matchers: ['rollback=\"true\"']\n" in first
    assert "      continue: true\n" in first
    (wait,) = re.findall(r"^      group_wait: (\d+)s$", first, re.MULTILINE)
    assert int(wait) <= 5


def test_inhibitions_name_existing_alerts(
    rules_in: Callable[[Path], list[tuple[str, str, str]]],
) -> None:
    alerts = {name for _, name, _ in rules_in(DEPLOY_DIR / "prometheus" / "rules" / "alerts.yml")}
    named = set(re.findall(r"alertname=\"(\w+)\"", CONFIG.read_text()))
    assert named
    assert named <= alerts
