"""`make bench` keeps working: quick runs of the suite end to end, measuring what they say.

No timing is asserted here (timings live in the benchmark's report, as ratios and targets): the
tests check that every scenario ran without errors, that the proxy really shadowed, compared,
mismatched and dropped where the scenario says it does, and that the report has every section.
The nginx and wrk run is skipped when they are not installed (the suite never installs them
from here: BENCH_NO_INSTALL and --no-install).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.shadowproxy.redis_server import redis_binary

KEYS = ["direct", "nginx", "nginx_mirror", "off", "on", "mismatch", "slow", "dead"]
PROXIED = ["off", "on", "mismatch", "slow", "dead"]
NGINX = shutil.which("nginx", path=os.environ.get("PATH", "") + ":/usr/sbin") is not None
WRK = shutil.which("wrk") is not None


def _quick(tmp_path: Path, *args: str) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "benchmarks", "--quick", "--no-install"),
            *("--json", str(out), "--results", str(tmp_path / "results"), *args),
        ],
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
        env={**os.environ, "BENCH_NO_INSTALL": "1"},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert sorted(p.suffix for p in (tmp_path / "results").iterdir()) == [".json", ".md"]
    return json.loads(out.read_text()), done


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_quick_run_with_the_built_in_generator_and_no_nginx(tmp_path: Path) -> None:
    report, done = _quick(
        tmp_path, "--generator", "built-in", "--no-nginx", "--skip", "difflog", "--skip", "scaleout"
    )
    assert report["failed_sections"] == {}
    assert report["tools"]["closed_loop_generator"] == "built-in"
    assert "closed-loop generator: built-in" in done.stdout
    assert "nginx: left out (command line)" in report["tools"]["notes"]
    rows = {row["key"]: row for row in report["scenarios"]}
    assert list(rows) == KEYS
    assert "skipped" in rows["nginx"]
    assert "skipped" in rows["nginx_mirror"]
    ran = [rows[key] for key in ["direct", *PROXIED]]
    assert all(row["errors"] == 0 and row["requests"] > 0 for row in ran)
    assert all(row["generator"] == "built-in" for row in ran)
    assert rows["direct"]["cpu_us_per_request"] is None
    assert all(rows[key]["cpu_us_per_request"] > 0 for key in PROXIED)
    assert all(rows[key]["peak_rss_mib"] > 0 for key in PROXIED)
    assert all(row["p50_ms"] <= row["p99_ms"] <= row["p999_ms"] for row in ran)
    _check_counters(rows)
    paced = {row["key"]: row for row in report["paced"]}
    assert list(paced) == ["direct", "off", "on"]
    assert all(row["errors"] == 0 and row["generator"] == "built-in" for row in paced.values())
    curves = [
        (row["curve"], row["key"], row["concurrency"], row["size_bytes"])
        for row in report["curves"]
    ]
    assert [c for c in curves if c[0] == "concurrency"] == [
        ("concurrency", "on", clients, None) for clients in (1, 8, 32, 128)
    ]
    assert [c[1:] for c in curves if c[0] == "size"] == [
        (key, 8, size) for size in (1024, 10240, 102400) for key in ("direct", "on")
    ]
    assert all(row["errors"] == 0 for row in report["curves"])
    websocket = {row["scenario"]: row for row in report["websocket_scenarios"]}
    assert list(websocket) == [
        "websocket, direct",
        "websocket, shadow off",
        "websocket, shadow on",
        "websocket, hung shadow upgrade",
        "websocket, deaf shadow",
    ]
    assert all(row["frames_per_s"] > 0 for row in websocket.values())
    targets = report["targets"]
    assert [t["target"] for t in targets] == ["1", "1", "2", "2", *"333333", "5", "5", "6", "7"]
    nginx_bound = {"1", "2"}  # against nginx, but target 2's latency is against direct
    for target in targets:
        if target["target"] in nginx_bound and "nginx" in target["name"]:
            assert target["met"] is None
        else:
            assert target["met"] in (True, False), target
    assert report["diff_engine_us"]["outcome"] == "match"
    assert "targets (issue 15)" in done.stdout


def _check_counters(rows: dict[str, dict[str, Any]]) -> None:
    """Each proxy's admin counters over its measured runs say what its scenario is."""
    off, on, mismatch, slow, dead = (rows[key] for key in PROXIED)
    assert off["comparisons"] == {}
    assert off["shadow_skipped"]["shadow_off"] == off["requests_counted"]
    # all matching; what was not compared was dropped at capacity (never queued without bound)
    assert set(on["comparisons"]) == {"match"}
    assert set(on["shadow_skipped"]) <= {"queue_full"}
    assert 0 < on["coverage"] <= 1
    for row in (on, mismatch, slow, dead):
        accounted = sum(row["comparisons"].values()) + sum(row["shadow_skipped"].values())
        assert accounted == row["requests_counted"], row
        assert row["requests_counted"] >= row["requests"]
    assert set(mismatch["comparisons"]) == {"match", "mismatch"}
    assert set(slow["comparisons"]) == {"match"}
    assert set(slow["shadow_skipped"]) <= {"queue_full"}
    assert set(dead["comparisons"]) == {"shadow_error"}  # the port refuses: never compared


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.skipif(not (NGINX and WRK), reason="nginx and wrk are not installed")
def test_quick_run_against_nginx_with_wrk(tmp_path: Path) -> None:
    report, _ = _quick(
        tmp_path, "--skip", "websocket", "--skip", "diff", "--skip", "contracts",
        "--skip", "difflog", "--skip", "scaleout",
    )  # fmt: skip
    assert report["failed_sections"] == {}
    assert report["tools"]["closed_loop_generator"].startswith("wrk")
    rows = {row["key"]: row for row in report["scenarios"]}
    assert all("skipped" not in row for row in rows.values())
    assert all(row["errors"] == 0 and row["requests"] > 0 for row in rows.values())
    assert all(row["generator"].startswith("wrk") for row in rows.values())
    for key in ("nginx", "nginx_mirror"):
        assert rows[key]["cpu_us_per_request"] > 0
        assert rows[key]["peak_rss_mib"] > 0
        assert rows[key]["comparisons"] is None
    _check_counters(rows)
    assert [row["key"] for row in report["paced"]] == ["direct", "nginx", "off", "on"]
    assert {row["key"] for row in report["curves"]} == {"direct", "nginx_mirror", "on"}
    by_name = {t["name"]: t for t in report["targets"]}
    assert by_name["throughput: shadow + diff / nginx mirror"]["met"] in (True, False)
    assert by_name["CPU per request: shadow off / nginx plain"]["met"] in (True, False)
    # websocket not run: its targets are not measured, never met
    assert by_name["ws frames/s: shadow on / direct"]["met"] is None


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_quick_run_of_the_diff_contracts_and_diff_log_sections(tmp_path: Path) -> None:
    report, done = _quick(tmp_path, "--skip", "http", "--skip", "websocket", "--skip", "scaleout")
    assert report["failed_sections"] == {}
    assert all(row.get("skipped") for row in report["scenarios"])
    assert report["diff_engine_us"]["outcome"] == "match"
    assert all(value is not None for value in report["diff_ratios"].values())
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


