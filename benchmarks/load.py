"""The built-in load generator (aiohttp, one event loop) and the measured run of any generator.

- `drive`: closed loop, `concurrency` clients each sending its next GET when the last is
  answered, for `requests` in all or for `duration_s`;
- `pace`: open loop, GETs sent at a fixed rate whatever the answers (a slow target does not slow
  the offered load), each timed from its own send;
- `Run`: what a scenario reports, the same for wrk (benchmarks/wrk.py): latencies as a histogram
  in microseconds (exact percentiles, and rounds pooled exactly), errors, elapsed time.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

import aiohttp

BUILT_IN = "built-in"
REQUEST_TIMEOUT_S = 10.0  # a request not answered by then is an error: every run is bounded


@dataclass(frozen=True, slots=True)
class LoadResult:
    latencies_s: tuple[float, ...]
    elapsed_s: float
    errors: int

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies_s) * 1000

    @property
    def p95_ms(self) -> float:
        return statistics.quantiles(self.latencies_s, n=20)[-1] * 1000

    @property
    def throughput(self) -> float:
        return len(self.latencies_s) / self.elapsed_s

    def run(self, generator: str = BUILT_IN) -> Run:
        histogram = Counter(round(latency * 1e6) for latency in self.latencies_s)
        return Run(generator, dict(histogram), len(self.latencies_s), self.elapsed_s, self.errors)


@dataclass(frozen=True, slots=True)
class Run:
    """One measured run: latencies (microseconds -> count) of the answered requests, errors apart.

    wrk's histogram carries wrk's coordinated-omission correction (synthetic samples for answers
    slower than the mean interval between requests), as its own percentiles do: `requests` is
    what was answered, not the histogram's total.
    """

    generator: str
    histogram: Mapping[int, int]
    requests: int  # answered in time with a 2xx/3xx (the built-in generator: a 200)
    elapsed_s: float
    errors: int

    @property
    def throughput(self) -> float:
        return self.requests / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def percentile_ms(self, percent: float) -> float:
        """Nearest rank: the smallest latency at least `percent`% of the requests did not exceed."""
        rank = max(1, -(-sum(self.histogram.values()) * percent // 100))  # ceiling
        seen = 0
        for latency_us in sorted(self.histogram):
            seen += self.histogram[latency_us]
            if seen >= rank:
                return latency_us / 1000
        return 0.0  # no request answered

    @property
    def p50_ms(self) -> float:
        return self.percentile_ms(50)

    @property
    def p99_ms(self) -> float:
        return self.percentile_ms(99)

    @property
    def p999_ms(self) -> float:
        return self.percentile_ms(99.9)


def combined(runs: Iterable[Run]) -> Run:
    """Several runs of one scenario as one (histograms added, times and errors summed)."""
    runs = list(runs)
    histogram: Counter[int] = Counter()
    for run in runs:
        histogram.update(run.histogram)
    return Run(
        runs[0].generator,
        dict(histogram),
        sum(run.requests for run in runs),
        sum(run.elapsed_s for run in runs),
        sum(run.errors for run in runs),
    )


class Generator(Protocol):
    """A closed-loop load generator: the built-in one below, or wrk."""

    @property
    def name(self) -> str: ...

    async def closed(self, url: str, *, concurrency: int, duration_s: float) -> Run: ...


class BuiltIn:
    name = BUILT_IN

    async def closed(self, url: str, *, concurrency: int, duration_s: float) -> Run:
        result = await drive(url, concurrency=concurrency, duration_s=duration_s)
        return result.run(self.name)


def _session(connections: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections),
        timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
    )


async def _get(session: aiohttp.ClientSession, url: str) -> float | None:
    """One GET's latency in seconds, or None when it failed (an error status included)."""
    started = time.perf_counter()
    try:
        async with session.get(url) as response:
            await response.read()
            if response.status != 200:
                return None
    except (aiohttp.ClientError, TimeoutError):
        return None
    return time.perf_counter() - started


async def drive(
    url: str, *, concurrency: int, requests: int | None = None, duration_s: float | None = None
) -> LoadResult:
    """`concurrency` clients in a closed loop until `requests` are sent or `duration_s` passed."""
    if (requests is None) == (duration_s is None):
        raise ValueError("drive takes requests or duration_s")
    latencies: list[float] = []
    errors = 0
    remaining = iter(range(requests)) if requests is not None else None
    async with _session(concurrency) as session:
        started = time.perf_counter()
        deadline = started + (duration_s or 0.0)

        def more() -> bool:
            if remaining is not None:
                return next(remaining, None) is not None
            return time.perf_counter() < deadline

        async def client() -> None:
            nonlocal errors
            while more():
                latency = await _get(session, url)
                if latency is None:
                    errors += 1
                else:
                    latencies.append(latency)

        await asyncio.gather(*(client() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return LoadResult(tuple(latencies), elapsed, errors)


async def pace(url: str, *, rate: float, duration_s: float, connections: int = 64) -> LoadResult:
    """Open loop: a GET every 1/`rate` s for `duration_s`, each timed from its own send."""
    latencies: list[float] = []
    errors = 0
    count = max(1, round(rate * duration_s))

    async def one() -> None:
        nonlocal errors
        latency = await _get(session, url)
        if latency is None:
            errors += 1
        else:
            latencies.append(latency)

    async with _session(connections) as session, asyncio.TaskGroup() as group:
        started = time.perf_counter()
        for index in range(count):
            delay = started + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            group.create_task(one())
    return LoadResult(tuple(latencies), time.perf_counter() - started, errors)
