"""The scale-out section of `make bench`: two replicas sharing a Redis store against one replica,
and what the store's lookups add on the shadow path.

Layouts, each in front of the same fake backends (benchmarks/backends.py: legacy, and the app
side that matches), every status request shadowed and compared (the proxy's defaults):

- one replica with the local store (the default, one machine);
- one replica with the Redis store (`SHADOWPROXY_STORE=redis`): what the store costs by itself;
- two replicas with the Redis store, as a scale-out runs them. The task-id pair is learned
  through the first replica; the second learns it from the store's announcement.

Each Redis layout has a database of its own on one `redis-server` the bench starts on a free
loopback port (benchmarks/redis_server.py). The closed-loop generator (wrk when installed, else
the built-in one) spreads its connections evenly over a layout's replicas: one run per replica
at the same time with its share of the connections (wrk takes one URL), merged into one run.
Rounds go in alternating order across the layouts. CPU per request is every replica's CPU time
(and apart, redis-server's) over the layout's runs, shadow drain included, over the requests
answered. The issue gives no target here: the section reports figures and ratios only.

The lookups (benchmarks/lookups.py) run in this process against the same `redis-server`.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks import lookups
from benchmarks.backends import serve_backends
from benchmarks.documents import LEGACY_ID
from benchmarks.load import BuiltIn, Generator, Run, combined, drive
from benchmarks.proxy import RunningProxy, metric_samples, run_proxy
from benchmarks.redis_server import RunningRedis, redis_binary, run_redis
from benchmarks.tables import table
from benchmarks.tools import Tools
from benchmarks.wrk import Wrk

STATUS_ROUTE = "/api/analysis/status/{task_id}"
STATUS_PATH = f"/api/analysis/status/{LEGACY_ID}"
TIMEOUT_S = 10.0  # a replica draining its shadows, or learning the pair from the store
WARM_UP_REQUESTS = 200


@dataclass(frozen=True, slots=True)
class Layout:
    key: str
    name: str
    replicas: int
    store: str  # "local" or "redis"
    db: int = 0  # the Redis database of this layout


LAYOUTS = (
    Layout("one_local", "one replica, local store", 1, "local"),
    Layout("one_redis", "one replica, Redis store", 1, "redis", db=1),
    Layout("two_redis", "two replicas, Redis store", 2, "redis", db=2),
)

# (name, figure, layout a, layout b): a / b, both from the same run
TWO, ONE, ONE_REDIS = "two_redis", "one_local", "one_redis"
RATIOS = (
    ("throughput: two replicas (Redis) / one replica (local)", "throughput", TWO, ONE),
    ("proxy CPU per request: two replicas (Redis) / one (local)", "cpu", TWO, ONE),
    ("p99: two replicas (Redis) / one replica (local)", "p99", TWO, ONE),
    ("throughput: one replica, Redis / local store", "throughput", ONE_REDIS, ONE),
    ("proxy CPU per request: one replica, Redis / local store", "cpu", ONE_REDIS, ONE),
)


@dataclass(frozen=True, slots=True)
class Counts:
    """One replica's status-route comparisons (by outcome) and skips (by reason)."""

    outcomes: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, float] = field(default_factory=dict)

    def __sub__(self, before: Counts) -> Counts:
        def minus(now: dict[str, float], then: dict[str, float]) -> dict[str, float]:
            return {k: v - then.get(k, 0.0) for k, v in now.items() if v - then.get(k, 0.0)}

        return Counts(minus(self.outcomes, before.outcomes), minus(self.skipped, before.skipped))


@dataclass(frozen=True, slots=True)
class Cluster:
    layout: Layout
    replicas: tuple[RunningProxy, ...]
    redis: RunningRedis | None

    @property
    def urls(self) -> list[str]:
        return [replica.url + STATUS_PATH for replica in self.replicas]

    def proxy_cpu_s(self) -> float:
        return sum(replica.cpu_seconds() for replica in self.replicas)

    def redis_cpu_s(self) -> float | None:
        return None if self.redis is None else self.redis.cpu_seconds()


@dataclass(frozen=True, slots=True)
class Measured:
    layout: Layout
    run: Run
    proxy_cpu_us: float | None  # every replica's CPU time per request answered
    redis_cpu_us: float | None
    peak_rss_mib: list[float]  # per replica
    counts: list[Counts]  # per replica, over the measured runs


