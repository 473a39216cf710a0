"""Fixtures: a real legacy backend on a random port, over a temp data dir.

The analysis subprocess is the real `python -m orchestrator analyze` unless a test points the
command at one of the small scripts next to this file (the other side of the process boundary).
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from legacy_backend.app import create_app
from legacy_backend.settings import Settings

HERE = Path(__file__).parent
GATE = HERE / "gate_exec.py"
FAKE = HERE / "fake_analysis.py"
BASE_ENV = {"TA_STAGE_DELAY_MS": "0"}
REAL_COMMAND = (sys.executable, "-m", "orchestrator", "analyze")

SettingsFactory = Callable[..., Settings]
ClientFactory = Callable[..., Awaitable[TestClient[web.Request, web.Application]]]
Waiter = Callable[[TestClient[web.Request, web.Application], str], Awaitable[dict[str, Any]]]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def make_settings(data_dir: Path) -> SettingsFactory:
    def build(env: dict[str, str] | None = None, **overrides: Any) -> Settings:
        settings = Settings.from_environ({**BASE_ENV, **(env or {})}, data_dir=data_dir)
        return dataclasses.replace(settings, **{"retry_delay_secs": 0.0, **overrides})

    return build


@pytest.fixture
def start_client(aiohttp_client: Any, make_settings: SettingsFactory) -> ClientFactory:
    async def start(
        env: dict[str, str] | None = None, **overrides: Any
    ) -> TestClient[web.Request, web.Application]:
        client: TestClient[web.Request, web.Application] = await aiohttp_client(
            create_app(make_settings(env, **overrides))
        )
        return client

    return start


@pytest.fixture
async def client(start_client: ClientFactory) -> TestClient[web.Request, web.Application]:
    return await start_client()


@pytest.fixture
def gate_file(tmp_path: Path) -> Path:
    return tmp_path / "go"


@pytest.fixture
def gated_command(gate_file: Path) -> tuple[str, ...]:
    """The real orchestrator, held back until the test creates `gate_file`."""
    return (sys.executable, str(GATE), str(gate_file), *REAL_COMMAND)


@pytest.fixture
def fake_command() -> tuple[str, ...]:
    return (sys.executable, str(FAKE))


async def _wait_terminal(
    client: TestClient[web.Request, web.Application], task_id: str
) -> dict[str, Any]:
    while True:
        response = await client.get(f"/api/analysis/status/{task_id}")
        assert response.status == 200
        state: dict[str, Any] = await response.json()
        if state["status"] != "running":
            return state
        await asyncio.sleep(0.05)


@pytest.fixture
def wait_terminal() -> Waiter:
    """Poll the status route until the task leaves `running` (the test timeout bounds it)."""
    return _wait_terminal
