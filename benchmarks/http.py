"""Client latency, proxy CPU per request and proxy memory, with and without the shadow, in one run.

All scenarios stay up for the whole run (three proxy subprocesses and the direct target) and
are measured in rounds, in alternating order, so a noisy moment of the machine is spread over
every scenario and the ratios between them stay meaningful. After each batch the proxy's
shadows drain, so one scenario's background work never lands in another's measurement.
"""

from __future__ import annotations

import asyncio
import tempfile
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from benchmarks.backends import serve_backends
from benchmarks.documents import LEGACY_ID
from benchmarks.load import LoadResult, drive, merged
from benchmarks.proxy import RunningProxy, metric_samples, run_proxy

SLOW_SHADOW_S = 1.0
STATUS_PATH = f"/api/analysis/status/{LEGACY_ID}"
ROUNDS = 4
DRAIN_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    proxied: bool
    shadow: bool = False
    slow_shadow: bool = False


SCENARIOS = (
    Scenario("direct to the backend", proxied=False),
    Scenario("proxy, shadow off", proxied=True),
    Scenario("proxy, shadow on", proxied=True, shadow=True),
    Scenario(f"proxy, shadow on, {SLOW_SHADOW_S:g} s shadow", True, True, True),
)


@dataclass(frozen=True, slots=True)
class Measured:
    scenario: Scenario
    latency: LoadResult  # one client, one request at a time: added latency, no CPU contention
    load: LoadResult  # `concurrency` clients: throughput and latency under saturation
    peak_rss_kib: int | None = None
    # proxy process CPU time over the measured requests, shadow work included: the figure that
    # counts on a CPU-bound machine
    cpu_us_per_request: float | None = None
    outcomes: dict[str, float] | None = None
    skipped: dict[str, float] | None = None


async def measure(*, requests: int, concurrency: int) -> list[Measured]:
    async with (
        serve_backends(slow_s=SLOW_SHADOW_S) as backends,
        AsyncExitStack() as stack,
    ):
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sp-bench-")))
        proxies: dict[Scenario, RunningProxy] = {}
        for index, scenario in enumerate(SCENARIOS):
            if not scenario.proxied:
                continue
            app_url = backends.slow_app_url if scenario.slow_shadow else backends.app_url
            env = {"SHADOWPROXY_SHADOW": "on" if scenario.shadow else "off"}
            proxies[scenario] = await stack.enter_async_context(
                run_proxy(backends.legacy_url, app_url, workdir / str(index), env)
            )
            await _teach_correlation(proxies[scenario])
        urls = {
            scenario: (proxies[scenario].url if scenario.proxied else backends.legacy_url)
            + STATUS_PATH
            for scenario in SCENARIOS
        }
        for url in urls.values():  # warm-up: connection pools, caches
            await drive(url, requests=max(requests // 10, 10), concurrency=2)
        cpu_s = dict.fromkeys(proxies, 0.0)
        sequential: dict[Scenario, list[LoadResult]] = {s: [] for s in SCENARIOS}
        loaded: dict[Scenario, list[LoadResult]] = {s: [] for s in SCENARIOS}
        batch = max(requests // ROUNDS, 2)
        for round_ in range(ROUNDS):
            order = SCENARIOS if round_ % 2 == 0 else SCENARIOS[::-1]
            for scenario in order:
                url = urls[scenario]
                proxy = proxies.get(scenario)
                started = 0.0 if proxy is None else proxy.cpu_seconds()
                sequential[scenario].append(await drive(url, requests=batch // 2, concurrency=1))
                loaded[scenario].append(await drive(url, requests=batch, concurrency=concurrency))
                if proxy is not None:
                    await _drained(proxy.admin_url)
                    cpu_s[scenario] += proxy.cpu_seconds() - started
        measured = []
        for scenario in SCENARIOS:
            latency, load = merged(sequential[scenario]), merged(loaded[scenario])
            proxy = proxies.get(scenario)
            if proxy is None:
                measured.append(Measured(scenario, latency, load))
                continue
            outcomes, skipped = await _counters(proxy.admin_url)
            per_request = cpu_s[scenario] / (len(latency.latencies_s) + len(load.latencies_s)) * 1e6
            measured.append(
                Measured(
                    scenario, latency, load, proxy.peak_rss_kib(), per_request, outcomes, skipped
                )
            )
        return measured


async def _teach_correlation(proxy: RunningProxy) -> None:
    """Pair the two sides' task ids, as a dashboard's start would."""
    start = proxy.url + "/api/analysis/start"
    async with aiohttp.ClientSession() as session, session.post(start, json={}) as answer:
        await answer.read()


async def _drained(admin_url: str) -> None:
    """Until the proxy has no shadow in flight (bounded: a stuck proxy fails the run)."""
    async with asyncio.timeout(DRAIN_TIMEOUT_S):
        while True:
            inflight = next(
                sample.value
                for sample in await metric_samples(admin_url)
                if sample.name == "shadowproxy_shadow_inflight"
            )
            if inflight == 0:
                return
            await asyncio.sleep(0.05)


async def _counters(admin_url: str) -> tuple[dict[str, float], dict[str, float]]:
    outcomes: dict[str, float] = {}
    skipped: dict[str, float] = {}
    for sample in await metric_samples(admin_url):
        if sample.name == "shadowproxy_comparisons_total":
            key = sample.labels["outcome"]
            outcomes[key] = outcomes.get(key, 0) + sample.value
        elif sample.name == "shadowproxy_shadow_skipped_total":
            key = sample.labels["reason"]
            skipped[key] = skipped.get(key, 0) + sample.value
    return outcomes, skipped
