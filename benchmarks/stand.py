"""The stand every HTTP scenario runs on, up for the whole run, and how a scenario is measured.

Up at once, on loopback: the fake backends (benchmarks/backends.py), one real `shadowproxy run`
subprocess per proxy scenario (default settings but what the scenario needs), and, when nginx is
installed, nginx as a plain proxy and with `mirror` (benchmarks/nginx.py). `rounds()` measures
several targets in rounds in alternating order, so a noisy moment of the machine is spread over
all of them and their ratios stay meaningful; after each run the target settles (the proxy's
shadows drain) before its CPU time is read, so no run's background work lands in another's.

The dead shadow is a side that answers while the proxy learns its task-id pair (a dashboard's
start) and is then stopped: its port refuses every later shadow call.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import aiohttp

from benchmarks.backends import Side, serve_backends, serve_side
from benchmarks.documents import APP_ID, LEGACY_ID, app_status
from benchmarks.load import Generator, Run, combined, drive
from benchmarks.nginx import RunningNginx, run_nginx
from benchmarks.proxy import RunningProxy, metric_samples, run_proxy
from benchmarks.tools import Tools

SLOW_SHADOW_S = 0.2
STATUS_ROUTE = "/api/analysis/status/{task_id}"
STATUS_PATH = f"/api/analysis/status/{LEGACY_ID}"
DRAIN_TIMEOUT_S = 10.0
NGINX_SETTLE_S = 0.2  # mirror subrequests finish after the client's answer
WARM_UP_REQUESTS = 200


class Kind(StrEnum):
    DIRECT = "direct"
    NGINX = "nginx"
    PROXY = "proxy"


@dataclass(frozen=True, slots=True)
class Scenario:
    key: str
    name: str
    kind: Kind
    shadow: str | None = None  # the second side: app, mismatch, slow or dead
    env: tuple[tuple[str, str], ...] = ()  # proxy settings the scenario needs


SCENARIOS = (
    Scenario("direct", "direct to the backend", Kind.DIRECT),
    Scenario("nginx", "nginx, plain proxy", Kind.NGINX),
    Scenario("nginx_mirror", "nginx, mirror", Kind.NGINX, "app"),
    Scenario("off", "proxy, shadow off", Kind.PROXY, "app", (("SHADOWPROXY_SHADOW", "off"),)),
    Scenario("on", "proxy, shadow + diff", Kind.PROXY, "app"),
    Scenario("mismatch", "proxy, 10% mismatching", Kind.PROXY, "mismatch"),
    Scenario("slow", f"proxy, {SLOW_SHADOW_S * 1000:.0f} ms shadow", Kind.PROXY, "slow"),
    Scenario("dead", "proxy, dead shadow", Kind.PROXY, "dead"),
)
BY_KEY = {scenario.key: scenario for scenario in SCENARIOS}


@dataclass(frozen=True, slots=True)
class Counters:
    """The proxy's admin counters for the status route (requests, comparisons, skips)."""

    requests: float = 0.0
    outcomes: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, float] = field(default_factory=dict)

    def __sub__(self, before: Counters) -> Counters:
        def minus(now: dict[str, float], then: dict[str, float]) -> dict[str, float]:
            return {k: v - then.get(k, 0.0) for k, v in now.items() if v - then.get(k, 0.0)}

        return Counters(
            self.requests - before.requests,
            minus(self.outcomes, before.outcomes),
            minus(self.skipped, before.skipped),
        )

    @property
    def compared(self) -> float:
        """Comparisons with an outcome (a skip decided after the shadow call is none)."""
        return sum(count for outcome, count in self.outcomes.items() if outcome != "skipped")

    @property
    def coverage(self) -> float | None:
        return self.compared / self.requests if self.requests else None


@dataclass(frozen=True, slots=True)
class Target:
    scenario: Scenario
    url: str  # the status document on this target
    process: RunningProxy | RunningNginx | None = None

    def cpu_seconds(self) -> float | None:
        return None if self.process is None else self.process.cpu_seconds()

    def peak_rss_kib(self) -> int | None:
        return None if self.process is None else self.process.peak_rss_kib()

    async def settle(self) -> None:
        if isinstance(self.process, RunningProxy):
            await _drained(self.process.admin_url)
        elif self.process is not None:
            await asyncio.sleep(NGINX_SETTLE_S)

    async def counters(self) -> Counters | None:
        if not isinstance(self.process, RunningProxy):
            return None
        return await _counters(self.process.admin_url)


@dataclass(frozen=True, slots=True)
class Stand:
    targets: dict[str, Target]  # by scenario key: the scenarios that run
    generator: Generator  # closed-loop: wrk or the built-in one
    missing: dict[str, str]  # scenario key -> why it does not run


