"""The concurrency and size curves: throughput and CPU per request as the load changes shape.

- concurrency: the proxy with shadow + diff, and nginx with `mirror` beside it, at 1, 8, 32 and
  128 closed-loop clients;
- size: direct, nginx mirror and the proxy with shadow + diff with 1 KB, 10 KB and 100 KB status
  documents (both sides padded, `?size=`), at the run's concurrency.

Each point is one run per target, the targets in alternating order (stand.rounds).
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.load import Run
from benchmarks.stand import Sample, Stand, Target, rounds

CONCURRENCY = (1, 8, 32, 128)
SIZES = (1024, 10240, 102400)
CONCURRENCY_KEYS = ("nginx_mirror", "on")
SIZE_KEYS = ("direct", "nginx_mirror", "on")


@dataclass(frozen=True, slots=True)
class Point:
    key: str  # the scenario
    concurrency: int
    size: int | None  # the status documents' size in bytes; None: their natural size
    sample: Sample


async def measure(stand: Stand, *, duration_s: float, concurrency: int) -> list[Point]:
    points = []
    for clients in CONCURRENCY:
        points += await _point(stand, CONCURRENCY_KEYS, clients, None, duration_s)
    for size in SIZES:
        points += await _point(stand, SIZE_KEYS, concurrency, size, duration_s)
    return points


async def _point(
    stand: Stand, keys: tuple[str, ...], clients: int, size: int | None, duration_s: float
) -> list[Point]:
    targets = [stand.targets[key] for key in keys if key in stand.targets]
    query = "" if size is None else f"?size={size}"

    async def run(target: Target) -> Run:
        return await stand.generator.closed(
            target.url + query, concurrency=clients, duration_s=duration_s
        )

    samples = await rounds(targets, run, count=1)
    return [Point(key, clients, size, sample) for key, sample in samples.items()]
