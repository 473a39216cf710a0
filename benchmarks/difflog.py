"""Reading diff logs back: `shadowproxy diffs summary` and `signatures` over N generated records.

The records are built by the proxy's own `RecordBuilder` from comparisons shaped like the ones a
rollout writes (matches are not logged, as by default): status-document mismatches on the
decision and confidence with a secondary report, one persistent task-list divergence that every
later list repeats, accepted cancel notices, skips, shadow timeouts, websocket mismatches,
consumer-contract breaks. They are written through the writer's `Segments` (64 MiB segments,
rotated by size and by UTC day, gzip-compressed), spread over `DAYS` days, in a temp folder.

Each command then runs as a `shadowproxy` subprocess (one core: the reader is one thread), once
on an empty folder for the baseline, and is measured with `os.wait4`: wall and CPU seconds,
records per second, peak RSS (`ru_maxrss`). The target: 1 000 000 records in under 20 s each,
with a peak RSS close to the baseline's (flat memory: nothing grows with the records).
`python -m benchmarks.difflog [--records N]` runs it alone.
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from shadowproxy.difflog.record import RecordBuilder, format_ts
from shadowproxy.difflog.segments import Segments
from shadowproxy.difflog.sink import DEFAULT_MAX_BYTES
from shadowproxy.types import (
    BreakKind,
    ClientFindings,
    Comparison,
    ContractBreak,
    Difference,
    DiffKind,
    Exchange,
    ExchangeKind,
    Observation,
    Outcome,
    Role,
    RouteGroup,
    Side,
)

DAYS = 2
START = datetime(2026, 4, 13, tzinfo=UTC)
COMMANDS = ("summary", "signatures")
TICKERS = ("AAPL", "MSFT", "NVDA", "TSLA", "600519.SS", "0700.HK")
STATUS = "/api/analysis/status/{task_id}"


@dataclass(frozen=True, slots=True)
class Run:
    command: str
    records: int  # the records the command reported reading
    wall_s: float
    cpu_s: float
    peak_rss_mib: float

    @property
    def records_per_s(self) -> float:
        return self.records / self.wall_s if self.wall_s else 0.0


@dataclass(frozen=True, slots=True)
class DiffLogCost:
    records: int
    files: int
    bytes_on_disk: int
    write_s: float
    baseline: dict[str, Run]  # each command on an empty folder
    runs: dict[str, Run]


def _exchange(route: str, group: RouteGroup, ticker: str, kind: ExchangeKind) -> Exchange:
    task = f"{ticker}_20260413_120000_ab12cd"
    return Exchange(
        comparison_id="template",
        request_id="template",
        kind=kind,
        route_group=group,
        route=route,
        method="GET",
        path=route.replace("{task_id}", task),
        authoritative=Side.LEGACY,
        profile="status_document",
        flags_version=3,
    )


def _side(side: Side, status: int | None = 200, error: str | None = None) -> Observation:
    return Observation(side, status, (), b"", 0.0021 if side is Side.LEGACY else 0.0034, error)


def _broken() -> ClientFindings:
    found = ContractBreak(
        "legacy-dashboard", Role.SHADOW, "decision", BreakKind.MISSING, "string", "absent"
    )
    return ClientFindings(("legacy-dashboard", "v1alpha1-dashboard"), (found,), (), True)


def _answered(exchange: Exchange, outcome: Outcome, ticker: str, **extra: Any) -> Comparison:
    legacy, app = _side(Side.LEGACY), extra.pop("app", _side(Side.APP))
    return Comparison(exchange, outcome, legacy, app, ticker=ticker, **extra)


def comparisons() -> list[tuple[int, Comparison]]:
    """(weight, comparison) templates: the mix of a rollout's diff log."""
    status, tasks = RouteGroup.ANALYSIS, "/api/analysis/tasks"
    secondary = tuple(
        Difference(f"stages[{n}].completed_at", DiffKind.CHANGED, "12:00:03", "12:00:04")
        for n in range(5)
    )
    mix: list[tuple[int, Comparison]] = []
    for ticker in TICKERS:
        http = _exchange(STATUS, status, ticker, ExchangeKind.HTTP)
        ws = _exchange("/ws/analysis/{task_id}", RouteGroup.WS_ANALYSIS, ticker, ExchangeKind.WS)
        decision = (
            Difference("decision", DiffKind.CHANGED, "OVERWEIGHT", "HOLD"),
            Difference("confidence", DiffKind.CHANGED, 0.63, 0.41),
        )
        notice = (Difference("error.cancel_notice", DiffKind.EXTRA, None, True),)
        stage = (Difference("stages.research", DiffKind.CHANGED, "completed", "running"),)
        timeout = _side(Side.APP, None, "timeout after 10s")
        frames = {"legacy": 12, "app": 11}
        mix += [
            (30, _answered(http, Outcome.MISMATCH, ticker, differences=decision,
                           secondary=secondary, reason="differs on decision", task_id=ticker)),
            (6, _answered(http, Outcome.ACCEPTED, ticker, accepted=notice, reason="cancelled")),
            (4, _answered(http, Outcome.MATCH, ticker, client=_broken())),
            (3, _answered(http, Outcome.SHADOW_ERROR, ticker, app=timeout, reason="timeout")),
            (4, _answered(ws, Outcome.MISMATCH, ticker, differences=stage, frames=frames)),
        ]  # fmt: skip
        for reason in ("queue_full", "uncorrelated", "not_comparable"):
            mix.append((3, Comparison(http, Outcome.SKIPPED, reason=reason)))
    listing = _exchange(tasks, status, "AAPL", ExchangeKind.HTTP)
    raced = Difference("tasks[AAPL_20260413_120000_ab12cd].stage", DiffKind.CHANGED,
                       "trading", "research")  # fmt: skip
    mix.append((40, Comparison(listing, Outcome.MISMATCH, differences=(raced,),
                               legacy=_side(Side.LEGACY), app=_side(Side.APP))))  # fmt: skip
    return mix


