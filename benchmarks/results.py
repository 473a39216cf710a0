"""A run's report as plain data: the JSON written to benchmarks/results/, from its results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from benchmarks.curves import Point
from benchmarks.http import Measured
from benchmarks.stand import BY_KEY, SCENARIOS, Sample
from benchmarks.targets import Check, Results, checks, ratios

RESULTS = Path(__file__).resolve().parent / "results"
README = Path(__file__).resolve().parent / "README.md"
LATEST = "## Latest full run"


def _ms(value: float) -> float:
    return round(value, 3)


def _optional(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _sample(sample: Sample) -> dict[str, Any]:
    run = sample.run
    return {
        "generator": run.generator,
        "requests": run.requests,
        "errors": run.errors,
        "requests_per_s": round(run.throughput, 1),
        "p50_ms": _ms(run.p50_ms),
        "p99_ms": _ms(run.p99_ms),
        "p999_ms": _ms(run.p999_ms),
        "cpu_us_per_request": _optional(sample.cpu_us_per_request),
    }


def _scenario(measured: Measured) -> dict[str, Any]:
    counters = measured.counters
    return {
        "key": measured.scenario.key,
        "scenario": measured.scenario.name,
        **_sample(measured.sample),
        "peak_rss_mib": None
        if measured.peak_rss_kib is None
        else round(measured.peak_rss_kib / 1024, 1),
        "requests_counted": None if counters is None else counters.requests,
        "comparisons": None if counters is None else counters.outcomes,
        "shadow_skipped": None if counters is None else counters.skipped,
        "coverage": None
        if counters is None or counters.coverage is None
        else round(counters.coverage, 4),
    }


def _point(point: Point) -> dict[str, Any]:
    return {
        "curve": "concurrency" if point.size is None else "size",
        "key": point.key,
        "scenario": BY_KEY[point.key].name,
        "concurrency": point.concurrency,
        "size_bytes": point.size,
        **_sample(point.sample),
    }


def _check(check: Check) -> dict[str, Any]:
    return {
        "target": check.target,
        "name": check.name,
        "value": check.value,
        "bound": check.bound,
        "met": check.met,
    }


def http_sections(results: Results, missing: dict[str, str]) -> dict[str, Any]:
    """Scenarios (a skipped one with its reason), paced runs, curves, websocket, ratios, targets."""
    return {
        "scenarios": [
            _scenario(results.http[s.key])
            if s.key in results.http
            else {"key": s.key, "scenario": s.name, "skipped": missing.get(s.key, "not run")}
            for s in SCENARIOS
        ],
        "paced": [
            {"key": key, "scenario": BY_KEY[key].name, **_sample(sample)}
            for key, sample in results.paced.items()
        ],
        "curves": [_point(point) for point in results.curves],
        "websocket_scenarios": [
            {
                "scenario": row.scenario,
                "round_trip_p50_ms": _ms(row.p50_ms),
                "round_trip_p95_ms": _ms(row.p95_ms),
                "round_trip_p99_ms": _ms(row.p99_ms),
                "frames_per_s": round(row.frames_per_s, 1),
            }
            for row in results.ws.values()
        ],
        "ratios": ratios(results),
        "targets": [_check(check) for check in checks(results)],
    }


def update_readme(markdown: str, readme: Path = README) -> None:
    """Everything in `readme` after the `LATEST` heading becomes this run's tables."""
    text = readme.read_text(encoding="utf-8")
    if LATEST not in text:
        raise ValueError(f"{readme} has no {LATEST!r} heading")
    head = text[: text.index(LATEST) + len(LATEST)]
    readme.write_text(f"{head}\n\n{markdown.rstrip()}\n", encoding="utf-8")


def write(report: dict[str, Any], markdown: str, folder: Path) -> tuple[Path, Path]:
    """`<UTC date-time>.json` and `.md` in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = report["started_utc"].replace(":", "").replace("-", "")
    json_path, md_path = folder / f"{stem}.json", folder / f"{stem}.md"
    json_path.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
    md_path.write_text(markdown, encoding="utf-8")
    return json_path, md_path
