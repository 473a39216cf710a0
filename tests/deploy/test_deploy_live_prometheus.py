"""A real Prometheus scrapes an exposition made by prometheus_client with the fixed metric names
and evaluates deploy/prometheus/rules: the recordings produce numbers and the alerts go pending.

This is the one place the rules meet the real client library's text format (`_total` suffixes,
`_created` series, histogram buckets) and a real rule evaluator, not promtool's synthetic series.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

RULES_DIR = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "rules"
STATUS_ROUTE = "/api/analysis/status/{task_id}"
WAIT_S = 60.0  # bound on every wait: start-up, first scrapes, first rule evaluations


class FakeProxyMetrics:
    """The other side of the boundary: an exporter shaped like shadowproxy's admin /metrics.

    Every scrape adds one more round of traffic, so rates are steady and ratios exact:
    analysis 19 matches to 1 mismatch (parity 95%: below the 99% warning, clear of the 90%
    critical threshold) with a lost decision, reports all matching.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.comparisons = Counter(
            "shadowproxy_comparisons_total",
            "comparisons",
            ["route_group", "route", "outcome"],
            registry=self.registry,
        )
        self.fields = Counter(
            "shadowproxy_field_mismatches_total",
            "field mismatches",
            ["route_group", "field"],
            registry=self.registry,
        )
        self.requests = Counter(
            "shadowproxy_requests_total",
            "requests",
            ["route_group", "route", "method", "authoritative", "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "shadowproxy_upstream_duration_seconds",
            "upstream latency",
            ["side", "role", "route_group"],
            registry=self.registry,
        )
        side = Gauge(
            "shadowproxy_authoritative_side",
            "authoritative side",
            ["route_group", "side"],
            registry=self.registry,
        )
        side.labels("analysis", "legacy").set(1)
        side.labels("analysis", "app").set(0)

    def one_round(self) -> bytes:
        self.comparisons.labels("analysis", STATUS_ROUTE, "match").inc(19)
        self.comparisons.labels("analysis", STATUS_ROUTE, "mismatch").inc(1)
        self.comparisons.labels("reports", "/api/reports/list", "match").inc(4)
        self.fields.labels("analysis", "decision").inc(1)
        self.requests.labels("analysis", STATUS_ROUTE, "GET", "legacy", "200").inc(10)
        timings = self.latency.labels("legacy", "authoritative", "analysis")
        for seconds in (0.02, 0.02, 0.02, 0.02, 0.02, 0.3, 0.3, 0.3, 0.3, 0.3):
            timings.observe(seconds)
        return generate_latest(self.registry)


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
async def exporter(aiohttp_server: Callable[..., Any]) -> TestServer:
    metrics = FakeProxyMetrics()

    async def handle(_: web.Request) -> web.Response:
        return web.Response(body=metrics.one_round(), content_type="text/plain")

    app = web.Application()
    app.router.add_get("/metrics", handle)
    server: TestServer = await aiohttp_server(app, host="127.0.0.1")
    return server


@pytest.fixture
async def prometheus_url(
    tool: Callable[[str], str], exporter: TestServer, tmp_path: Path
) -> AsyncIterator[str]:
    binary = tool("prometheus")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"rule_files:\n  - {RULES_DIR / 'recording.yml'}\n  - {RULES_DIR / 'alerts.yml'}\n"
        "scrape_configs:\n  - job_name: shadowproxy\n    static_configs:\n"
        f'      - targets: ["127.0.0.1:{exporter.port}"]\n'
    )
    port = free_loopback_port()
    log = (tmp_path / "prometheus.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        stdout=log,
        stderr=log,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=15)
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()


async def poll(session: aiohttp.ClientSession, url: str, ready: Callable[[Any], bool]) -> Any:
    """GET a Prometheus API URL until `ready(data)`; bounded, never a timed assertion."""
    deadline = asyncio.get_running_loop().time() + WAIT_S
    data: Any = None
    while asyncio.get_running_loop().time() < deadline:
        try:
            async with session.get(url) as response:
                if response.status == 200:
                    data = (await response.json())["data"]
                    if ready(data):
                        return data
        except aiohttp.ClientConnectionError:
            pass  # still starting
        await asyncio.sleep(0.5)
    pytest.fail(f"Prometheus never answered {url} as expected; last data: {data!r}")


def by_group(result: list[dict[str, Any]]) -> dict[str, float]:
    return {item["metric"]["route_group"]: float(item["value"][1]) for item in result}


async def query(session: aiohttp.ClientSession, base: str, expr: str) -> dict[str, float]:
    url = f"{base}/api/v1/query?{urlencode({'query': expr})}"
    result = await poll(session, url, lambda data: bool(data["result"]))
    return by_group(result["result"])


async def test_recordings_evaluate_on_a_real_scrape(prometheus_url: str) -> None:
    async with aiohttp.ClientSession() as session:
        parity = await query(session, prometheus_url, "route_group:shadowproxy_parity:ratio5m")
        p50 = await query(
            session,
            prometheus_url,
            "side_role_route_group:shadowproxy_upstream_duration_seconds:p50_5m",
        )
        p95 = await query(
            session,
            prometheus_url,
            "side_role_route_group:shadowproxy_upstream_duration_seconds:p95_5m",
        )
    assert parity["analysis"] == pytest.approx(0.95)
    assert parity["reports"] == pytest.approx(1.0)
    # default client buckets: half the observations at or under 0.025 s, the rest under 0.5 s
    assert 0.01 < p50["analysis"] <= 0.025
    assert 0.25 < p95["analysis"] <= 0.5


async def test_alerts_go_pending_on_a_real_scrape(prometheus_url: str) -> None:
    wanted = {"ShadowproxyParityLow", "ShadowproxyAnalysisResultLost"}

    def both_pending(data: Any) -> bool:
        return wanted <= {alert["labels"]["alertname"] for alert in data["alerts"]}

    async with aiohttp.ClientSession() as session:
        data = await poll(session, f"{prometheus_url}/api/v1/alerts", both_pending)
    alerts = {(a["labels"]["alertname"], a["labels"].get("route_group")): a for a in data["alerts"]}
    assert alerts[("ShadowproxyParityLow", "analysis")]["state"] == "pending"
    assert alerts[("ShadowproxyAnalysisResultLost", "analysis")]["labels"]["field"] == "decision"
    # the healthy group and the critical threshold (95% is not below 90%) stay quiet
    assert ("ShadowproxyParityLow", "reports") not in alerts
    assert not any(name == "ShadowproxyParityCritical" for name, _ in alerts)
