"""`python -m benchmarks [--quick]`: every benchmark once, side by side with nginx, in bounded time.

Sections, each bounded: `http` (the scenarios, the paced runs and the curves on one stand,
benchmarks/stand.py), `websocket` (benchmarks/ws.py), `diff` (the diff engine alone), `contracts`
(consumer contracts and drift), `difflog` (reading a diff log back) and `scaleout` (two replicas
sharing a Redis store against one, and the store's lookups: benchmarks/scaleout.py). The report
goes to the console, to `benchmarks/results/<UTC date-time>.json` and a markdown table beside it
(`--results DIR` elsewhere, `--json FILE` also there). A section that fails is reported, the
others still run, and the exit code is 1. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import orjson

from benchmarks import (
    contracts,
    curves,
    diff,
    difflog,
    engines,
    http,
    machine,
    results,
    scaleout,
    tables,
    ws,
)
from benchmarks.load import BuiltIn, Generator
from benchmarks.nginx import WORKERS
from benchmarks.stand import SLOW_SHADOW_S, Sample, open_stand
from benchmarks.targets import Results
from benchmarks.tools import Tools, find_tools
from benchmarks.wrk import Wrk

T = TypeVar("T")
SECTIONS = ("http", "websocket", "diff", "contracts", "difflog", "scaleout")
BUDGET_S = 600.0


@dataclasses.dataclass(frozen=True, slots=True)
class Plan:
    duration_s: float  # per closed-loop run of a scenario
    rounds: int  # runs per scenario, in alternating order
    concurrency: int  # closed-loop clients (connections with wrk)
    paced_rate: float  # requests/s offered in the open-loop runs
    paced_s: float
    curve_s: float  # per point of the curves
    ws_round_trips: int
    ws_stream_s: float
    iterations: int  # diff engine and contracts
    records: int  # diff-log reading


FULL = Plan(5.0, 2, 32, 500.0, 5.0, 4.0, 2000, 3.0, 5000, 1_000_000)
QUICK = Plan(1.0, 1, 8, 200.0, 1.0, 1.0, 100, 0.5, 200, 20_000)


def main(argv: list[str] | None = None) -> int:
    args, plan = _arguments(argv)
    started, clock = datetime.now(UTC), time.monotonic()
    load_start = machine.load_average()
    tools = find_tools(
        install=not args.no_install,
        use_nginx=not args.no_nginx and "http" not in args.skip,
        use_wrk=args.generator != "built-in" and not {"http", "scaleout"} <= set(args.skip),
    )
    if args.generator == "wrk" and tools.wrk is None:
        _say(f"--generator wrk: wrk is not available ({'; '.join(tools.notes)})")
        return 2
    generator_name = (tools.wrk_version or "wrk") if tools.wrk else BuiltIn.name
    _say(f"tools: {'; '.join(tools.notes)}")
    _say(f"closed-loop generator: {generator_name}; paced: {BuiltIn.name}")

    run = _Sections(set(args.skip), clock)
    measured = run("http", lambda: asyncio.run(_http(plan, tools, run.say)))
    ws_rows = run(
        "websocket",
        lambda: asyncio.run(ws.measure(round_trips=plan.ws_round_trips, stream_s=plan.ws_stream_s)),
    )
    cost = run("diff", lambda: diff.measure(iterations=plan.iterations))
    checks = run("contracts", lambda: contracts.measure(iterations=plan.iterations))
    reading = run("difflog", lambda: difflog.report(difflog.measure(count=plan.records)))
    scale = run(
        "scaleout",
        lambda: asyncio.run(
            scaleout.measure(
                tools,
                concurrency=plan.concurrency,
                seconds=plan.duration_s,
                rounds=plan.rounds,
                iterations=plan.iterations,
                say=run.say,
            )
        ),
    )

    measured = measured or _HttpOutcome(generator=generator_name)
    outcome = Results(
        http=measured.scenarios,
        paced=measured.paced,
        curves=measured.curves,
        ws={row.scenario: row for row in ws_rows or []},
        paced_rate=plan.paced_rate,
    )
    report: dict[str, Any] = {
        "started_utc": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "elapsed_s": round(time.monotonic() - clock, 1),
        "budget_s": BUDGET_S,
        "quick": args.quick,
        "machine": machine.describe(),
        "load_average": {"start": load_start, "end": machine.load_average()},
        "tools": _tools(tools, measured.generator),
        "settings": {**dataclasses.asdict(plan), "slow_shadow_s": SLOW_SHADOW_S},
        **_descriptions(plan, measured.generator),
        **results.http_sections(outcome, measured.missing),
        "section_seconds": run.seconds,
        "failed_sections": run.failures,
        **engines.sections(cost, checks, reading),
        **({} if scale is None else {"scale_out": scale}),
    }
    _print(report)
    markdown = tables.render(report, markdown=True) + scaleout.render(report, markdown=True)
    json_path, md_path = results.write(report, markdown, args.results)
    if args.readme:
        results.update_readme(markdown)
        _say(f"tables written to {results.README}")
    if args.json is not None:
        args.json.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
    _say(f"results: {json_path} and {md_path}")
    over = " OVER BUDGET" if report["elapsed_s"] > BUDGET_S else ""
    _say(f"elapsed {report['elapsed_s']:.0f} s (budget {BUDGET_S:.0f} s for a full run){over}")
    return 1 if run.failures else 0


def _arguments(argv: list[str] | None) -> tuple[argparse.Namespace, Plan]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tiny run that checks the suite")
    parser.add_argument("--duration", type=float, help="seconds per closed-loop run")
    parser.add_argument("--rounds", type=int, help="closed-loop runs per scenario")
    parser.add_argument("--concurrency", type=int, help="closed-loop clients")
    parser.add_argument(
        "--generator", choices=("auto", "wrk", "built-in"), default="auto",
        help="closed-loop load generator (auto: wrk when installed)",
    )  # fmt: skip
    parser.add_argument("--no-nginx", action="store_true", help="leave the nginx baselines out")
    parser.add_argument(
        "--no-install", action="store_true", help="never apt-get install nginx and wrk"
    )
    parser.add_argument("--skip", action="append", choices=SECTIONS, default=[], help="repeatable")
    parser.add_argument("--results", type=Path, default=results.RESULTS, metavar="DIR")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the JSON here")
    parser.add_argument(
        "--readme", action="store_true", help="put this run's tables in benchmarks/README.md"
    )
    args = parser.parse_args(argv)
    overrides = {
        "duration_s": args.duration,
        "rounds": args.rounds,
        "concurrency": args.concurrency,
    }
    plan = dataclasses.replace(
        QUICK if args.quick else FULL,
        **{name: value for name, value in overrides.items() if value is not None},
    )
    if plan.duration_s <= 0 or plan.rounds < 1 or plan.concurrency < 1:
        parser.error("--duration must be positive, --rounds and --concurrency at least 1")
    return args, plan


def _tools(tools: Tools, generator: str) -> dict[str, Any]:
    return {
        "closed_loop_generator": generator,
        "paced_generator": BuiltIn.name,
        "nginx": tools.nginx_version,
        "nginx_workers": WORKERS,
        "wrk": tools.wrk_version,
        "notes": list(tools.notes),
    }


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class _Sections:
    """Runs each section unless skipped; a failure is printed and recorded, the run goes on."""

    def __init__(self, skipped: set[str], clock: float) -> None:
        self.skipped = skipped
        self.clock = clock
        self.seconds: dict[str, float] = {}
        self.failures: dict[str, str] = {}

    def __call__(self, name: str, body: Callable[[], T]) -> T | None:
        if name in self.skipped:
            _say(f"[{self._at()}] {name}: skipped (command line)")
            return None
        _say(f"[{self._at()}] {name} ...")
        started = time.monotonic()
        try:
            return body()
        except Exception as exc:
            traceback.print_exc()
            self.failures[name] = f"{type(exc).__name__}: {exc}"
            _say(f"[{self._at()}] {name} FAILED: {self.failures[name]}")
            return None
        finally:
            self.seconds[name] = round(time.monotonic() - started, 1)

    def say(self, line: str) -> None:
        _say(f"[{self._at()}] {line}")

    def _at(self) -> str:
        return f"{time.monotonic() - self.clock:5.0f} s"


@dataclasses.dataclass(frozen=True, slots=True)
class _HttpOutcome:
    generator: str
    scenarios: dict[str, http.Measured] = dataclasses.field(default_factory=dict)
    paced: dict[str, Sample] = dataclasses.field(default_factory=dict)
    curves: list[curves.Point] = dataclasses.field(default_factory=list)
    missing: dict[str, str] = dataclasses.field(default_factory=dict)


async def _http(plan: Plan, tools: Tools, say: Callable[[str], None]) -> _HttpOutcome:
    with tempfile.TemporaryDirectory(prefix="sp-bench-") as folder:
        workdir = Path(folder)
        generator: Generator = (
            BuiltIn() if tools.wrk is None else Wrk(tools.wrk, workdir, tools.wrk_version)
        )
        async with open_stand(tools, generator, workdir=workdir) as stand:
            say(f"http: {len(stand.targets)} targets up; closed loop ({generator.name})")
            scenarios = await http.measure(
                stand, concurrency=plan.concurrency, duration_s=plan.duration_s, count=plan.rounds
            )
            say(f"http: paced, {plan.paced_rate:g} requests/s offered")
            paced = await http.paced(
                stand, rate=plan.paced_rate, duration_s=plan.paced_s, count=plan.rounds
            )
            say("http: concurrency and size curves")
            points = await curves.measure(
                stand, duration_s=plan.curve_s, concurrency=plan.concurrency
            )
        return _HttpOutcome(generator.name, scenarios, paced, points, stand.missing)


def _descriptions(plan: Plan, generator: str) -> dict[str, str]:
    return {
        "closed_loop": f"closed loop: {generator}, one thread, {plan.concurrency} clients, "
        f"{plan.rounds} x {plan.duration_s:g} s per scenario, rounds in alternating order",
        "paced_loop": f"open loop: {plan.paced_rate:g} requests/s offered, {plan.rounds} x "
        f"{plan.paced_s:g} s per scenario (built-in generator, each request timed from its send)",
        "websocket_loop": f"websocket: {plan.ws_round_trips} round trips of one 4 KiB frame per "
        f"scenario, interleaved; then {plan.ws_stream_s:g} s streaming, {ws.WINDOW} frames in "
        "flight (frames/s)",
    }


def _print(report: dict[str, Any]) -> None:
    sys.stdout.write("\n" + tables.render(report, markdown=False))
    engines.print_sections(report)
    scaleout.print_section(report)
    sys.stdout.flush()


if __name__ == "__main__":
    raise SystemExit(main())
