"""Dual-read and dual-write (migration phases 2 and 3): fallback, rollback, diff logs.

See docs/migration.md §3.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from structlog.testing import capture_logs

from app_service import contracts
from app_service.jobs import JobService, TaskEvents
from app_service.persistence.sqlite_store import SqliteTaskStore
from app_service.persistence.task_files import LegacyTaskJsonFiles, ResultContractFiles
from app_service.settings import MigrationFlags

from .conftest import ClientFactory, base_environ, wait_terminal

LEGACY_TASK = {
    "task_id": "MSFT_20260410_090000_0a0b0c",
    "ticker": "MSFT",
    "date": "2026-04-10",
    "status": "completed",
    "progress": 100,
    "current_stage": "portfolio",
    "created_at": "2026-04-10T09:00:00.000001",
    "elapsed": 0,
    "stages": [{"status": "completed", "completed_at": "09:00:03"}] * 5,
    "logs": [],
    "decision": "OVERWEIGHT",
    "quant_signal": "HOLD",
    "llm_signal": "BUY",
    "confidence": 0.63,
    "error": None,
}


def _plant_legacy(data_dir: Path, state: Mapping[str, Any]) -> None:
    folder = data_dir / "task_status"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{state['task_id']}.json").write_text(json.dumps(state, ensure_ascii=False))


async def test_task_only_in_legacy_json_is_served(
    make_client: ClientFactory, data_dir: Path
) -> None:
    _plant_legacy(data_dir, LEGACY_TASK)
    client = await make_client()
    resp = await client.get(f"/api/analysis/status/{LEGACY_TASK['task_id']}")
    assert resp.status == 200
    payload = await resp.json()
    assert payload["request_id"] == LEGACY_TASK["task_id"]
    assert payload["contract_version"] == "v1alpha1"
    assert payload["result"] is None
    assert payload["elapsed_seconds"] == 0
    assert payload["compat"] == {
        "decision": "OVERWEIGHT",
        "quant_signal": "HOLD",
        "llm_signal": "BUY",
        "confidence": 0.63,
    }
    assert "decision" not in payload
    stats = await (await client.get("/api/_internal/dual_stats")).json()
    assert stats["legacy_fallback_reads"] >= 1
    listing = await (await client.get("/api/analysis/tasks")).json()
    assert [t["task_id"] for t in listing["tasks"]] == [LEGACY_TASK["task_id"]]


async def test_dual_read_off_serves_legacy_json_only(
    make_client: ClientFactory, data_dir: Path
) -> None:
    client = await make_client(base_environ(TA_TASKSTORE_DUAL_READ="0"))
    resp = await client.post("/api/analysis/start", json={"ticker": "AAPL", "date": "2026-04-13"})
    task_id = (await resp.json())["task_id"]
    payload = await wait_terminal(client, task_id)
    # Served from the compatibility JSON: legacy vocabulary, signals folded into compat.
    assert payload["status"] == "completed"
    assert payload["result_ref"] is None
    assert payload["request_id"] == task_id
    # The contract file is still found by its standard path, so the result is not lost.
    assert payload["result"]["decision"] == payload["compat"]["decision"]
    (data_dir / "task_status" / f"{task_id}.json").unlink()
    resp = await client.get(f"/api/analysis/status/{task_id}")
    assert resp.status == 404  # SQLite still has it, but it is not read in rollback mode


async def test_dual_read_disagreement_is_logged_and_counted(
    client: TestClient[Any, Any], data_dir: Path
) -> None:
    resp = await client.post("/api/analysis/start", json={"ticker": "AAPL", "date": "2026-04-13"})
    task_id = (await resp.json())["task_id"]
    served = await wait_terminal(client, task_id)
    path = data_dir / "task_status" / f"{task_id}.json"
    legacy = json.loads(path.read_text())
    legacy["decision"] = "SELL" if legacy["decision"] != "SELL" else "BUY"
    path.write_text(json.dumps(legacy))
    with capture_logs() as logs:
        payload = await (await client.get(f"/api/analysis/status/{task_id}")).json()
    assert payload["result"] == served["result"]  # SQLite stays authoritative
    mismatches = [e for e in logs if e["event"] == "dual_read_mismatch"]
    assert mismatches == [
        {
            "event": "dual_read_mismatch",
            "log_level": "warning",
            "task_id": task_id,
            "fields": ["decision"],
        }
    ]
    stats = await (await client.get("/api/_internal/dual_stats")).json()
    assert stats["dual_read_mismatches"] == 1


class DriftingLegacyJson(LegacyTaskJsonFiles):
    """A compatibility writer that loses stage progress, as a lagging legacy store would."""

    async def write(self, legacy_state: Mapping[str, Any]) -> None:
        await super().write({**legacy_state, "progress": 0})


async def _job_service(
    tmp_path: Path, legacy: LegacyTaskJsonFiles
) -> tuple[JobService, SqliteTaskStore]:
    store = SqliteTaskStore(tmp_path / "app.sqlite3")
    await store.open()
    jobs = JobService(
        store=store,
        legacy=legacy,
        results=ResultContractFiles(tmp_path / "task_status"),
        flags=MigrationFlags(),
        events=TaskEvents(),
    )
    return jobs, store


def _state() -> dict[str, Any]:
    return contracts.create_analysis_state(
        task_id="AAPL_20260413_120000_ab12cd",
        ticker="AAPL",
        date="2026-04-13",
        created_at="2026-04-13T12:00:00",
        request_id="r",
    )


async def test_forced_dual_write_disagreement_produces_a_diff_log_line(tmp_path: Path) -> None:
    jobs, store = await _job_service(tmp_path, DriftingLegacyJson(tmp_path / "task_status"))
    try:
        state = _state()
        with capture_logs() as logs:
            await jobs.persist(state)  # progress 0 on both sides: agreement
            contracts.apply_stage(state, "analysts", clock="12:00:01", elapsed_seconds=1)
            await jobs.persist(state)  # SQLite says 20, the drifting JSON says 0
    finally:
        await store.close()
    mismatches = [e for e in logs if e["event"] == "dual_write_mismatch"]
    assert mismatches == [
        {
            "event": "dual_write_mismatch",
            "log_level": "warning",
            "task_id": state["task_id"],
            "fields": ["progress"],
        }
    ]
    assert jobs.stats.dual_writes == 2
    assert jobs.stats.dual_write_mismatches == 1


async def test_agreeing_stores_produce_no_diff_log(tmp_path: Path) -> None:
    jobs, store = await _job_service(tmp_path, LegacyTaskJsonFiles(tmp_path / "task_status"))
    try:
        state = _state()
        with capture_logs() as logs:
            for stage in contracts.STAGES:
                contracts.apply_stage(state, stage, clock="12:00:01", elapsed_seconds=1)
                await jobs.persist(state)
            contracts.cancel_task(state)
            await jobs.persist(state)
        loaded = await jobs.load(state["task_id"])
    finally:
        await store.close()
    assert [e for e in logs if e["event"].startswith("dual_")] == []
    assert loaded == state
    assert jobs.stats.dual_read_comparisons == 1


async def test_dual_write_off_keeps_sqlite_only(make_client: ClientFactory, data_dir: Path) -> None:
    client = await make_client(base_environ(TA_TASKSTORE_DUAL_WRITE="0"))
    resp = await client.post("/api/analysis/start", json={"ticker": "AAPL", "date": "2026-04-13"})
    task_id = (await resp.json())["task_id"]
    payload = await wait_terminal(client, task_id)
    assert payload["result"]["decision"]
    assert not (data_dir / "task_status" / f"{task_id}.json").exists()
    stats = await (await client.get("/api/_internal/dual_stats")).json()
    assert stats["dual_writes"] == 0
