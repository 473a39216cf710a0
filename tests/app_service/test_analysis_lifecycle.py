"""Task lifecycle through HTTP with the real kernel: success, failures, cancel, restart, parity."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from .conftest import ClientFactory, base_environ, fake_kernel, wait_terminal


async def _start(client: TestClient[Any, Any], ticker: str = "AAPL") -> str:
    resp = await client.post("/api/analysis/start", json={"ticker": ticker, "date": "2026-04-13"})
    assert resp.status == 200
    body = await resp.json()
    assert list(body) == ["contract_version", "task_id", "ticker", "date", "status"]
    assert body["contract_version"] == "v1alpha1"
    assert body["status"] == "running"
    task_id: str = body["task_id"]
    return task_id


def _kernel_markers(tmp_path: Path) -> dict[str, str]:
    """What `python -m orchestrator analyze` itself prints for the same ticker and date."""
    env = base_environ(
        TRADINGAGENTS_RESULTS_DIR=str(tmp_path / "direct" / "results"),
        TA_CACHE_DIR=str(tmp_path / "direct" / "cache"),
    )
    proc = subprocess.run(
        [sys.executable, "-m", "orchestrator", "analyze", "AAPL", "2026-04-13"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    markers = {}
    for line in proc.stdout.splitlines():
        name, _, payload = line.partition(":")
        markers[name] = payload
    return markers


async def test_completed_analysis_matches_the_kernel(
    client: TestClient[Any, Any], data_dir: Path, tmp_path: Path
) -> None:
    task_id = await _start(client)
    payload = await wait_terminal(client, task_id)
    assert payload["status"] in ("completed", "degraded_success")
    assert payload["progress"] == 100
    assert [s["name"] for s in payload["stages"]] == [
        "analysts",
        "research",
        "trading",
        "risk",
        "portfolio",
    ]
    assert all(s["status"] == "completed" for s in payload["stages"])
    assert payload["error"] is None
    assert payload["result_ref"] == f"results/{task_id}/result.v1alpha1.json"

    markers = _kernel_markers(tmp_path)
    detail = json.loads(markers["SIGNAL_DETAIL"])
    assert payload["result"]["decision"] == markers["ANALYSIS_COMPLETE"]
    assert payload["result"]["confidence"] == detail["confidence"]
    assert payload["result"]["signals"]["llm"]["rating"] == detail["llm_signal"]
    assert payload["compat"]["quant_signal"] == detail["quant_signal"]

    contract = json.loads((data_dir / "task_status" / payload["result_ref"]).read_text())
    assert contract["task_id"] == task_id
    assert contract["result"] == payload["result"]
    legacy = json.loads((data_dir / "task_status" / f"{task_id}.json").read_text())
    assert legacy["decision"] == payload["result"]["decision"]
    assert legacy["status"] == "completed"
    assert "name" not in legacy["stages"][0]
    report = data_dir / "results" / "AAPL" / "2026-04-13" / "complete_report.md"
    assert report.read_text(encoding="utf-8").startswith("# TradingAgents 分析报告")

    stats = await (await client.get("/api/_internal/dual_stats")).json()
    assert stats["dual_writes"] >= 7  # creation, five stages, terminal
    assert stats["dual_write_mismatches"] == 0
    assert stats["dual_read_mismatches"] == 0

    listing = await (await client.get("/api/analysis/tasks")).json()
    assert listing["contract_version"] == "v1alpha1"
    assert listing["total"] == 1
    assert listing["tasks"][0]["summary"]["decision"] == markers["ANALYSIS_COMPLETE"]


async def test_missing_openai_key_fails_the_task_not_the_request(
    make_client: ClientFactory,
) -> None:
    client = await make_client(base_environ(TRADINGAGENTS_LLM_PROVIDER="openai"))
    payload = await wait_terminal(client, await _start(client))
    assert payload["status"] == "failed"
    assert payload["error"] == {
        "code": "analysis_failed",
        "message": "openai provider API key not configured",
        "retryable": False,
    }
    assert payload["result"] is None


async def test_kernel_crash_keeps_progress_and_reports_the_error(
    make_client: ClientFactory,
) -> None:
    client = await make_client(base_environ(TA_FAULT_PIPELINE="crash"))
    payload = await wait_terminal(client, await _start(client))
    assert payload["status"] == "failed"
    assert payload["error"]["code"] == "analysis_failed"
    assert payload["error"]["message"]
    assert payload["progress"] == 60
    assert payload["current_stage"] == "trading"


async def _wait_stage(client: TestClient[Any, Any], task_id: str, stage: str) -> None:
    while True:
        payload = await (await client.get(f"/api/analysis/status/{task_id}")).json()
        if payload["current_stage"] == stage and payload["progress"] > 0:
            return
        await asyncio.sleep(0.05)


async def test_cancel_keeps_the_task_readable_across_restart(make_client: ClientFactory) -> None:
    env = base_environ(TA_FAULT_PIPELINE="stall", TA_FAULT_STALL_S="600")
    client = await make_client(env)
    task_id = await _start(client)
    await _wait_stage(client, task_id, "analysts")
    resp = await client.delete(f"/api/analysis/cancel/{task_id}")
    assert await resp.json() == {
        "contract_version": "v1alpha1",
        "task_id": task_id,
        "status": "cancelled",
    }
    cancelled = {"code": "cancelled", "message": "用户取消", "retryable": False}
    status = await (await client.get(f"/api/analysis/status/{task_id}")).json()
    assert status["status"] == "cancelled"
    assert status["error"] == cancelled
    await client.close()

    again = await make_client(env)
    status = await (await again.get(f"/api/analysis/status/{task_id}")).json()
    assert status["status"] == "cancelled"
    assert status["error"] == cancelled


async def test_cancel_unknown_task_is_404(client: TestClient[Any, Any]) -> None:
    resp = await client.delete("/api/analysis/cancel/NOPE_20260101_000000_abcdef")
    assert resp.status == 404
    assert await resp.json() == {"detail": "Task not found"}


async def test_restart_marks_in_flight_tasks_interrupted(make_client: ClientFactory) -> None:
    env = base_environ(TA_FAULT_PIPELINE="stall", TA_FAULT_STALL_S="600")
    client = await make_client(env)
    task_id = await _start(client)
    await _wait_stage(client, task_id, "analysts")
    await client.close()  # shutdown kills the subprocess; the stores still say running

    restarted = await make_client(base_environ())
    status = await (await restarted.get(f"/api/analysis/status/{task_id}")).json()
    assert status["status"] == "failed"
    assert status["error"]["code"] == "interrupted"
    assert status["error"]["retryable"] is True
    assert status["progress"] == 20


async def test_portfolio_batch_writes_contract_recommendations(
    client: TestClient[Any, Any], data_dir: Path
) -> None:
    for ticker in ("AAPL", "MSFT"):
        resp = await client.post("/api/portfolio/watchlist", json={"ticker": ticker})
        assert resp.status == 200
    resp = await client.post("/api/portfolio/analyze")
    accepted = await resp.json()
    assert list(accepted) == ["contract_version", "task_id", "total", "status"]
    assert accepted["task_id"].startswith("port_")
    assert accepted["total"] == 2
    payload = await wait_terminal(client, accepted["task_id"])
    assert payload["status"] == "completed"
    assert payload["type"] == "portfolio"
    assert (payload["completed"], payload["failed"], payload["current_ticker"]) == (2, 0, None)
    assert [r["ticker"] for r in payload["results"]] == ["AAPL", "MSFT"]

    listing = await (await client.get("/api/portfolio/recommendations")).json()
    assert listing["contract_version"] == "v1alpha1"
    assert listing["total"] == 2
    assert [r["ticker"] for r in listing["recommendations"]] == ["MSFT", "AAPL"]
    stored_files = list((data_dir / "portfolio" / "recommendations").glob("*/*.json"))
    stored = json.loads(stored_files[0].read_text(encoding="utf-8"))
    assert stored["contract_version"] == "v1alpha1"
    assert "compat" in stored


async def test_empty_watchlist_cannot_be_analyzed(client: TestClient[Any, Any]) -> None:
    resp = await client.post("/api/portfolio/analyze")
    assert resp.status == 400
    assert await resp.json() == {"detail": "自选股为空，请先添加股票"}


async def test_corrupt_row_and_corrupt_file_are_skipped(
    client: TestClient[Any, Any], data_dir: Path
) -> None:
    good = await _start(client)
    await wait_terminal(client, good)
    with sqlite3.connect(data_dir / "app.sqlite3") as db:
        db.execute(
            "INSERT INTO tasks (task_id, status, created_at, state) VALUES (?, ?, ?, ?)",
            ("BROKEN_1", "running", None, "{not json"),
        )
    (data_dir / "task_status" / "BROKEN_2.json").write_text("[1, 2")
    listing = await (await client.get("/api/analysis/tasks")).json()
    assert [t["task_id"] for t in listing["tasks"]] == [good]
    resp = await client.get("/api/analysis/status/BROKEN_1")
    assert resp.status == 404


async def test_portfolio_batch_counts_failed_tickers(
    make_client: ClientFactory, data_dir: Path
) -> None:
    env = base_environ(TA_FAULT_PIPELINE="crash", TA_PORTFOLIO_RETRY_DELAY_S="0")
    client = await make_client(env)
    await client.post("/api/portfolio/watchlist", json={"ticker": "AAPL"})
    accepted = await (await client.post("/api/portfolio/analyze")).json()
    payload = await wait_terminal(client, accepted["task_id"])
    assert payload["status"] == "completed"
    assert (payload["completed"], payload["failed"], payload["results"]) == (0, 1, [])
    assert not (data_dir / "portfolio" / "recommendations").exists()


async def test_shutdown_kills_the_running_kernel(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    pid_file = tmp_path / "kernel.pid"
    command = fake_kernel(
        tmp_path,
        f"import os\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "print('STAGE:analysts', flush=True)\ntime.sleep(3600)\n",
    )
    client = await make_client(analysis_command=command)
    task_id = await _start(client)
    await _wait_stage(client, task_id, "analysts")
    pid = int(pid_file.read_text())
    await client.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
