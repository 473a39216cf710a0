"""`python -m benchmarks.report [--records N]`: `shadowproxy diffs report --html` over a generated
diff log of N records (1 000 000 by default), timed, with the page's size and the peak RSS.

The log is written the way the proxy leaves a folder: segments of at most `SEGMENT_RECORDS`
records, per UTC day, closed and gzip-compressed but the last day's last one, the active `.jsonl`;
records in time order over `DAYS` days. Seeded, so two runs read the same records. The mix: six
route groups, every outcome (matches logged), mismatches over a few frequent signatures and a
long tail of rare ones (more than the report's tallies keep, so the bounded path is exercised),
lognormal latencies with the app slowing down over the span, consumer findings with breaks on
the analysis routes.

Not part of `make bench` (a million records take a minute to write and read); tests/benchmarks/
test_report.py runs it at 200 000 records.
"""

from __future__ import annotations

import argparse
import gzip
import math
import random
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import orjson

from shadowproxy.ops.diffs_report import register

T = TypeVar("T")
DAYS = 3
SEGMENT_RECORDS = 100_000
START = 1_776_081_600.0  # 2026-04-13T12:00:00Z
ROUTES = {
    "analysis": ("/api/analysis/status/{task_id}", "/api/analysis/tasks", "/api/analysis/start"),
    "reports": ("/api/reports/{ticker}/{date}", "/api/reports/list"),
    "portfolio": ("/api/portfolio/recommendations", "/api/portfolio/watchlist"),
    "ws_analysis": ("/ws/analysis/{task_id}",),
    "ws_orchestrator": ("/ws/orchestrator",),
    "system": ("/api/config/check", "/api/stocks/screen"),
}
GROUP_WEIGHTS = (40, 15, 15, 15, 10, 5)
OUTCOMES = ("match", "mismatch", "accepted", "inflight_skew", "shadow_error", "skipped")
OUTCOME_WEIGHTS = (70, 15, 3, 4, 3, 5)
FREQUENT = (("result.decision",), ("stages.research", "progress"), ("tasks[{n}].status",))
CONSUMERS = ("legacy-dashboard", "v1alpha1-dashboard")


@dataclass(frozen=True, slots=True)
class ReportCost:
    records: int
    write_s: float  # generating and writing the log
    report_s: float  # reading, aggregating and rendering: the command
    report_cpu_s: float  # the same in CPU time (one thread): what a shared machine cannot inflate
    html_bytes: int
    rss_before_mib: float  # the process's peak before the report: interpreter, imports, writing
    peak_rss_mib: float  # its peak after it: above rss_before_mib only if the report needed more

    @property
    def records_per_s(self) -> float:
        return self.records / self.report_s if self.report_s else 0.0


def generate(count: int, *, seed: int = 14) -> Iterator[dict[str, Any]]:
    """`count` records in time order over `DAYS` days."""
    rng = random.Random(seed)
    draw = _Draw(rng)
    step = DAYS * 86400 / count
    for n in range(count):
        yield _record(draw, n, START + n * step, slowdown=n / count)


class _Draw:
    """Weighted picks and lognormal latencies from tables: the generator must be cheap next to
    the report it feeds (random.choices and lognormvariate cost a microsecond each)."""

    def __init__(self, rng: random.Random) -> None:
        self.random = rng.random
        self.groups = [g for g, w in zip(ROUTES, GROUP_WEIGHTS, strict=True) for _ in range(w)]
        self.outcomes = [
            o for o, w in zip(OUTCOMES, OUTCOME_WEIGHTS, strict=True) for _ in range(w)
        ]
        self.normals = [rng.gauss(0.0, 1.0) for _ in range(4096)]

    def pick(self, items: Sequence[T]) -> T:
        return items[int(self.random() * len(items))]

    def latency_ms(self, mu: float, sigma: float) -> float:
        return round(math.exp(mu + sigma * self.pick(self.normals)), 1)


