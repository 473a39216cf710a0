"""The ratios between scenarios measured in one run, and the targets of issue 15, met or not.

Every ratio is between two figures of the same run on the same machine. A target whose figures
are missing (nginx not installed, a section that failed) is reported as not measured, never as
met. Target 4 (the diff engine) is benchmarks/diff.py's, printed apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks import ws
from benchmarks.curves import Point
from benchmarks.http import Measured
from benchmarks.stand import Sample


@dataclass(frozen=True, slots=True)
class Results:
    http: dict[str, Measured]  # by scenario key; the scenarios that ran
    paced: dict[str, Sample]
    curves: list[Point]
    ws: dict[str, ws.WsMeasured]  # by scenario name; empty when the section did not run
    paced_rate: float


COVERAGE = "saturated shadow + diff: exchanges compared, %"


@dataclass(frozen=True, slots=True)
class Check:
    target: str  # the numbering
    name: str
    value: float | None  # None: not measured
    unit: str  # "x" (a ratio), "ms" or "%"
    limit: float
    at_most: bool  # met when value <= limit, else when value >= limit

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        return self.value <= self.limit if self.at_most else self.value >= self.limit

    @property
    def bound(self) -> str:
        return f"{'<=' if self.at_most else '>='} {self.limit:g} {self.unit}"


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else round(a / b, 3)


def difference(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(a - b, 3)


def figure(results: Results, kind: str, key: str) -> float | None:
    """One measured figure: `kind` of scenario `key` (a websocket scenario's name for ws_*)."""
    if kind.startswith("ws_"):
        row = results.ws.get(key)
        names = {"ws_p50": "p50_ms", "ws_p99": "p99_ms", "ws_frames": "frames_per_s"}
        return None if row is None else float(getattr(row, names[kind]))
    if kind == "paced_p50":
        sample = results.paced.get(key)
        return None if sample is None else sample.run.p50_ms
    if "@" in key:  # a point of the concurrency curve: scenario@clients
        scenario, clients = key.split("@")
        for point in results.curves:
            if point.key == scenario and point.size is None and point.concurrency == int(clients):
                return {
                    "cpu": point.sample.cpu_us_per_request,
                    "throughput": point.sample.run.throughput,
                }[kind]
        return None
    measured = results.http.get(key)
    if measured is None:
        return None
    run = measured.sample.run
    counters = measured.counters
    coverage = None if counters is None or counters.coverage is None else counters.coverage * 100
    return {
        "throughput": run.throughput,
        "p99": run.p99_ms,
        "cpu": measured.sample.cpu_us_per_request,
        "rss": None if measured.peak_rss_kib is None else float(measured.peak_rss_kib),
        "coverage": coverage,
    }[kind]


# (name, figure, scenario a, scenario b, a / b or a - b)
RATIOS = (
    ("throughput: shadow + diff / nginx mirror", "throughput", "on", "nginx_mirror", ratio),
    ("CPU per request: shadow + diff / nginx mirror", "cpu", "on", "nginx_mirror", ratio),
    ("CPU per request: shadow off / nginx plain", "cpu", "off", "nginx", ratio),
    ("throughput: shadow off / nginx plain", "throughput", "off", "nginx", ratio),
    ("throughput: nginx mirror / nginx plain", "throughput", "nginx_mirror", "nginx", ratio),
    ("CPU per request: nginx mirror / nginx plain", "cpu", "nginx_mirror", "nginx", ratio),
    ("throughput: shadow off / direct", "throughput", "off", "direct", ratio),
    ("throughput: shadow + diff / shadow off", "throughput", "on", "off", ratio),
    ("CPU per request: shadow + diff / shadow off", "cpu", "on", "off", ratio),
    ("throughput: 10% mismatching / all matching", "throughput", "mismatch", "on", ratio),
    ("CPU per request: 10% mismatching / all matching", "cpu", "mismatch", "on", ratio),
    ("p99: 200 ms shadow / fast shadow", "p99", "slow", "on", ratio),
    ("throughput: 200 ms shadow / fast shadow", "throughput", "slow", "on", ratio),
    ("peak RSS: 200 ms shadow / fast shadow", "rss", "slow", "on", ratio),
    ("p99: dead shadow / fast shadow", "p99", "dead", "on", ratio),
    ("throughput: dead shadow / fast shadow", "throughput", "dead", "on", ratio),
    ("peak RSS: dead shadow / fast shadow", "rss", "dead", "on", ratio),
    ("paced p50 added over direct, ms: nginx plain", "paced_p50", "nginx", "direct", difference),
    ("paced p50 added over direct, ms: shadow off", "paced_p50", "off", "direct", difference),
    ("paced p50 added over direct, ms: shadow + diff", "paced_p50", "on", "direct", difference),
    ("CPU per request, 128 / 8 clients: shadow + diff", "cpu", "on@128", "on@8", ratio),
    (
        "CPU per request, 128 / 8 clients: nginx mirror",
        "cpu",
        "nginx_mirror@128",
        "nginx_mirror@8",
        ratio,
    ),
    ("ws p99 added over direct, ms: shadow on", "ws_p99", ws.SHADOW_ON, ws.DIRECT, difference),
    ("ws frames/s: shadow on / direct", "ws_frames", ws.SHADOW_ON, ws.DIRECT, ratio),
    ("ws frames/s: shadow off / direct", "ws_frames", ws.SHADOW_OFF, ws.DIRECT, ratio),
    ("ws round trip p50: hung shadow upgrade / off", "ws_p50", ws.HUNG, ws.SHADOW_OFF, ratio),
    ("ws round trip p50: deaf shadow / off", "ws_p50", ws.DEAF, ws.SHADOW_OFF, ratio),
    ("ws round trip p99: deaf shadow / off", "ws_p99", ws.DEAF, ws.SHADOW_OFF, ratio),
)


def ratios(results: Results) -> dict[str, float | None]:
    return {
        name: combine(figure(results, kind, a), figure(results, kind, b))
        for name, kind, a, b, combine in RATIOS
    }


# (the target number, the ratio or figure, unit, limit, met when at most)
CHECKS = (
    ("1", "throughput: shadow + diff / nginx mirror", "x", 1.0, False),
    ("1", "CPU per request: shadow + diff / nginx mirror", "x", 1.3, True),
    ("2", "CPU per request: shadow off / nginx plain", "x", 3.0, True),
    ("2", "paced p50 added over direct, ms: shadow off", "ms", 0.3, True),
    ("3", "p99: 200 ms shadow / fast shadow", "x", 1.2, True),
    ("3", "throughput: 200 ms shadow / fast shadow", "x", 0.9, False),
    ("3", "peak RSS: 200 ms shadow / fast shadow", "x", 1.5, True),
    ("3", "p99: dead shadow / fast shadow", "x", 1.2, True),
    ("3", "throughput: dead shadow / fast shadow", "x", 0.9, False),
    ("3", "peak RSS: dead shadow / fast shadow", "x", 1.5, True),
    ("5", "ws p99 added over direct, ms: shadow on", "ms", 1.0, True),
    ("5", "ws frames/s: shadow on / direct", "x", 0.8, False),
    ("6", COVERAGE, "%", 95.0, False),
    ("7", "CPU per request, 128 / 8 clients: shadow + diff", "x", 1.5, True),
)


def checks(results: Results) -> list[Check]:
    found = ratios(results)
    found[COVERAGE] = figure(results, "coverage", "on")
    return [
        Check(number, name, found[name], unit, limit, at_most)
        for number, name, unit, limit, at_most in CHECKS
    ]