def records(count: int) -> Iterator[tuple[str, bytes]]:
    """(UTC day, line) for `count` records spread evenly over `DAYS` days, in time order."""
    builder = RecordBuilder.create(())
    templates: list[dict[str, Any]] = []
    for weight, comparison in comparisons():
        templates += [builder.build(comparison, START)] * weight
    step = timedelta(days=DAYS) / count
    for n, template in zip(range(count), itertools.cycle(templates), strict=False):
        moment = START + step * n
        ts = format_ts(moment)
        spread = n * 0x9E3779B97F4A7C15 % 2**128  # distinct ids that look random, like uuid4s
        ids = {"comparison_id": f"{spread:032x}", "request_id": f"{n:032x}"}
        record = {**template, "ts": ts, **ids}
        yield ts[:10], orjson.dumps(record)


def write(directory: Path, count: int) -> None:
    segments = Segments(directory, DEFAULT_MAX_BYTES, None)
    batch: list[tuple[str, bytes]] = []
    for item in records(count):
        batch.append(item)
        if len(batch) == 4096:
            segments.write(batch)
            batch = []
    segments.write(batch)
    segments.close()
    assert segments.write_errors == 0


def run(command: str, directory: Path) -> Run:
    """`shadowproxy diffs COMMAND --dir DIRECTORY --json` in a subprocess, measured."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "shadowproxy", "diffs", command, "--dir", str(directory), "--json"],
        stdout=subprocess.PIPE,
    )
    assert child.stdout is not None
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    assert child.returncode == 0, f"diffs {command} exited {child.returncode}"
    document = orjson.loads(out)
    return Run(
        command,
        document["read"],
        wall,
        usage.ru_utime + usage.ru_stime,
        usage.ru_maxrss / 1024,
    )


def measure(*, count: int) -> DiffLogCost:
    with tempfile.TemporaryDirectory(prefix="sp-difflog-") as temp:
        empty, folder = Path(temp) / "empty", Path(temp) / "diff_logs"
        empty.mkdir()
        started = time.perf_counter()
        write(folder, count)
        write_s = time.perf_counter() - started
        files = sorted(folder.iterdir())
        return DiffLogCost(
            records=count,
            files=len(files),
            bytes_on_disk=sum(path.stat().st_size for path in files),
            write_s=write_s,
            baseline={command: run(command, empty) for command in COMMANDS},
            runs={command: run(command, folder) for command in COMMANDS},
        )


def report(cost: DiffLogCost) -> dict[str, Any]:
    def row(run: Run) -> dict[str, Any]:
        return {
            "records": run.records,
            "wall_s": round(run.wall_s, 2),
            "cpu_s": round(run.cpu_s, 2),
            "records_per_s": round(run.records_per_s),
            "peak_rss_mib": round(run.peak_rss_mib, 1),
        }

    return {
        "records": cost.records,
        "files": cost.files,
        "mib_on_disk": round(cost.bytes_on_disk / 2**20, 1),
        "write_s": round(cost.write_s, 1),
        "baseline": {command: row(run) for command, run in cost.baseline.items()},
        "commands": {command: row(run) for command, run in cost.runs.items()},
        "target_s": 20.0,
    }


def print_report(section: dict[str, Any]) -> None:
    out = sys.stdout
    out.write(
        f"\ndiff-log reading: {section['records']} records in {section['files']} segments "
        f"({section['mib_on_disk']} MiB on disk, written in {section['write_s']} s)\n"
    )
    out.write(f"  {'command':<20}{'wall s':>9}{'CPU s':>9}{'records/s':>12}{'peak RSS MiB':>14}\n")
    for command, row in section["commands"].items():
        base = section["baseline"][command]["peak_rss_mib"]
        out.write(
            f"  {'diffs ' + command:<20}{row['wall_s']:>9.2f}{row['cpu_s']:>9.2f}"
            f"{row['records_per_s']:>12}{row['peak_rss_mib']:>14.1f}  (empty folder: {base} MiB;"
            f" target < {section['target_s']:.0f} s at 1 000 000)\n"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.difflog", description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    print_report(report(measure(count=args.records)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
