"""Alertmanager routing: valid for the real amtool, critical pages and warning tickets, no
external address, inhibitions about alerts that exist."""

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


def test_receivers_are_loopback_placeholders() -> None:
    hosts = re.findall(r"https?://([^/:\s]+)", CONFIG.read_text())
    assert hosts
    assert set(hosts) <= {"127.0.0.1", "localhost"}


def test_inhibitions_name_existing_alerts(
    rules_in: Callable[[Path], list[tuple[str, str, str]]],
) -> None:
    alerts = {name for _, name, _ in rules_in(DEPLOY_DIR / "prometheus" / "rules" / "alerts.yml")}
    named = set(re.findall(r"alertname=\"(\w+)\"", CONFIG.read_text()))
    assert named
    assert named <= alerts