def _record(draw: _Draw, n: int, ts: float, *, slowdown: float) -> dict[str, Any]:
    group, outcome = draw.pick(draw.groups), draw.pick(draw.outcomes)
    route = draw.pick(ROUTES[group])
    failed = outcome == "shadow_error"
    legacy = {"status": 200, "latency_ms": draw.latency_ms(3.0, 0.5), "error": None}
    app = {
        "status": None if failed else 200,
        "latency_ms": draw.latency_ms(3.2 + slowdown, 0.6),
        "error": "shadow timed out" if failed else None,
    }
    differences = []
    if outcome == "mismatch":
        if draw.random() < 0.2:  # the long tail: rare signatures, more than the tallies keep
            fields: tuple[str, ...] = (f"rare.field_{int(draw.random() * 50_000)}",)
        else:
            fields = draw.pick(FREQUENT)
        differences = [
            {"field": f.format(n=n % 7), "kind": "changed", "legacy": "OVERWEIGHT", "app": "HOLD"}
            for f in fields
        ]
    record: dict[str, Any] = {
        "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts))
        + f".{int(ts * 1000) % 1000:03d}Z",
        "event": "shadow_comparison",
        "schema": 1,
        "comparison_id": f"{n:032x}",
        "request_id": f"{n:032x}",
        "kind": "ws" if group.startswith("ws_") else "http",
        "route_group": group,
        "route": route,
        "method": "GET",
        "path": route.replace("{task_id}", f"AAPL_{n}"),
        "authoritative": "legacy",
        "flags_version": 1,
        "outcome": outcome,
        "legacy": legacy,
        "app": app,
        "differences": differences,
        "accepted": [],
        "secondary": [],
        "secondary_omitted": 0,
        "reason": "shadow timed out" if failed else None,
        "client": None,
    }
    if group == "analysis" and draw.random() < 0.3:
        breaks = [
            {"consumer": CONSUMERS[0], "side": "shadow", "field": "decision", "kind": "missing",
             "expected": "string", "got": "absent", "message": None, "shared": False, "known": None}
        ]  # fmt: skip
        record["client"] = {
            "consumer": {
                CONSUMERS[0]: {"authoritative": "ok", "shadow": "break", "breaks": breaks},
                CONSUMERS[1]: {"authoritative": "ok", "shadow": "ok", "breaks": []},
            },
            "drift": [],
        }
    return record


def write_log(directory: Path, count: int, *, seed: int = 14) -> None:
    """The generated records as one proxy would have left them in `directory`, streamed: each
    segment is appended to as the day's active one, then renamed and compressed."""
    directory.mkdir(parents=True, exist_ok=True)
    day, closed, lines = "", 0, 0
    active: BinaryIO | None = None
    try:
        for record in generate(count, seed=seed):
            record_day = record["ts"][:10]
            if active is not None and (record_day != day or lines == SEGMENT_RECORDS):
                active.close()
                active, closed = None, closed + 1
                _compress(directory / f"diff-{day}.jsonl", directory / f"diff-{day}.{closed}")
            if active is None:
                if record_day != day:
                    day, closed = record_day, 0
                active, lines = (directory / f"diff-{day}.jsonl").open("wb"), 0
            active.write(orjson.dumps(record) + b"\n")
            lines += 1
    finally:
        if active is not None:
            active.close()


def _compress(active: Path, closed: Path) -> None:
    plain = active.rename(closed.with_name(closed.name + ".jsonl"))
    with plain.open("rb") as source, gzip.open(f"{plain}.gz", "wb", compresslevel=1) as sink:
        shutil.copyfileobj(source, sink)
    plain.unlink()


def measure(count: int, workdir: Path) -> ReportCost:
    started = time.perf_counter()
    write_log(workdir / "diff_logs", count)
    written = time.perf_counter()
    rss_before, cpu = _peak_rss_mib(), time.process_time()
    parser = argparse.ArgumentParser(prog="shadowproxy diffs")
    register(parser.add_subparsers())
    out = workdir / "report.html"
    args = parser.parse_args(["report", "--dir", str(workdir / "diff_logs"), "--html", str(out)])
    args.func(args)
    done = time.perf_counter()
    return ReportCost(
        records=count,
        write_s=written - started,
        report_s=done - written,
        report_cpu_s=time.process_time() - cpu,
        html_bytes=out.stat().st_size,
        rss_before_mib=rss_before,
        peak_rss_mib=_peak_rss_mib(),
    )


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report", description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir:
        cost = measure(args.records, Path(workdir))
    print(
        f"{cost.records:,} records: written in {cost.write_s:.1f} s; report in"
        f" {cost.report_s:.1f} s, {cost.report_cpu_s:.1f} s CPU ({cost.records_per_s:,.0f}"
        " records/s), page"
        f" {cost.html_bytes / 1024:.0f} KiB, peak RSS {cost.rss_before_mib:.0f} MiB before the"
        f" report, {cost.peak_rss_mib:.0f} MiB after it"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
