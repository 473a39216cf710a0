"""The bench harness's parts, without timing anything: wrk's report parsed, percentiles pooled,
nginx's config, the fake backends' answers, counters and targets (nginx and wrk themselves are
run only when installed)."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import aiohttp
import orjson
import pytest

from benchmarks import tables, tools
from benchmarks.backends import MISMATCH_EVERY, Side, serve_side
from benchmarks.documents import APP_ID, LEGACY_ID, app_status, legacy_status
from benchmarks.load import BuiltIn, Run, combined, drive, pace
from benchmarks.nginx import config, run_nginx
from benchmarks.results import LATEST, http_sections, update_readme
from benchmarks.stand import Counters
from benchmarks.targets import Results, checks
from benchmarks.wrk import MARK, Wrk, parse

NGINX = shutil.which("nginx", path=os.environ.get("PATH", "") + ":/usr/sbin")
WRK = shutil.which("wrk")
STATUS = f"/api/analysis/status/{LEGACY_ID}"


def test_wrk_report_is_parsed_with_its_whole_histogram() -> None:
    output = "\n".join(
        [
            "Running 1s test @ http://127.0.0.1:1/",
            "  10 requests in 1.00s, 1.2KB read",
            f"{MARK} duration_us 2000000",
            f"{MARK} requests 12",
            f"{MARK} status_errors 2",
            f"{MARK} errors 1",
            *(f"{MARK} latency {value} 1" for value in range(1000, 11000, 1000)),
        ]
    )
    run = parse(output, "wrk x")
    assert run.requests == 10  # the two 5xx answers are errors, not answered requests
    assert run.errors == 3
    assert run.elapsed_s == 2.0
    assert run.throughput == 5.0
    assert (run.p50_ms, run.p99_ms, run.p999_ms) == (5.0, 10.0, 10.0)
    with pytest.raises(RuntimeError, match="no report"):
        parse("wrk: connection refused", "wrk x")


def test_percentiles_are_nearest_rank_and_rounds_pool_exactly() -> None:
    first = Run("built-in", {1000: 98, 5000: 2}, 100, 1.0, 0)
    second = Run("built-in", {2000: 99, 90000: 1}, 100, 1.0, 1)
    assert first.p50_ms == 1.0
    assert first.p99_ms == 5.0
    both = combined([first, second])
    assert both.requests == 200
    assert both.errors == 1
    assert both.throughput == 100.0
    assert both.p50_ms == 2.0  # rank 100 of 200: the 2nd value's bucket
    assert both.p99_ms == 5.0
    assert both.p999_ms == 90.0
    assert Run("built-in", {}, 0, 0.0, 3).p50_ms == 0.0


def test_nginx_config_mirrors_only_when_asked(tmp_path: Path) -> None:
    plain = config(port=1, upstream="127.0.0.1:2", mirror=None, workdir=tmp_path, compiled="")
    mirror = config(
        port=1,
        upstream="127.0.0.1:2",
        mirror="127.0.0.1:3",
        workdir=tmp_path,
        compiled="--without-http_scgi_module",
    )
    for text in (plain, mirror):
        assert "daemon off;" in text
        assert "master_process on;" in text
        assert "worker_processes 1;" in text
        assert "access_log off;" in text
        assert "server 127.0.0.1:2; keepalive" in text
        assert "listen 127.0.0.1:1;" in text
    assert "mirror " not in plain
    assert "location = /mirror" not in plain
    assert "scgi_temp_path" in plain
    assert "mirror /mirror;" in mirror
    assert "mirror_request_body on;" in mirror
    assert "server 127.0.0.1:3; keepalive" in mirror
    assert "scgi_temp_path" not in mirror  # a module left out of the build has no directive


async def test_fake_sides_answer_the_contract_shapes_padded_and_mismatching() -> None:
    legacy = await serve_side(Side(LEGACY_ID, legacy_status))
    app = await serve_side(Side(APP_ID, app_status, mismatch_every=MISMATCH_EVERY))
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(legacy.url + "/api/analysis/start", json={}) as answer:
                assert (await answer.json())["task_id"] == LEGACY_ID
            async with session.get(legacy.url + STATUS + "?size=10240") as answer:
                body = await answer.read()
            assert len(body) >= 10240
            assert orjson.loads(body)["decision"] == legacy_status()["decision"]
            decisions = []
            for _ in range(MISMATCH_EVERY):
                async with session.get(app.url + STATUS) as answer:
                    decisions.append((await answer.json())["result"]["decision"])
            assert decisions.count(app_status()["result"]["decision"]) == MISMATCH_EVERY - 1
            async with session.get(app.url + "/nowhere") as answer:
                assert answer.status == 404
        result = await drive(app.url + STATUS, concurrency=2, duration_s=0.2)
        assert result.errors == 0
        assert result.latencies_s
        paced = await pace(app.url + STATUS, rate=50, duration_s=0.2)
        assert (len(paced.latencies_s), paced.errors) == (10, 0)
    finally:
        await legacy.stop()
        await app.stop()
    refused = await drive(app.url + STATUS, concurrency=1, requests=2)  # stopped: refused
    assert (refused.errors, refused.latencies_s) == (2, ())


def test_counters_subtract_and_give_the_coverage() -> None:
    before = Counters(10, {"match": 5}, {"queue_full": 5})
    after = Counters(110, {"match": 95, "skipped": 1}, {"queue_full": 14})
    delta = after - before
    assert delta == Counters(100, {"match": 90, "skipped": 1}, {"queue_full": 9})
    assert delta.compared == 90  # a skip after the shadow call is not a comparison
    assert delta.coverage == 0.9
    assert Counters().coverage is None


def test_targets_without_figures_are_not_measured_and_the_tables_render() -> None:
    empty = Results(http={}, paced={}, curves=[], ws={}, paced_rate=500)
    assert all(check.met is None for check in checks(empty))
    report = {
        "started_utc": "2026-01-01T00:00:00Z",
        "elapsed_s": 1.0,
        "quick": True,
        "machine": {
            "cpu_model": "cpu",
            "nproc": 2,
            "processors": 2,
            "memory_gib": 1.0,
            "os": "os",
            "kernel": "k",
            "python": "3.11",
        },
        "load_average": {"start": 0.0, "end": 0.0},
        "tools": {"closed_loop_generator": "built-in", "nginx": None, "notes": ["nginx: gone"]},
        "closed_loop": "closed loop",
        "paced_loop": "paced",
        "websocket_loop": "websocket",
        "failed_sections": {},
        **http_sections(empty, {"nginx": "nginx not available"}),
    }
    for markdown in (False, True):
        text = tables.render(report, markdown=markdown)
        assert "not measured" in text
        assert "skipped, nginx not available" in text
    assert "| # | target | measured | bound | verdict |" in tables.render(report, markdown=True)


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed")
async def test_nginx_proxies_and_mirrors_every_request(tmp_path: Path) -> None:
    assert NGINX is not None
    legacy_side, app_side = Side(LEGACY_ID, legacy_status), Side(APP_ID, app_status)
    legacy, app = await serve_side(legacy_side), await serve_side(app_side)
    try:
        async with run_nginx(NGINX, upstream=legacy.url, mirror=app.url, workdir=tmp_path) as nginx:
            result = await drive(nginx.url + STATUS, concurrency=2, requests=20)
            assert (result.errors, len(result.latencies_s)) == (0, 20)
            assert legacy_side.answered == 20
            for _ in range(100):  # a mirror may still be on its way after its client's answer
                if app_side.answered == 20:
                    break
                await asyncio.sleep(0.02)
            assert app_side.answered == 20
            assert nginx.cpu_seconds() >= 0
            assert nginx.peak_rss_kib() > 0
            if WRK is not None:
                run = await Wrk(WRK, tmp_path).closed(
                    nginx.url + STATUS, concurrency=2, duration_s=1
                )
                assert run.requests > 0
                assert run.errors == 0
                assert run.p50_ms <= run.p999_ms
    finally:
        await legacy.stop()
        await app.stop()


async def test_the_built_in_generator_is_a_generator() -> None:
    side = Side(LEGACY_ID, legacy_status)
    served = await serve_side(side)
    try:
        run = await BuiltIn().closed(served.url + STATUS, concurrency=2, duration_s=0.2)
    finally:
        await served.stop()
    assert run.generator == "built-in"
    assert run.requests == side.answered
    assert run.errors == 0


def test_missing_tools_are_not_installed_when_told_so_and_say_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tools, "_which", lambda name: None)
    monkeypatch.setenv(tools.NO_INSTALL, "1")
    found = tools.find_tools()
    assert (found.nginx, found.wrk) == (None, None)
    assert found.notes[0] == "nginx and wrk not installed; not installing: BENCH_NO_INSTALL is set"
    assert found.why_missing["nginx"] == "not installed, BENCH_NO_INSTALL is set"
    left_out = tools.find_tools(install=False, use_nginx=False)
    assert left_out.why_missing["nginx"] == "left out (command line)"
    assert "nginx: left out (command line)" in left_out.notes


def test_the_readme_keeps_its_text_and_gets_the_latest_tables(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# Benchmarks\n\nhow to run\n\n{LATEST}\n\nold tables\n")
    update_readme("| new | tables |\n", readme)
    assert readme.read_text() == f"# Benchmarks\n\nhow to run\n\n{LATEST}\n\n| new | tables |\n"
    (tmp_path / "other.md").write_text("no heading\n")
    with pytest.raises(ValueError, match="no '## Latest full run' heading"):
        update_readme("x", tmp_path / "other.md")