async def spread(generator: Generator, urls: list[str], *, concurrency: int, seconds: float) -> Run:
    """One closed-loop run with `concurrency` connections spread evenly over `urls`."""
    shares = [concurrency // len(urls) + (i < concurrency % len(urls)) for i in range(len(urls))]
    runs = await asyncio.gather(
        *(
            generator.closed(url, concurrency=share, duration_s=seconds)
            for url, share in zip(urls, shares, strict=True)
            if share
        )
    )
    return merged(runs)


def merged(runs: list[Run]) -> Run:
    """Runs made at the same time as one: histograms and counts added, the longest elapsed."""
    one = combined(runs)
    return Run(
        one.generator, one.histogram, one.requests, max(r.elapsed_s for r in runs), one.errors
    )


async def counts(replica: RunningProxy) -> Counts:
    outcomes: dict[str, float] = {}
    skipped: dict[str, float] = {}
    for sample in await metric_samples(replica.admin_url):
        if sample.labels.get("route", STATUS_ROUTE) != STATUS_ROUTE:
            continue
        if sample.name == "shadowproxy_comparisons_total":
            key = sample.labels["outcome"]
            outcomes[key] = outcomes.get(key, 0.0) + sample.value
        elif sample.name == "shadowproxy_shadow_skipped_total":
            key = sample.labels["reason"]
            skipped[key] = skipped.get(key, 0.0) + sample.value
    return Counts(outcomes, skipped)


async def _gauge(replica: RunningProxy, name: str) -> float:
    return sum(s.value for s in await metric_samples(replica.admin_url) if s.name == name)


async def _until(replica: RunningProxy, name: str, ok: Callable[[float], bool], what: str) -> None:
    try:
        async with asyncio.timeout(TIMEOUT_S):
            while True:
                if ok(await _gauge(replica, name)):
                    return
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise RuntimeError(f"{replica.url}: {what} not within {TIMEOUT_S:g} s") from None


async def _teach(cluster: Cluster) -> None:
    """The task-id pair learned through the first replica; the others hear it from the store."""
    start = cluster.replicas[0].url + "/api/analysis/start"
    async with aiohttp.ClientSession() as session, session.post(start, json={}) as answer:
        await answer.read()
    for replica in cluster.replicas:
        await _until(replica, "shadowproxy_correlation_entries", lambda n: n >= 1, "the pair")
        await _until(replica, "shadowproxy_shadow_inflight", lambda n: n == 0, "the drain")


async def _settle(cluster: Cluster) -> None:
    for replica in cluster.replicas:
        await _until(replica, "shadowproxy_shadow_inflight", lambda n: n == 0, "the drain")


async def measure_layouts(
    clusters: list[Cluster], generator: Generator, *, concurrency: int, seconds: float, rounds: int
) -> dict[str, Measured]:
    runs: dict[str, list[Run]] = {c.layout.key: [] for c in clusters}
    proxy_s = dict.fromkeys(runs, 0.0)
    redis_s = dict.fromkeys(runs, 0.0)
    before = {c.layout.key: [await counts(r) for r in c.replicas] for c in clusters}
    for index in range(rounds):
        for cluster in clusters if index % 2 == 0 else clusters[::-1]:
            key = cluster.layout.key
            proxy_before, redis_before = cluster.proxy_cpu_s(), cluster.redis_cpu_s()
            runs[key].append(
                await spread(generator, cluster.urls, concurrency=concurrency, seconds=seconds)
            )
            await _settle(cluster)
            proxy_s[key] += cluster.proxy_cpu_s() - proxy_before
            redis_after = cluster.redis_cpu_s()
            if redis_before is not None and redis_after is not None:
                redis_s[key] += redis_after - redis_before
    measured = {}
    for cluster in clusters:
        key, run = cluster.layout.key, combined(runs[cluster.layout.key])
        per = 1e6 / run.requests if run.requests else None
        measured[key] = Measured(
            cluster.layout,
            run,
            None if per is None else proxy_s[key] * per,
            None if per is None or cluster.redis is None else redis_s[key] * per,
            [round(r.peak_rss_kib() / 1024, 1) for r in cluster.replicas],
            [await counts(r) - then for r, then in zip(cluster.replicas, before[key], strict=True)],
        )
    return measured


async def measure(
    tools: Tools,
    *,
    concurrency: int,
    seconds: float,
    rounds: int,
    iterations: int,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """The section's report: every layout measured, the ratios, the lookups."""
    binary = redis_binary()
    if binary is None:
        return {"skipped": "redis-server is not installed (Debian package: redis-server)"}
    with tempfile.TemporaryDirectory(prefix="sp-bench-scale-") as temporary:
        workdir = Path(temporary)
        generator: Generator = (
            BuiltIn() if tools.wrk is None else Wrk(tools.wrk, workdir, tools.wrk_version)
        )
        async with (
            run_redis(binary, workdir / "redis") as redis,
            serve_backends(slow_s=0.0) as backends,
            AsyncExitStack() as stack,
        ):
            clusters = []
            for layout in LAYOUTS:
                replicas = []
                for index in range(layout.replicas):
                    env = {}
                    if layout.store == "redis":
                        env = {
                            "SHADOWPROXY_STORE": "redis",
                            "SHADOWPROXY_REDIS_URL": redis.url(layout.db),
                            "SHADOWPROXY_REPLICA": f"{layout.key}-{index}",
                        }
                    folder = workdir / layout.key / str(index)
                    replicas.append(
                        await stack.enter_async_context(
                            run_proxy(backends.legacy_url, backends.app_url, folder, env)
                        )
                    )
                cluster = Cluster(
                    layout, tuple(replicas), redis if layout.store == "redis" else None
                )
                await _teach(cluster)
                for url in cluster.urls:
                    await drive(url, requests=WARM_UP_REQUESTS, concurrency=4)
                await _settle(cluster)
                clusters.append(cluster)
            say(f"scaleout: {len(clusters)} layouts up; closed loop ({generator.name})")
            measured = await measure_layouts(
                clusters, generator, concurrency=concurrency, seconds=seconds, rounds=rounds
            )
            say("scaleout: correlation lookups and creates, Redis store against local")
            cost = await lookups.measure(redis.url(3), iterations=iterations, workdir=workdir)
        return report(measured, cost, generator.name, redis.version, concurrency)


def _figure(measured: Measured, kind: str) -> float | None:
    return {
        "throughput": measured.run.throughput,
        "cpu": measured.proxy_cpu_us,
        "p99": measured.run.p99_ms,
    }[kind]


def ratios(measured: dict[str, Measured]) -> dict[str, float | None]:
    found: dict[str, float | None] = {}
    for name, kind, a, b in RATIOS:
        top = None if a not in measured else _figure(measured[a], kind)
        bottom = None if b not in measured else _figure(measured[b], kind)
        found[name] = None if top is None or not bottom else round(top / bottom, 3)
    return found


def report(
    measured: dict[str, Measured],
    cost: lookups.LookupCost,
    generator: str,
    redis_version: str,
    concurrency: int,
) -> dict[str, Any]:
    layouts = []
    for row in measured.values():
        run = row.run
        layouts.append(
            {
                "key": row.layout.key,
                "layout": row.layout.name,
                "replicas": row.layout.replicas,
                "store": row.layout.store,
                "requests": run.requests,
                "errors": run.errors,
                "requests_per_s": round(run.throughput, 1),
                "p50_ms": round(run.p50_ms, 3),
                "p99_ms": round(run.p99_ms, 3),
                "proxy_cpu_us_per_request": _rounded(row.proxy_cpu_us),
                "redis_cpu_us_per_request": _rounded(row.redis_cpu_us),
                "compared": _compared(row),
                "peak_rss_mib": row.peak_rss_mib,
                "comparisons": [c.outcomes for c in row.counts],
                "shadow_skipped": [c.skipped for c in row.counts],
            }
        )
    return {
        "generator": generator,
        "redis": redis_version,
        "concurrency": concurrency,
        "layouts": layouts,
        "ratios": ratios(measured),
        "lookups_us": cost.report(),
    }


def _compared(row: Measured) -> float | None:
    """The share of the requests answered whose shadow was compared (not skipped), all replicas."""
    compared = sum(
        n for c in row.counts for outcome, n in c.outcomes.items() if outcome != "skipped"
    )
    return round(compared / row.run.requests, 4) if row.run.requests else None


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _num(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def render(report: dict[str, Any], *, markdown: bool) -> str:
    """The section as text (console) or markdown (results/, README.md); '' when not run."""
    section = report.get("scale_out")
    if section is None:
        return ""
    title = "scale-out: two replicas sharing Redis against one replica, and the store's lookups"
    head = f"\n### {title}\n\n" if markdown else f"\n{title}\n"
    if "skipped" in section:
        return head + f"{'- ' if markdown else '  '}skipped: {section['skipped']}\n"
    bullet = "- " if markdown else "  "
    text = head + (
        f"{bullet}closed loop: {section['generator']}, {section['concurrency']} connections "
        f"spread over each layout's replicas; redis-server {section['redis']}\n"
    )
    rows = [
        [
            row["layout"],
            _num(row["requests_per_s"]),
            _num(row["p50_ms"], 2),
            _num(row["p99_ms"], 2),
            _num(row["proxy_cpu_us_per_request"]),
            _num(row["redis_cpu_us_per_request"]),
            "-" if row["compared"] is None else f"{100 * row['compared']:.1f}%",
            str(row["errors"]),
        ]
        for row in section["layouts"]
    ]
    headers = [
        "layout", "req/s", "p50 ms", "p99 ms", "proxy CPU µs/req", "redis µs/req", "compared",
        "errors",
    ]  # fmt: skip
    text += ("\n" if markdown else "") + table(headers, rows, markdown=markdown)
    for row in section["layouts"]:
        per = "; ".join(
            f"outcomes {_counted(outcomes)}, skipped {_counted(skipped)}"
            for outcomes, skipped in zip(row["comparisons"], row["shadow_skipped"], strict=True)
        )
        text += f"{bullet}{row['layout']} (per replica): {per}\n"
    ratio_rows = [[name, _num(value, 3)] for name, value in section["ratios"].items()]
    text += ("\n" if markdown else "") + table(["ratio", "value"], ratio_rows, markdown=markdown)
    lookup_rows = [
        [name, str(t["count"]), _num(t["mean_us"], 1), _num(t["p50_us"], 1), _num(t["p99_us"], 1)]
        for name, t in section["lookups_us"].items()
    ]
    headers = ["correlation map, µs", "calls", "mean", "p50", "p99"]
    return text + ("\n" if markdown else "") + table(headers, lookup_rows, markdown=markdown)


def _counted(counts: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.0f}" for k, v in sorted(counts.items())) or "none"


def print_section(report: dict[str, Any]) -> None:
    sys.stdout.write(render(report, markdown=False))
