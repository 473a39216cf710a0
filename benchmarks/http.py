"""The HTTP scenarios side by side: throughput, latency, CPU per request and memory, in one run.

- `measure`: every scenario of the stand (benchmarks/stand.py) saturated by the closed-loop
  generator (wrk when installed, else the built-in one) at `concurrency` clients, in rounds; per
  scenario the pooled latency percentiles, requests/s, the CPU time of its process(es) per
  request, peak RSS, and for the proxy its admin counters over the measured runs (comparisons,
  skips: the coverage);
- `paced`: direct, plain nginx and the proxy with the shadow off and on at a fixed offered rate
  (open loop, built-in generator: wrk cannot pace), for the latency the proxy adds when the
  machine is not saturated.
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.load import BUILT_IN, Run, pace
from benchmarks.stand import Counters, Sample, Scenario, Stand, Target, rounds

PACED = ("direct", "nginx", "off", "on")


@dataclass(frozen=True, slots=True)
class Measured:
    scenario: Scenario
    sample: Sample
    peak_rss_kib: int | None = None  # VmHWM of the target's process(es), before the curves
    counters: Counters | None = None  # the proxy's, over the measured runs


async def measure(
    stand: Stand, *, concurrency: int, duration_s: float, count: int
) -> dict[str, Measured]:
    """Every scenario of the stand, saturated, `count` rounds of `duration_s` each."""
    targets = list(stand.targets.values())
    before = {target.scenario.key: await target.counters() for target in targets}

    async def saturate(target: Target) -> Run:
        return await stand.generator.closed(
            target.url, concurrency=concurrency, duration_s=duration_s
        )

    samples = await rounds(targets, saturate, count=count)
    measured = {}
    for target in targets:
        key = target.scenario.key
        now, then = await target.counters(), before[key]
        counters = None if now is None or then is None else now - then
        measured[key] = Measured(target.scenario, samples[key], target.peak_rss_kib(), counters)
    return measured


async def paced(stand: Stand, *, rate: float, duration_s: float, count: int) -> dict[str, Sample]:
    """Direct, plain nginx and the proxy (shadow off, on) at `rate` requests/s offered."""
    targets = [stand.targets[key] for key in PACED if key in stand.targets]

    async def offer(target: Target) -> Run:
        return (await pace(target.url, rate=rate, duration_s=duration_s)).run(BUILT_IN)

    return await rounds(targets, offer, count=count)
