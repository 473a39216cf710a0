"""Both websockets (NEW): snapshots, per-stage progress, ping, bad input, auth, live signals.

See docs/upstream-contract.md §3.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from ..conftest import ClientFactory, base_environ, fake_kernel

GATED_KERNEL = """
import pathlib
print("STAGE:analysts", flush=True)
while not pathlib.Path(sys.argv[0] + ".go").exists():
    time.sleep(0.01)
for s in ("research", "trading", "risk", "portfolio"):
    print("STAGE:" + s, flush=True)
print('SIGNAL_DETAIL:{"llm_signal":"BUY","quant_signal":null,"confidence":0.63}')
print('RESULT_META:{"degrade_reason_codes":["quant_not_configured"],"data_quality":null,'
      '"source_diagnostics":{"quant":{"reason_code":"quant_not_configured"}}}')
print("ANALYSIS_COMPLETE:OVERWEIGHT")
"""


async def _gated_client(
    make_client: ClientFactory, tmp_path: Path, **env: str
) -> tuple[TestClient[Any, Any], Path]:
    command = fake_kernel(tmp_path, GATED_KERNEL)
    client = await make_client(base_environ(**env), analysis_command=command)
    return client, Path(command[1] + ".go")


async def _start(client: TestClient[Any, Any]) -> str:
    resp = await client.post("/api/analysis/start", json={"ticker": "AAPL", "date": "2026-04-13"})
    task_id: str = (await resp.json())["task_id"]
    return task_id


async def _until_terminal(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    messages = []
    while True:
        message: dict[str, Any] = await ws.receive_json()
        messages.append(message)
        if message.get("status") not in (None, "running"):
            return messages


async def test_progress_per_stage_and_terminal_contract(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    client, go = await _gated_client(make_client, tmp_path)
    task_id = await _start(client)
    async with client.ws_connect(f"/ws/analysis/{task_id}") as ws:
        snapshot = await ws.receive_json()
        assert snapshot["type"] == "progress"
        assert snapshot["task_id"] == task_id
        assert snapshot["progress"] in (0, 20)
        go.write_text("go")
        messages = await _until_terminal(ws)
        progress = [m["progress"] for m in messages]
        assert progress[-5:] == [40, 60, 80, 100, 100]
        assert [m["status"] for m in messages[-2:]] == ["running", "degraded_success"]
        final = messages[-1]
        assert final["contract_version"] == "v1alpha1"
        assert "decision" not in final
        assert final["compat"]["decision"] == "OVERWEIGHT"
        assert final["result"]["signals"]["quant"]["available"] is False
        assert final["request_id"]
        # The server never closes after the terminal event; the socket still answers.
        await ws.send_json({"type": "ping"})
        assert await ws.receive_json() == {"type": "pong"}
        assert not ws.closed


async def test_legacy_websocket_shape_behind_the_flag(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    client, go = await _gated_client(make_client, tmp_path, TA_WS_V1ALPHA1_ENABLED="0")
    task_id = await _start(client)
    go.write_text("go")
    async with client.ws_connect(f"/ws/analysis/{task_id}") as ws:
        final = (await _until_terminal(ws))[-1]
    assert final["type"] == "progress"
    assert final["contract_version"] == "v1alpha1"
    assert final["status"] == "completed"
    assert (final["decision"], final["quant_signal"], final["llm_signal"]) == (
        "OVERWEIGHT",
        None,
        "BUY",
    )
    assert final["confidence"] == 0.63
    assert "name" not in final["stages"][0]
    assert "result" not in final
    status = await (await client.get(f"/api/analysis/status/{task_id}")).json()
    assert status["result"]["decision"] == "OVERWEIGHT"  # REST keeps the contract payload


async def test_unknown_task_gets_no_snapshot_but_answers_ping(client: TestClient[Any, Any]) -> None:
    async with client.ws_connect("/ws/analysis/NOPE_20260101_000000_abcdef") as ws:
        await ws.send_json({"type": "ping"})
        assert await ws.receive_json() == {"type": "pong"}
        await ws.send_json({"type": "hello"})
        await ws.send_json({"type": "ping"})
        assert await ws.receive_json() == {"type": "pong"}


async def test_non_json_input_ends_only_that_socket(client: TestClient[Any, Any]) -> None:
    async with client.ws_connect("/ws/analysis/X_1") as ws:
        await ws.send_str("not json")
        closing = await ws.receive()
        assert closing.type == aiohttp.WSMsgType.CLOSE
    assert (await client.get("/health")).status == 200
    async with client.ws_connect("/ws/analysis/X_1") as ws:
        await ws.send_json({"type": "ping"})
        assert await ws.receive_json() == {"type": "pong"}


async def test_websocket_auth(make_client: ClientFactory) -> None:
    client = await make_client(base_environ(DASHBOARD_API_KEY="s3cret"))
    for path, code in (("/ws/analysis/X_1", 4001), ("/ws/orchestrator", 4401)):
        async with client.ws_connect(path) as ws:
            message = await ws.receive()
            assert message.type == aiohttp.WSMsgType.CLOSE
            assert ws.close_code == code
            if code == 4001:
                assert message.extra == "Unauthorized"
        async with client.ws_connect(f"{path}?api_key=wrong") as ws:
            await ws.receive()
            assert ws.close_code == code
    async with client.ws_connect("/ws/analysis/X_1?api_key=s3cret") as ws:
        await ws.send_json({"type": "ping"})
        assert await ws.receive_json() == {"type": "pong"}


async def test_orchestrator_socket_live_signals(client: TestClient[Any, Any]) -> None:
    async with client.ws_connect("/ws/orchestrator") as ws:
        await ws.send_json({"tickers": ["MSFT", "AAPL"], "date": "2026-04-13"})
        reply = await ws.receive_json()
        assert list(reply) == ["contract_version", "signals"]
        assert reply["contract_version"] == "v1alpha1"
        assert [s["ticker"] for s in reply["signals"]] == ["MSFT", "AAPL"]
        for signal in reply["signals"]:
            assert list(signal) == [
                "contract_version", "ticker", "date", "status", "result", "error",
                "degradation", "data_quality", "research",
            ]  # fmt: skip
            assert signal["contract_version"] == "v1alpha1"
            assert signal["date"] == "2026-04-13"
        await ws.send_json({"type": "ping"})
        assert await ws.receive_json() == {"contract_version": "v1alpha1", "signals": []}
        await ws.send_str("{broken")
        error = await ws.receive_json()
        assert list(error) == ["error"]
        assert (await ws.receive()).type == aiohttp.WSMsgType.CLOSE


async def test_orchestrator_socket_reports_degraded_lanes(make_client: ClientFactory) -> None:
    client = await make_client(base_environ(TA_FAULT_QUANT="fail"))
    async with client.ws_connect("/ws/orchestrator") as ws:
        await ws.send_json({"tickers": ["AAPL"], "date": "2026-04-13"})
        (signal,) = (await ws.receive_json())["signals"]
    assert signal["status"] == "degraded_success"
    assert "quant_signal_failed" in signal["degradation"]["reason_codes"]
    assert signal["result"]["quant_direction"] is None


async def test_running_task_is_persisted_and_projected(
    make_client: ClientFactory, tmp_path: Path, data_dir: Path
) -> None:
    client, go = await _gated_client(make_client, tmp_path)
    task_id = await _start(client)
    status = await (await client.get(f"/api/analysis/status/{task_id}")).json()
    assert status["status"] == "running"
    assert status["current_stage"] == "analysts"
    assert len(status["request_id"]) == 32
    assert status["executor_type"] == "legacy_subprocess"
    assert (status["result_ref"], status["result"], status["error"]) == (None, None, None)
    assert "compat" not in status  # an empty compat block is dropped
    legacy = json.loads((data_dir / "task_status" / f"{task_id}.json").read_text())
    assert legacy["status"] == "running"
    go.write_text("go")


async def test_orchestrator_socket_rejects_bad_input(
    client: TestClient[Any, Any], data_dir: Path
) -> None:
    async with client.ws_connect("/ws/orchestrator") as ws:
        await ws.send_json({"tickers": ["../evil", "AAPL"], "date": "2026-04-13"})
        bad, good = (await ws.receive_json())["signals"]
        assert (bad["ticker"], bad["status"], bad["result"]) == ("../evil", "failed", None)
        assert bad["error"]["code"] == "live_signal_failed"
        assert good["ticker"] == "AAPL"
        assert good["status"] != "failed"
        await ws.send_json({"tickers": ["AAPL"], "date": "13/04/2026"})
        error = await ws.receive_json()
        assert "YYYY-MM-DD" in error["error"]
        assert (await ws.receive()).type == aiohttp.WSMsgType.CLOSE
    assert not list((data_dir / "cache").glob(".*"))


async def test_cancel_is_broadcast(make_client: ClientFactory, tmp_path: Path) -> None:
    client, _ = await _gated_client(make_client, tmp_path)
    task_id = await _start(client)
    async with client.ws_connect(f"/ws/analysis/{task_id}") as ws:
        assert (await ws.receive_json())["status"] == "running"
        await client.delete(f"/api/analysis/cancel/{task_id}")
        final = (await _until_terminal(ws))[-1]
    assert final["status"] == "cancelled"
    assert final["error"] == {"code": "cancelled", "message": "用户取消", "retryable": False}