LAYOUTS = {"one_local": 1, "one_redis": 1, "two_redis": 2}  # scale-out layout -> replicas
LOOKUPS = {
    "local_hit", "shared_hit", "store_get", "store_miss", "create_local", "create_shared",
    "visible",
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_quick_run_of_the_scale_out_section(tmp_path: Path) -> None:
    redis_binary()  # skips without redis-server (fails in CI)
    others = ("http", "websocket", "diff", "contracts", "difflog")
    args = [arg for section in others for arg in ("--skip", section)]
    report, done = _quick(tmp_path, "--generator", "built-in", "--no-nginx", *args)
    assert report["failed_sections"] == {}
    section = report["scale_out"]
    assert section["generator"] == "built-in"
    rows = {row["key"]: row for row in section["layouts"]}
    assert {key: row["replicas"] for key, row in rows.items()} == LAYOUTS
    for key, row in rows.items():
        assert row["errors"] == 0, key
        assert row["requests"] > 0, key
        assert row["proxy_cpu_us_per_request"] > 0, key
        assert len(row["peak_rss_mib"]) == len(row["comparisons"]) == row["replicas"]
        # every replica compared, all matching: the pair learned through the first replica is
        # known on the second (never uncorrelated, never store_unavailable); the rest dropped
        # at capacity
        for outcomes, skipped in zip(row["comparisons"], row["shadow_skipped"], strict=True):
            assert set(outcomes) == {"match"}, (key, outcomes)
            assert set(skipped) <= {"queue_full"}, (key, skipped)
        assert 0 < row["compared"] <= 1
    assert rows["one_local"]["redis_cpu_us_per_request"] is None
    assert rows["two_redis"]["redis_cpu_us_per_request"] is not None
    assert all(value is not None and value > 0 for value in section["ratios"].values())
    lookups = section["lookups_us"]
    assert set(lookups) == LOOKUPS
    assert all(0 < t["p50_us"] <= t["p99_us"] and t["count"] > 0 for t in lookups.values())
    assert "scale-out: two replicas sharing Redis against one replica" in done.stdout
    (markdown,) = (tmp_path / "results").glob("*.md")
    assert "two replicas, Redis store" in markdown.read_text()
