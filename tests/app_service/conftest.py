"""Fixtures: a real app service on port 0 over a temporary data dir, and the kernel for real."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from app_service.app import create_app
from app_service.settings import Settings

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]

# Variables from the developer's shell that would change what the tests observe.
_SCRUB = ("DASHBOARD_API_KEY", "CORS_ORIGINS", "OPENAI_API_KEY", "TRADINGAGENTS_LLM_PROVIDER")


def base_environ(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB and not k.startswith("TA_")}
    env["TA_STAGE_DELAY_MS"] = "0"
    env.update(overrides)
    return env


def build_settings(data_dir: Path, env: dict[str, str] | None = None, **fields: Any) -> Settings:
    settings = Settings.from_environ(
        env if env is not None else base_environ(), host="127.0.0.1", port=0, data_dir=data_dir
    )
    if fields:
        values = {name: getattr(settings, name) for name in Settings.__dataclass_fields__}
        values.update(fields)
        settings = Settings(**values)
    return settings


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "app"


@pytest.fixture
def make_client(aiohttp_client: Any, data_dir: Path) -> ClientFactory:
    """Start the service; each call can change the environment and settings fields."""

    async def factory(env: dict[str, str] | None = None, **fields: Any) -> TestClient[Any, Any]:
        client: TestClient[Any, Any] = await aiohttp_client(
            create_app(build_settings(data_dir, env, **fields))
        )
        return client

    return factory


@pytest.fixture
async def client(make_client: ClientFactory) -> TestClient[Any, Any]:
    return await make_client()


async def wait_terminal(client: TestClient[Any, Any], task_id: str) -> dict[str, Any]:
    """Poll the status route until the task leaves `running` (the per-test timeout bounds it)."""
    while True:
        resp = await client.get(f"/api/analysis/status/{task_id}")
        payload: dict[str, Any] = await resp.json()
        if payload["status"] != "running":
            return payload
        await asyncio.sleep(0.05)


def fake_kernel(tmp_path: Path, body: str) -> tuple[str, ...]:
    """A stand-in for `python -m orchestrator analyze` that prints exactly `body`'s protocol."""
    script = tmp_path / "fake_kernel.py"
    script.write_text("import sys, time\n" + textwrap.dedent(body), encoding="utf-8")
    return (sys.executable, str(script))