@dataclass(frozen=True, slots=True)
class Sample:
    run: Run
    cpu_us_per_request: float | None  # the target's process(es); None for direct


Measure = Callable[[Target], Awaitable[Run]]


async def rounds(targets: Sequence[Target], measure: Measure, *, count: int) -> dict[str, Sample]:
    """Each target measured `count` times, in alternating order; CPU time over its own runs."""
    runs: dict[str, list[Run]] = {target.scenario.key: [] for target in targets}
    cpu_s = dict.fromkeys(runs, 0.0)
    for index in range(count):
        for target in targets if index % 2 == 0 else targets[::-1]:
            started = target.cpu_seconds()
            runs[target.scenario.key].append(await measure(target))
            await target.settle()
            ended = target.cpu_seconds()
            if started is not None and ended is not None:
                cpu_s[target.scenario.key] += ended - started
    samples = {}
    for target in targets:
        run = combined(runs[target.scenario.key])
        cpu = None
        if target.process is not None and run.requests:
            cpu = cpu_s[target.scenario.key] / run.requests * 1e6
        samples[target.scenario.key] = Sample(run, cpu)
    return samples


@asynccontextmanager
async def open_stand(tools: Tools, generator: Generator, *, workdir: Path) -> AsyncIterator[Stand]:
    """Every scenario's target started, taught its task-id pair and warmed up."""
    missing = {}
    if tools.nginx is None:
        why = f"nginx {tools.why_missing.get('nginx', 'not available')}"
        missing = {s.key: why for s in SCENARIOS if s.kind is Kind.NGINX}
    async with serve_backends(slow_s=SLOW_SHADOW_S) as backends, AsyncExitStack() as stack:
        dying = await serve_side(Side(APP_ID, app_status))
        stack.push_async_callback(dying.stop)
        shadows = {
            "app": backends.app_url,
            "mismatch": backends.mismatch_app_url,
            "slow": backends.slow_app_url,
            "dead": dying.url,
        }
        targets = {"direct": Target(BY_KEY["direct"], backends.legacy_url + STATUS_PATH)}

        async def start(scenario: Scenario) -> None:
            shadow = None if scenario.shadow is None else shadows[scenario.shadow]
            folder = workdir / scenario.key
            process: RunningProxy | RunningNginx
            if scenario.kind is Kind.NGINX:
                assert tools.nginx is not None
                process = await stack.enter_async_context(
                    run_nginx(
                        tools.nginx, upstream=backends.legacy_url, mirror=shadow, workdir=folder
                    )
                )
            else:
                assert shadow is not None
                process = await stack.enter_async_context(
                    run_proxy(backends.legacy_url, shadow, folder, dict(scenario.env))
                )
                await _teach_correlation(process)
            targets[scenario.key] = Target(scenario, process.url + STATUS_PATH, process)

        async with asyncio.TaskGroup() as group:
            for scenario in SCENARIOS:
                if scenario.kind is not Kind.DIRECT and scenario.key not in missing:
                    group.create_task(start(scenario))
        await dying.stop()  # the dead shadow's pair is learned: from now on its port refuses
        ordered = {s.key: targets[s.key] for s in SCENARIOS if s.key in targets}
        for target in ordered.values():  # warm-up: connection pools, caches, the drift learner
            await drive(target.url, requests=WARM_UP_REQUESTS, concurrency=4)
            await target.settle()
        yield Stand(ordered, generator, missing)


async def _teach_correlation(proxy: RunningProxy) -> None:
    """Pair the two sides' task ids, as a dashboard's start would."""
    start = proxy.url + "/api/analysis/start"
    async with aiohttp.ClientSession() as session, session.post(start, json={}) as answer:
        await answer.read()
    await _drained(proxy.admin_url)


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


async def _counters(admin_url: str) -> Counters:
    requests = 0.0
    outcomes: dict[str, float] = {}
    skipped: dict[str, float] = {}
    for sample in await metric_samples(admin_url):
        if sample.labels.get("route", STATUS_ROUTE) != STATUS_ROUTE:
            continue  # skips are counted by route group only: the status route's, in effect
        if sample.name == "shadowproxy_requests_total":
            requests += sample.value
        elif sample.name == "shadowproxy_comparisons_total":
            key = sample.labels["outcome"]
            outcomes[key] = outcomes.get(key, 0.0) + sample.value
        elif sample.name == "shadowproxy_shadow_skipped_total":
            key = sample.labels["reason"]
            skipped[key] = skipped.get(key, 0.0) + sample.value
    return Counters(requests, outcomes, skipped)
