"""Both real backends drive the same kernel: same ticker and date, same decision and signals.

docs/upstream-contract.md §8 item 8: the legacy backend and the app service run the same
orchestrator, so for one ticker and trading day the legacy state's
`decision`/`confidence`/`quant_signal`/`llm_signal` equal the app's
`result.decision`/`result.confidence`/`result.signals.*.rating`.
Each backend runs here for real (aiohttp server on port 0, its own data dir) and starts the real
analysis subprocess (`python -m orchestrator analyze`, no stage delay); nothing is shared between
the two but the kernel code and the offline inputs.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

import app_service.app
import app_service.settings
import legacy_backend.app
import legacy_backend.settings

DATE = "2026-04-13"  # a past NYSE and SSE trading day


def kernel_environ() -> dict[str, str]:
    """The developer's environment without anything that would steer either side or the kernel."""
    scrub = {"DASHBOARD_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_API_KEY", "CORS_ORIGINS"}
    scrub.add("TRADINGAGENTS_LLM_PROVIDER")
    env = {k: v for k, v in os.environ.items() if k not in scrub and not k.startswith("TA_")}
    return {**env, "TA_STAGE_DELAY_MS": "0"}


async def serve(aiohttp_client: Any, web_app: Any) -> TestClient[Any, Any]:
    client: TestClient[Any, Any] = await aiohttp_client(TestServer(web_app, host="127.0.0.1"))
    return client


async def run_to_the_end(client: TestClient[Any, Any], ticker: str) -> dict[str, Any]:
    started = await client.post("/api/analysis/start", json={"ticker": ticker, "date": DATE})
    assert started.status == 200, await started.text()
    task_id = (await started.json())["task_id"]
    while True:
        response = await client.get(f"/api/analysis/status/{task_id}")
        assert response.status == 200
        document: dict[str, Any] = await response.json()
        if document["status"] != "running":
            return document
        await asyncio.sleep(0.05)


@pytest.fixture
async def both(aiohttp_client: Any, tmp_path: Path) -> tuple[TestClient[Any, Any], ...]:
    env = kernel_environ()
    legacy_settings = legacy_backend.settings.Settings.from_environ(
        env, data_dir=tmp_path / "legacy", port=0
    )
    app_settings = app_service.settings.Settings.from_environ(
        env, host="127.0.0.1", port=0, data_dir=tmp_path / "app"
    )
    return (
        await serve(aiohttp_client, legacy_backend.app.create_app(legacy_settings)),
        await serve(aiohttp_client, app_service.app.create_app(app_settings)),
    )


@pytest.mark.slow
@pytest.mark.parametrize("ticker", ["AAPL", "MSFT", "NVDA", "600519.SS"])
async def test_both_backends_reach_the_same_decision(
    both: tuple[TestClient[Any, Any], TestClient[Any, Any]], ticker: str
) -> None:
    legacy, app = await asyncio.gather(*(run_to_the_end(client, ticker) for client in both))
    assert legacy["status"] == "completed", legacy["error"]
    assert app["status"] in ("completed", "degraded_success"), app["error"]
    result = app["result"]
    assert (
        legacy["decision"],
        legacy["confidence"],
        legacy["quant_signal"],
        legacy["llm_signal"],
    ) == (
        result["decision"],
        result["confidence"],
        result["signals"]["quant"]["rating"],
        result["signals"]["llm"]["rating"],
    )
    assert legacy["decision"] in ("BUY", "OVERWEIGHT", "HOLD", "UNDERWEIGHT", "SELL")
    assert app["compat"] == {
        "decision": legacy["decision"],
        "quant_signal": legacy["quant_signal"],
        "llm_signal": legacy["llm_signal"],
        "confidence": legacy["confidence"],
    }
