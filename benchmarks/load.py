"""A closed-loop load generator: `concurrency` clients, `requests` GETs in all, latencies kept."""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass

import aiohttp


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


async def drive(url: str, *, requests: int, concurrency: int) -> LoadResult:
    latencies: list[float] = []
    errors = 0
    remaining = iter(range(requests))
    connector = aiohttp.TCPConnector(limit=concurrency)

    async with aiohttp.ClientSession(connector=connector) as session:

        async def client() -> None:
            nonlocal errors
            for _ in remaining:
                started = time.perf_counter()
                async with session.get(url) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return LoadResult(tuple(latencies), elapsed, errors)


def merged(results: list[LoadResult]) -> LoadResult:
    """Several batches of one scenario as one result (latencies pooled, times summed)."""
    return LoadResult(
        tuple(latency for result in results for latency in result.latencies_s),
        sum(result.elapsed_s for result in results),
        sum(result.errors for result in results),
    )
