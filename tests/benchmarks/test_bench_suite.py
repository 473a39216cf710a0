"""`make bench` keeps working: the quick suite runs end to end and measures what it says.

No timing is asserted here (timings live in the benchmark's report, as ratios); the test checks
that every scenario ran without errors and that the proxy really shadowed, compared and dropped
where the scenario says it does.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_quick_benchmark_run_reports_every_scenario(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    rows = {row["scenario"]: row for row in report["scenarios"]}
    assert list(rows) == [
        "direct to the backend",
        "proxy, shadow off",
        "proxy, shadow on",
        "proxy, shadow on, 1 s shadow",
    ]
    assert all(row["errors"] == 0 for row in rows.values())
    off, on, slow = (rows[name] for name in list(rows)[1:])
    assert off["comparisons"] == {}
    assert off["shadow_skipped"]["shadow_off"] > 0
    # every request of the fast-shadow run was compared, and the status documents agree
    assert set(on["comparisons"]) == {"match"}
    assert on["comparisons"]["match"] >= report["requests_per_scenario"]
    # with a 1 s shadow every request is still accounted for: compared, or dropped and counted
    # as queue_full once the bounded in-flight set is full (never queued without bound)
    assert set(slow["comparisons"]) == {"match"}
    assert set(slow["shadow_skipped"]) <= {"queue_full"}
    accounted = sum(slow["comparisons"].values()) + sum(slow["shadow_skipped"].values())
    assert accounted == on["comparisons"]["match"]
    assert all(row["proxy_peak_rss_mib"] > 0 for row in (off, on, slow))
    assert all(row["proxy_cpu_us_per_request"] > 0 for row in (off, on, slow))
    assert rows["direct to the backend"]["proxy_cpu_us_per_request"] is None
    assert [row["scenario"] for row in report["websocket_scenarios"]] == [
        "websocket, shadow off",
        "websocket, hung shadow upgrade",
        "websocket, deaf shadow",
    ]
    assert all(row["round_trip_p50_ms"] > 0 for row in report["websocket_scenarios"])
    assert all(value is not None for value in report["ratios"].values())
    assert report["diff_engine_us"]["outcome"] == "match"
    assert "ratios (same run, same machine" in done.stdout
    # consumer contracts: both status documents against both built-in contracts, and drift
    checks = report["consumer_contracts_us"]
    timings = (
        "legacy_document",
        "app_document",
        "both_documents",
        "repeated_comparison",
        "drift_per_comparison",
        "drift_repeated_bodies",
        "drift_check",
        "drift_learn",
    )
    assert all(checks[name] > 0 for name in timings)
    assert checks["target_per_document"] == 30.0
    # each dashboard breaks on the other shape's result fields (4 + 4), legacy lacks nothing
    assert checks["breaks"] == 8
    assert checks["drift_findings"] > 0  # the app document lacks legacy's flat result fields
    assert "consumer contracts, microseconds, the status route" in done.stdout
    assert "drift learner, microseconds per comparison" in done.stdout
    # reading the diff log back: every generated record read by both commands, memory flat
    reading = report["diff_log_reading"]
    assert reading["records"] == 20_000
    assert reading["files"] >= 2  # a day's segment closed and compressed, the active one
    for command in ("summary", "signatures"):
        measured, empty = reading["commands"][command], reading["baseline"][command]
        assert measured["records"] == 20_000
        assert measured["records_per_s"] > 0
        assert measured["peak_rss_mib"] < empty["peak_rss_mib"] + 64
    assert "diff-log reading: 20000 records" in done.stdout
