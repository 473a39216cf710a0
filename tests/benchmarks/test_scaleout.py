"""The scale-out section's parts, without timing anything: connections spread over replicas and
their runs merged, the ratios, the lookups' percentiles and the section's rendering."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from benchmarks.load import Run
from benchmarks.lookups import Timings
from benchmarks.scaleout import LAYOUTS, Counts, Measured, merged, ratios, render, spread


class Recording:
    """A generator that answers every run with one request per connection, and says so."""

    name = "fake"

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, float]] = []

    async def closed(self, url: str, *, concurrency: int, duration_s: float) -> Run:
        self.calls.append((url, concurrency, duration_s))
        elapsed = 1.0 + len(self.calls) / 10
        return Run(self.name, {1000 * concurrency: concurrency}, concurrency, elapsed, 0)


async def test_connections_are_spread_evenly_and_the_runs_merged_as_one() -> None:
    generator = Recording()
    run = await spread(generator, ["http://a", "http://b"], concurrency=5, seconds=2.0)
    assert generator.calls == [("http://a", 3, 2.0), ("http://b", 2, 2.0)]
    assert run.requests == 5
    assert run.elapsed_s == 1.2  # at the same time: the longer one, not the sum
    assert run.throughput == 5 / 1.2
    assert run.histogram == {3000: 3, 2000: 2}
    alone = await spread(Recording(), ["http://a"], concurrency=1, seconds=1.0)
    assert (alone.requests, alone.elapsed_s) == (1, 1.1)


def test_merged_runs_add_their_errors() -> None:
    first = Run("x", {1000: 2}, 2, 1.0, 1)
    second = Run("x", {2000: 1}, 1, 3.0, 2)
    assert merged([first, second]) == Run("x", {1000: 2, 2000: 1}, 3, 3.0, 3)


def _measured(key: str, requests: int, cpu: float | None) -> Measured:
    layout = next(layout for layout in LAYOUTS if layout.key == key)
    run = Run("x", {1000: requests}, requests, 1.0, 0)
    counts = [Counts({"match": 1.0}, {"queue_full": 1.0})] * layout.replicas
    return Measured(layout, run, cpu, None, [1.0] * layout.replicas, counts)


def test_ratios_are_between_layouts_of_the_same_run_and_missing_ones_are_none() -> None:
    layouts = {
        "one_local": _measured("one_local", 100, 50.0),
        "two_redis": _measured("two_redis", 170, 55.0),
    }
    found = ratios(layouts)
    assert found["throughput: two replicas (Redis) / one replica (local)"] == 1.7
    assert found["proxy CPU per request: two replicas (Redis) / one (local)"] == 1.1
    assert found["p99: two replicas (Redis) / one replica (local)"] == 1.0
    assert found["throughput: one replica, Redis / local store"] is None  # not measured
    no_cpu = ratios({"one_local": _measured("one_local", 100, None)})
    assert all(value is None for value in no_cpu.values())


def test_percentiles_of_a_lookup_are_nearest_rank_in_microseconds() -> None:
    timings = Timings.of([n / 1e6 for n in range(1, 101)])
    assert (timings.count, timings.p50_us, timings.p99_us, timings.mean_us) == (
        100,
        50.5,
        99.0,
        50.5,
    )


def test_the_section_renders_when_it_ran_and_says_why_when_it_did_not() -> None:
    assert render({}, markdown=True) == ""
    skipped: dict[str, Any] = {"scale_out": {"skipped": "redis-server is not installed"}}
    assert "skipped: redis-server is not installed" in render(skipped, markdown=False)
    section = {
        "generator": "fake",
        "redis": "7.0",
        "concurrency": 4,
        "layouts": [
            {
                "layout": "two replicas, Redis store",
                "requests_per_s": 10.0,
                "p50_ms": 1.0,
                "p99_ms": 2.0,
                "proxy_cpu_us_per_request": 100.0,
                "redis_cpu_us_per_request": None,
                "compared": 0.5,
                "errors": 0,
                "comparisons": [{"match": 1.0}, {}],
                "shadow_skipped": [{}, {"queue_full": 2.0}],
            }
        ],
        "ratios": {"throughput: two replicas (Redis) / one replica (local)": None},
        "lookups_us": {"store_get": asdict(Timings(2, 1.0, 1.0, 2.0))},
    }
    text = render({"scale_out": section}, markdown=True)
    assert "| two replicas, Redis store | 10 | 1.00 | 2.00 | 100 | - | 50.0% | 0 |" in text
    assert "outcomes match 1, skipped none; outcomes none, skipped queue_full 2" in text
    assert "| store_get | 2 | 1.0 | 1.0 | 2.0 |" in text
