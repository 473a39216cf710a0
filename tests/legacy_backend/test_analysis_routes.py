"""Analysis lifecycle through the real `python -m orchestrator analyze` subprocess."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from legacy_backend.state import RUNTIME

ClientFactory = Any
Waiter = Any

STATE_KEYS = [
    "task_id",
    "ticker",
    "date",
    "status",
    "progress",
    "current_stage",
    "created_at",
    "elapsed",
    "stages",
    "logs",
    "decision",
    "quant_signal",
    "llm_signal",
    "confidence",
    "error",
]


async def start(
    client: TestClient[web.Request, web.Application], ticker: str = "AAPL", date: str = "2026-04-13"
) -> str:
    response = await client.post("/api/analysis/start", json={"ticker": ticker, "date": date})
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body == {"task_id": body["task_id"], "ticker": ticker, "date": date, "status": "running"}
    return str(body["task_id"])


async def test_full_lifecycle_streams_each_stage_then_completes(
    start_client: ClientFactory, gated_command: tuple[str, ...], gate_file: Path, data_dir: Path
) -> None:
    gate = gate_file
    client = await start_client(analysis_command=gated_command)
    task_id = await start(client)
    assert re.fullmatch(r"AAPL_\d{8}_\d{6}_[0-9a-f]{6}", task_id)

    async with client.ws_connect(f"/ws/analysis/{task_id}") as ws:
        snapshot = await ws.receive_json()
        assert snapshot["type"] == "progress"
        assert list(snapshot)[1:] == STATE_KEYS
        assert (snapshot["status"], snapshot["progress"], snapshot["current_stage"]) == (
            "running",
            0,
            "analysts",
        )
        assert [s["status"] for s in snapshot["stages"]] == ["running"] + ["pending"] * 4
        await asyncio.to_thread(gate.touch)
        events: list[dict[str, Any]] = []
        while not events or events[-1]["status"] == "running":
            events.append(await ws.receive_json())

    assert [(e["progress"], e["current_stage"]) for e in events[:5]] == [
        (20, "analysts"),
        (40, "research"),
        (60, "trading"),
        (80, "risk"),
        (100, "portfolio"),
    ]
    assert events[1]["stages"][2] == {"status": "running", "completed_at": None}
    final = events[-1]
    assert len(events) == 6
    assert final["status"] == "completed"
    assert final["decision"] in {"BUY", "OVERWEIGHT", "HOLD", "UNDERWEIGHT", "SELL"}
    assert isinstance(final["confidence"], float)
    assert final["quant_signal"]
    assert final["llm_signal"]
    assert all(s["status"] == "completed" and s["completed_at"] for s in final["stages"])
    assert (final["elapsed"], final["logs"], final["error"]) == (0, [], None)

    status = await (await client.get(f"/api/analysis/status/{task_id}")).json()
    assert status == {key: value for key, value in final.items() if key != "type"}
    persisted = json.loads((data_dir / "task_status" / f"{task_id}.json").read_text("utf-8"))
    assert persisted == status
    report = data_dir / "results" / "AAPL" / "2026-04-13" / "complete_report.md"
    assert f"**{final['decision']}**" in report.read_text("utf-8")


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        pytest.param("crash", "ANALYSIS_ERROR:", id="crash-error-marker"),
        pytest.param("raw_crash", "raw_crash", id="raw-crash-no-marker"),
    ],
)
async def test_crashing_subprocess_fails_with_stderr_tail(
    wait_terminal: Waiter, start_client: ClientFactory, fault: str, expected: str
) -> None:
    client = await start_client({"TA_FAULT_PIPELINE": fault})
    task_id = await start(client)
    state = await wait_terminal(client, task_id)
    assert state["status"] == "failed"
    assert expected in state["error"]
    assert len(state["error"]) <= 1000
    assert (await client.get("/health")).status == 200


async def test_missing_markers_default_to_hold(
    wait_terminal: Waiter, start_client: ClientFactory
) -> None:
    client = await start_client({"TA_FAULT_PIPELINE": "no_markers"})
    state = await wait_terminal(client, await start(client))
    assert (state["status"], state["decision"], state["progress"]) == ("completed", "HOLD", 100)
    assert all(stage["completed_at"] for stage in state["stages"])


@pytest.mark.parametrize(
    ("env", "error"),
    [
        pytest.param(
            {"FAKE_FAIL_TIMES": "9", "FAKE_STDERR_CHARS": "1500"}, "x" * 997 + "END", id="tail-1000"
        ),
        pytest.param({"FAKE_EMPTY_FAIL": "1"}, "Unknown error", id="no-stderr"),
    ],
)
async def test_failure_text_is_last_1000_chars_or_unknown(
    fake_command: tuple[str, ...],
    wait_terminal: Waiter,
    start_client: ClientFactory,
    tmp_path: Path,
    env: dict[str, str],
    error: str,
) -> None:
    client = await start_client(
        {**env, "FAKE_COUNTER_DIR": str(tmp_path)}, analysis_command=fake_command
    )
    state = await wait_terminal(client, await start(client))
    assert (state["status"], state["error"]) == ("failed", error)


async def test_unknown_stage_names_are_ignored(
    fake_command: tuple[str, ...], wait_terminal: Waiter, start_client: ClientFactory
) -> None:
    client = await start_client({"FAKE_UNKNOWN_STAGE": "1"}, analysis_command=fake_command)
    state = await wait_terminal(client, await start(client))
    assert (state["decision"], state["llm_signal"], state["confidence"]) == (
        "OVERWEIGHT",
        "BUY",
        0.63,
    )


async def test_cancel_of_stalled_analysis_kills_and_forgets_it(
    start_client: ClientFactory, data_dir: Path
) -> None:
    client = await start_client({"TA_FAULT_PIPELINE": "stall"})
    task_id = await start(client)
    async with client.ws_connect(f"/ws/analysis/{task_id}") as ws:
        first = await ws.receive_json()
        while first["progress"] < 20:
            first = await ws.receive_json()
        assert first["current_stage"] == "analysts"
        response = await client.delete(f"/api/analysis/cancel/{task_id}")
        assert await response.json() == {"task_id": task_id, "status": "cancelled"}
        cancelled = await ws.receive_json()
    assert (cancelled["status"], cancelled["error"]) == ("failed", "用户取消")
    assert cancelled["progress"] == 20
    status = await (await client.get(f"/api/analysis/status/{task_id}")).json()
    assert status["status"] == "failed"
    assert not (data_dir / "task_status" / f"{task_id}.json").exists()


async def test_silent_stdout_stops_reading_without_killing(
    wait_terminal: Waiter,
    start_client: ClientFactory,
    fake_command: tuple[str, ...],
    gate_file: Path,
) -> None:
    client = await start_client(
        {"FAKE_GATE": str(gate_file)}, analysis_command=fake_command, stdout_silence_secs=0.2
    )
    task_id = await start(client)
    await asyncio.sleep(0.6)  # longer than the silence limit: the reader has given up by now
    await asyncio.to_thread(gate_file.touch)
    state = await wait_terminal(client, task_id)
    # The process was not killed (exit 0 => completed), but its markers were never read.
    assert (state["status"], state["decision"], state["llm_signal"]) == ("completed", "HOLD", None)


async def test_restart_keeps_terminal_tasks_and_drops_cancelled(
    wait_terminal: Waiter, start_client: ClientFactory, aiohttp_client: Any, data_dir: Path
) -> None:
    client = await start_client()
    done = await wait_terminal(client, await start(client, "MSFT"))
    cancelled = await start(client, "NVDA")
    await wait_terminal(client, cancelled)
    # LEGACY quirk: the job stays registered, so cancelling a finished task still fails it.
    await client.delete(f"/api/analysis/cancel/{cancelled}")
    assert (await client.get(f"/api/analysis/status/{cancelled}")).status == 200
    (data_dir / "task_status" / "broken.json").write_text("{not json", "utf-8")
    await client.close()

    restarted = await start_client()
    status = await restarted.get(f"/api/analysis/status/{done['task_id']}")
    assert await status.json() == done
    missing = await restarted.get(f"/api/analysis/status/{cancelled}")
    assert (missing.status, await missing.json()) == (404, {"detail": "Task not found"})
    # A restored task has no job: cancel leaves its state but deletes the file.
    again = await restarted.delete(f"/api/analysis/cancel/{done['task_id']}")
    assert again.status == 200
    kept = await (await restarted.get(f"/api/analysis/status/{done['task_id']}")).json()
    assert kept["status"] == "completed"
    assert not (data_dir / "task_status" / f"{done['task_id']}.json").exists()


async def test_shutdown_kills_running_analysis_and_persists_nothing(
    start_client: ClientFactory, data_dir: Path
) -> None:
    client = await start_client({"TA_FAULT_PIPELINE": "stall"})
    task_id = await start(client)
    async with client.ws_connect(f"/ws/analysis/{task_id}") as ws:
        while (await ws.receive_json())["progress"] < 20:
            pass  # the stalled run printed its first stage: the process is alive
    runtime = client.app[RUNTIME]
    process = runtime.processes[task_id]
    await client.close()
    assert process.returncode is not None
    assert not runtime.processes
    assert not (data_dir / "task_status" / f"{task_id}.json").exists()


async def test_restored_running_task_stays_running(
    start_client: ClientFactory, data_dir: Path
) -> None:
    folder = data_dir / "task_status"
    folder.mkdir(parents=True)
    state = {"task_id": "OLD_20260101_000000_abcdef", "ticker": "OLD", "status": "running"}
    (folder / "OLD_20260101_000000_abcdef.json").write_text(json.dumps(state), "utf-8")
    (folder / "no_id.json").write_text('{"ticker": "X"}', "utf-8")
    client = await start_client()
    response = await client.get("/api/analysis/status/OLD_20260101_000000_abcdef")
    assert await response.json() == state
    tasks = await (await client.get("/api/analysis/tasks")).json()
    assert [task["task_id"] for task in tasks["tasks"]] == ["OLD_20260101_000000_abcdef"]


async def test_task_list_is_newest_first_with_legacy_summaries(
    wait_terminal: Waiter, client: TestClient[web.Request, web.Application]
) -> None:
    first = await start(client, "AAA")
    await wait_terminal(client, first)
    second = await start(client, "BBB")
    await wait_terminal(client, second)
    body = await (await client.get("/api/analysis/tasks")).json()
    assert body["total"] == 2
    assert [task["task_id"] for task in body["tasks"]] == [second, first]
    assert list(body["tasks"][0]) == [
        "task_id",
        "ticker",
        "date",
        "status",
        "progress",
        "decision",
        "error",
        "created_at",
    ]


@pytest.mark.parametrize(
    ("env", "detail"),
    [
        pytest.param(
            {"TRADINGAGENTS_LLM_PROVIDER": "openai"},
            "OPENAI_API_KEY environment variable not set",
            id="openai-no-key",
        ),
        pytest.param(
            {"TRADINGAGENTS_LLM_PROVIDER": "anthropic"},
            "ANTHROPIC_API_KEY environment variable not set",
            id="anthropic-no-key",
        ),
    ],
)
async def test_missing_provider_key_is_a_synchronous_500(
    start_client: ClientFactory, env: dict[str, str], detail: str
) -> None:
    client = await start_client(env)
    response = await client.post("/api/analysis/start", json={"ticker": "AAPL"})
    assert (response.status, await response.json()) == (500, {"detail": detail})
    assert (await (await client.get("/api/analysis/tasks")).json())["total"] == 0


@pytest.mark.parametrize(
    "env",
    [
        pytest.param({"TRADINGAGENTS_LLM_PROVIDER": "openai", "OPENAI_API_KEY": "sk"}, id="openai"),
        pytest.param(
            {"TRADINGAGENTS_LLM_PROVIDER": "anthropic", "MINIMAX_API_KEY": "m"}, id="minimax"
        ),
        pytest.param({"TRADINGAGENTS_LLM_PROVIDER": "ollama"}, id="ollama-keyless"),
    ],
)
async def test_provider_with_key_starts(start_client: ClientFactory, env: dict[str, str]) -> None:
    client = await start_client(env)
    response = await client.post("/api/analysis/start", json={"ticker": "AAPL"})
    assert response.status == 200
    await client.delete(f"/api/analysis/cancel/{(await response.json())['task_id']}")


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/api/analysis/status/nope", id="status-unknown"),
        pytest.param("/api/analysis/status/..%2F..%2Fetc", id="status-encoded-traversal"),
        pytest.param("/api/analysis/status/..%5Cx", id="status-backslash"),
    ],
)
async def test_unknown_task_is_404(
    client: TestClient[web.Request, web.Application], path: str
) -> None:
    response = await client.get(path)
    assert (response.status, await response.json()) == (404, {"detail": "Task not found"})


async def test_cancel_unknown_task_is_404_and_touches_nothing(
    client: TestClient[web.Request, web.Application], tmp_path: Path
) -> None:
    outside = tmp_path / "victim.json"
    outside.write_text("{}", "utf-8")
    response = await client.delete("/api/analysis/cancel/..%2F..%2Fvictim")
    assert (response.status, await response.json()) == (404, {"detail": "Task not found"})
    assert outside.exists()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"ticker": "../../evil", "date": "2026-04-13"}, id="ticker-dotdot"),
        pytest.param({"ticker": "AAPL", "date": "..\\x"}, id="date-backslash"),
    ],
)
async def test_start_rejects_path_like_input(
    client: TestClient[web.Request, web.Application], body: dict[str, str], data_dir: Path
) -> None:
    response = await client.post("/api/analysis/start", json=body)
    assert response.status == 404
    assert (await (await client.get("/api/analysis/tasks")).json())["total"] == 0


async def test_ws_snapshot_of_running_task_is_the_raw_state(
    wait_terminal: Waiter, client: TestClient[web.Request, web.Application]
) -> None:
    task_id = await start(client)
    state = await wait_terminal(client, task_id)
    async with client.ws_connect(f"/ws/analysis/{task_id}") as ws:
        message = await ws.receive_json()
        await ws.send_str('{"type":"ping"}')
        pong = await ws.receive_json()
        await ws.send_str('{"type":"other"}')
        await ws.send_str('{"type":"ping"}')
        second_pong = await ws.receive_json()
    assert message == {"type": "progress", **state}
    # The terminal snapshot does not end the socket: it still answers pings afterwards.
    assert pong == second_pong == {"type": "pong"}
