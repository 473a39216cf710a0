"""Client latency and proxy memory with and without the shadow, measured in one run."""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from benchmarks.backends import serve_backends
from benchmarks.documents import LEGACY_ID
from benchmarks.load import LoadResult, drive
from benchmarks.proxy import RunningProxy, run_proxy

SLOW_SHADOW_S = 1.0
STATUS_PATH = f"/api/analysis/status/{LEGACY_ID}"


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    proxied: bool
    shadow: bool = False
    shadow_delay_s: float = 0.0


SCENARIOS = (
    Scenario("direct to the backend", proxied=False),
    Scenario("proxy, shadow off", proxied=True),
    Scenario("proxy, shadow on", proxied=True, shadow=True),
    Scenario(f"proxy, shadow on, {SLOW_SHADOW_S:g} s shadow", True, True, SLOW_SHADOW_S),
)


@dataclass(frozen=True, slots=True)
class Measured:
    scenario: Scenario
    latency: LoadResult  # one client, one request at a time: added latency, no CPU contention
    load: LoadResult  # `concurrency` clients: throughput and latency under saturation
    peak_rss_kib: int | None = None
    outcomes: dict[str, float] | None = None
    skipped: dict[str, float] | None = None


async def measure(*, requests: int, concurrency: int) -> list[Measured]:
    measured: list[Measured] = []
    async with serve_backends() as backends:
        legacy_url, app_url = backends.legacy_url, backends.app_url
        for scenario in SCENARIOS:
            backends.app.delay_s = scenario.shadow_delay_s
            if not scenario.proxied:
                latency, load = await _drive_both(legacy_url, requests, concurrency)
                measured.append(Measured(scenario, latency, load))
                continue
            env = {"SHADOWPROXY_SHADOW": "on" if scenario.shadow else "off"}
            with tempfile.TemporaryDirectory(prefix="shadowproxy-bench-") as workdir:
                async with run_proxy(legacy_url, app_url, Path(workdir), env) as proxy:
                    measured.append(await _through(proxy, scenario, requests, concurrency))
    return measured


async def _through(
    proxy: RunningProxy, scenario: Scenario, requests: int, concurrency: int
) -> Measured:
    # teach the correlation map the pair of task ids, as a dashboard's start would
    start = proxy.url + "/api/analysis/start"
    async with aiohttp.ClientSession() as session, session.post(start, json={}) as answer:
        await answer.read()
    latency, load = await _drive_both(proxy.url, requests, concurrency)
    if scenario.shadow_delay_s:
        await asyncio.sleep(scenario.shadow_delay_s * 1.5)  # let the last shadows finish
    outcomes, skipped = await _counters(proxy.admin_url)
    return Measured(scenario, latency, load, proxy.peak_rss_kib(), outcomes, skipped)


async def _drive_both(
    base_url: str, requests: int, concurrency: int
) -> tuple[LoadResult, LoadResult]:
    url = base_url + STATUS_PATH
    await drive(url, requests=requests // 10, concurrency=2)  # warm-up: pools, caches
    latency = await drive(url, requests=requests // 2, concurrency=1)
    load = await drive(url, requests=requests, concurrency=concurrency)
    return latency, load


async def _counters(admin_url: str) -> tuple[dict[str, float], dict[str, float]]:
    async with aiohttp.ClientSession() as session, session.get(admin_url + "/metrics") as r:
        page = await r.text()
    outcomes: dict[str, float] = {}
    skipped: dict[str, float] = {}
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            if sample.name == "shadowproxy_comparisons_total":
                key = sample.labels["outcome"]
                outcomes[key] = outcomes.get(key, 0) + sample.value
            elif sample.name == "shadowproxy_shadow_skipped_total":
                key = sample.labels["reason"]
                skipped[key] = skipped.get(key, 0) + sample.value
    return outcomes, skipped
