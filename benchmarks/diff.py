"""The diff engine's cost per status-document comparison, against parsing both bodies and the
targets of issue 15 (target 4).

Two pairs of the documents the fake backends serve (`benchmarks.documents`), legacy shape
against app shape on the status route, profile `status_document`:
- matching: the same analysis in both shapes (outcome `match`);
- mismatching: the app side decided otherwise (`result.decision`, `compat.decision`), one key
  field differs (outcome `mismatch`), the comparison whose record the diff log writes.

Figures, each the median of several rounds in CPU time (another process may share the machine):
- key fields: the proxy's default path, `DiffEngine` with no secondary report: parse, project,
  compare, judge; as µs per comparison and as comparisons per second on this one core
  (target: at least 20 000/s, matching and mismatching);
- secondary: the full-body report of a logged (mismatching) comparison, `secondary_report` on
  the two parsed bodies, as the engine runs it after the key fields (target: at most 200 µs);
- with secondary: the whole engine with the report on, per matching comparison (kept for
  `python -m benchmarks`, which reads `parse_us`, `key_fields_us`, `with_secondary_us` and
  `outcome`).

`python -m benchmarks.diff [--iterations N]` prints the figures against their targets.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from benchmarks.documents import APP_ID, LEGACY_ID, app_status, legacy_status
from shadowproxy.correlation import AppAliases
from shadowproxy.diff.config import DEFAULT_CONFIG
from shadowproxy.diff.engine import DiffEngine
from shadowproxy.diff.secondary import secondary_report
from shadowproxy.types import Exchange, ExchangeKind, Observation, RouteGroup, Side

JSON = (("Content-Type", "application/json"),)
ROUTE = "/api/analysis/status/{task_id}"
TARGET_PER_S = 20_000.0  # status comparisons per second per core, matching and mismatching
TARGET_SECONDARY_US = 200.0  # the secondary report of one logged comparison
ROUNDS = 9


@dataclass(frozen=True, slots=True)
class DiffCost:
    parse_us: float  # orjson.loads of both bodies
    key_fields_us: float  # the proxy's default for a match: parse, project, judge
    with_secondary_us: float  # the same plus the full-body secondary report
    outcome: str
    mismatch_key_fields_us: float = 0.0  # key fields of the mismatching pair
    mismatch_outcome: str = ""
    secondary_us: float = 0.0  # the secondary report of the mismatching (logged) comparison
    secondary_differences: int = 0  # how many differences that report holds
    logged_us: float = 0.0  # the whole logged comparison: key fields plus secondary
    target_per_s: float = TARGET_PER_S
    target_secondary_us: float = TARGET_SECONDARY_US

    @property
    def matching_per_s(self) -> float:
        return 1e6 / self.key_fields_us

    @property
    def mismatching_per_s(self) -> float:
        return 1e6 / self.mismatch_key_fields_us


def mismatching_app() -> dict[str, Any]:
    """The app document of the same analysis with another decision, in both of its places."""
    document = app_status()
    document["result"] = {**document["result"], "decision": "OVERWEIGHT"}
    document["compat"] = {**document["compat"], "decision": "OVERWEIGHT"}
    return document


def measure(*, iterations: int) -> DiffCost:
    legacy_body, app_body = orjson.dumps(legacy_status()), orjson.dumps(app_status())
    other_body = orjson.dumps(mismatching_app())
    legacy = Observation(Side.LEGACY, 200, JSON, legacy_body)
    app = Observation(Side.APP, 200, JSON, app_body)
    other = Observation(Side.APP, 200, JSON, other_body)
    exchange = Exchange(
        comparison_id="bench",
        request_id="bench",
        kind=ExchangeKind.HTTP,
        route_group=RouteGroup.ANALYSIS,
        route=ROUTE,
        method="GET",
        path=f"/api/analysis/status/{LEGACY_ID}",
        authoritative=Side.LEGACY,
        profile="status_document",
    )
    full = DiffEngine()
    lean = DiffEngine(secondary_for=lambda _: False)
    aliases = AppAliases({APP_ID: LEGACY_ID})
    outcome = full(exchange, legacy, app, aliases).outcome.value
    logged = full(exchange, legacy, other, aliases)
    legacy_value, other_value = orjson.loads(legacy_body), orjson.loads(other_body)
    limit = DEFAULT_CONFIG.max_differences

    def parse() -> None:
        orjson.loads(legacy_body)
        orjson.loads(app_body)

    us = _per_call_us(
        {
            "parse": parse,
            "match": lambda: lean(exchange, legacy, app, aliases),
            "mismatch": lambda: lean(exchange, legacy, other, aliases),
            "secondary": lambda: secondary_report(legacy_value, other_value, limit=limit),
            "match+secondary": lambda: full(exchange, legacy, app, aliases),
            "logged": lambda: full(exchange, legacy, other, aliases),
        },
        iterations,
    )
    return DiffCost(
        parse_us=us["parse"],
        key_fields_us=us["match"],
        with_secondary_us=us["match+secondary"],
        outcome=outcome,
        mismatch_key_fields_us=us["mismatch"],
        mismatch_outcome=logged.outcome.value,
        secondary_us=us["secondary"],
        secondary_differences=len(logged.secondary),
        logged_us=us["logged"],
    )


def report(cost: DiffCost) -> list[tuple[str, str, str, str]]:
    """(figure, value, target, verdict) rows: each target figure met or not."""

    def verdict(met: bool) -> str:
        return "met" if met else "NOT met"

    return [
        ("parse both bodies", f"{cost.parse_us:.1f} µs", "", ""),
        (
            f"matching comparisons/s ({cost.outcome})",
            f"{cost.matching_per_s:,.0f}/s ({cost.key_fields_us:.1f} µs)",
            f">= {cost.target_per_s:,.0f}/s",
            verdict(cost.matching_per_s >= cost.target_per_s),
        ),
        (
            f"mismatching comparisons/s ({cost.mismatch_outcome})",
            f"{cost.mismatching_per_s:,.0f}/s ({cost.mismatch_key_fields_us:.1f} µs)",
            f">= {cost.target_per_s:,.0f}/s",
            verdict(cost.mismatching_per_s >= cost.target_per_s),
        ),
        (
            f"secondary report, logged comparison ({cost.secondary_differences} differences)",
            f"{cost.secondary_us:.1f} µs",
            f"<= {cost.target_secondary_us:.0f} µs",
            verdict(cost.secondary_us <= cost.target_secondary_us),
        ),
        ("logged comparison, key fields + secondary", f"{cost.logged_us:.1f} µs", "", ""),
        ("matching comparison with secondary", f"{cost.with_secondary_us:.1f} µs", "", ""),
    ]


def print_report(cost: DiffCost) -> None:
    out = sys.stdout
    out.write("diff engine, status profile, one core (median of rounds)\n")
    for figure, value, target, verdict in report(cost):
        out.write(f"  {figure:<58} {value:>24}  {target:<14} {verdict}\n")
    out.flush()


def _per_call_us(calls: dict[str, Callable[[], object]], iterations: int) -> dict[str, float]:
    """µs per call of each: the median of `ROUNDS` timed rounds, after a warm-up.

    The rounds of all the calls alternate, so that a burst of load from another process falls
    on each figure alike and a ratio of two figures holds even when their sum does not. Timed
    in this process's CPU time, not wall time: the figure is per core, and a core shared with
    another process (a benchmark running beside this one) must not count against it.
    """
    for call in calls.values():
        for _ in range(min(iterations, 100)):
            call()
    per_round = max(1, iterations // ROUNDS)
    rounds: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(ROUNDS):
        for name, call in calls.items():
            started = time.process_time()
            for _ in range(per_round):
                call()
            rounds[name].append((time.process_time() - started) / per_round * 1e6)
    return {name: statistics.median(times) for name, times in rounds.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.diff", description=__doc__)
    parser.add_argument("--iterations", type=int, default=5000, help="per figure")
    args = parser.parse_args(argv)
    if args.iterations < 1:
        parser.error("--iterations must be at least 1")
    print_report(measure(iterations=args.iterations))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
