"""The OpenAI-compatible provider against a fake chat-completions server on port 0."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from orchestrator.config import OrchestratorConfig
from orchestrator.features import MarketFeatures
from orchestrator.llm.base import AnalystRequest, ProviderError
from orchestrator.llm.factory import build_provider
from orchestrator.llm.openai_provider import OpenAICompatibleProvider, extract_rating
from orchestrator.llm_runner import LLMRunner
from orchestrator.market_data import SyntheticMarketData

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]


class FakeChat:
    """Replays a script of (status, reply) pairs and records every request body."""

    def __init__(self, script: list[tuple[int, str]]) -> None:
        self.script = script
        self.requests: list[dict[str, Any]] = []
        self.headers: list[str | None] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(await request.json())
        self.headers.append(request.headers.get("Authorization"))
        status, reply = self.script[min(len(self.requests), len(self.script)) - 1]
        if status != 200:
            return web.Response(status=status, text=reply)
        return web.json_response(
            {"choices": [{"message": {"role": "assistant", "content": reply}}]}
        )


async def _serve(aiohttp_server: ServerFactory, chat: FakeChat) -> str:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat.handle)
    server = await aiohttp_server(app)
    return f"http://127.0.0.1:{server.port}/v1"


REQUEST = AnalystRequest(
    ticker="AAPL",
    date="2026-04-13",
    features=MarketFeatures("2026-04-13", 100.0, 40, 1.0, 1.0, 50.0, 0.5),
    debate={"bull_history": "up", "bear_history": "down", "investment_plan": "hold"},
)


@pytest.mark.parametrize(
    ("reply", "rating"),
    [
        pytest.param("Momentum fades.\nRATING: SELL", "SELL", id="labelled"),
        pytest.param("I would say hold here; rating: buy", "BUY", id="labelled-wins"),
        pytest.param("Overweight, given the trend.", "OVERWEIGHT", id="first-word"),
        pytest.param("underweight", "UNDERWEIGHT", id="lowercase"),
        pytest.param("No opinion.", "", id="none"),
    ],
)
def test_extract_rating(reply: str, rating: str) -> None:
    assert extract_rating(reply) == rating


async def test_verdict_from_the_reply(aiohttp_server: ServerFactory) -> None:
    chat = FakeChat([(200, "Trend is strong.\nRATING: BUY")])
    url = await _serve(aiohttp_server, chat)
    provider = OpenAICompatibleProvider(
        name="openai", base_url=url, model="m1", api_key="sk-x", timeout=5, max_retries=0
    )
    verdict = await asyncio.to_thread(provider.decide, REQUEST)
    assert verdict.rating == "BUY"
    assert verdict.rationale == "Trend is strong."
    assert chat.requests[0]["model"] == "m1"
    assert chat.requests[0]["temperature"] == 0
    assert "AAPL" in chat.requests[0]["messages"][1]["content"]
    assert chat.headers == ["Bearer sk-x"]


async def test_transient_status_is_retried(aiohttp_server: ServerFactory) -> None:
    chat = FakeChat([(503, "busy"), (200, "RATING: SELL")])
    url = await _serve(aiohttp_server, chat)
    provider = OpenAICompatibleProvider(
        name="ollama",
        base_url=url,
        model="m",
        api_key=None,
        timeout=5,
        max_retries=1,
        retry_delay=0,
    )
    verdict = await asyncio.to_thread(provider.decide, REQUEST)
    assert verdict.rating == "SELL"
    assert len(chat.requests) == 2
    assert chat.headers == [None, None]


async def test_retries_exhausted_raise_the_last_error(aiohttp_server: ServerFactory) -> None:
    chat = FakeChat([(500, "down")])
    url = await _serve(aiohttp_server, chat)
    provider = OpenAICompatibleProvider(
        name="ollama",
        base_url=url,
        model="m",
        api_key=None,
        timeout=5,
        max_retries=2,
        retry_delay=0,
    )
    with pytest.raises(ProviderError, match="Error code: 500 - down"):
        await asyncio.to_thread(provider.decide, REQUEST)
    assert len(chat.requests) == 3


def test_missing_key_is_reported_before_any_request() -> None:
    provider = OpenAICompatibleProvider(
        name="openai",
        base_url="http://127.0.0.1:9",
        model="m",
        api_key=None,
        timeout=1,
        max_retries=0,
    )
    with pytest.raises(ProviderError, match="openai provider API key not configured"):
        provider.decide(REQUEST)


def test_unreachable_endpoint_is_a_provider_error() -> None:
    provider = OpenAICompatibleProvider(
        name="ollama",
        base_url="http://127.0.0.1:9/v1",
        model="m",
        api_key=None,
        timeout=2,
        max_retries=0,
    )
    with pytest.raises(ProviderError, match=re.escape("request to http://127.0.0.1:9/v1 failed")):
        provider.decide(REQUEST)


def _lane(tmp_path: Path, url: str) -> LLMRunner:
    config = OrchestratorConfig(
        cache_dir=str(tmp_path), llm_provider="ollama", backend_url=url, llm_max_retries=0
    )
    return LLMRunner(config, SyntheticMarketData())


async def test_lane_end_to_end(aiohttp_server: ServerFactory, tmp_path: Path) -> None:
    chat = FakeChat([(200, "Weak tape.\nRATING: UNDERWEIGHT")])
    runner = _lane(tmp_path, await _serve(aiohttp_server, chat))
    sig = await asyncio.to_thread(runner.get_signal, "AAPL", "2026-04-13")
    assert (sig.direction, sig.confidence) == (-1, 0.6)
    assert sig.metadata["rating"] == "UNDERWEIGHT"
    assert sig.metadata["provider"] == "ollama"
    again = await asyncio.to_thread(runner.get_signal, "AAPL", "2026-04-13")
    assert len(chat.requests) == 1
    assert again.timestamp == sig.timestamp


async def test_lane_classifies_a_401(aiohttp_server: ServerFactory, tmp_path: Path) -> None:
    chat = FakeChat([(401, '{"error": {"type": "authentication_error"}}')])
    runner = _lane(tmp_path, await _serve(aiohttp_server, chat))
    sig = await asyncio.to_thread(runner.get_signal, "AAPL", "2026-04-13")
    assert sig.reason_code == "provider_auth_failed"
    assert sig.metadata["data_quality"]["state"] == "provider_auth_failed"
    assert sig.metadata["error"].startswith("Error code: 401")


def test_factory_routes_openai_compatible_names() -> None:
    for name in ("openai", "ollama", "openrouter", "xai"):
        provider = build_provider(OrchestratorConfig(llm_provider=name, backend_url="http://x"))
        assert isinstance(provider, OpenAICompatibleProvider)
        assert provider.name == name
    with pytest.raises(ProviderError, match="Unsupported LLM provider: google"):
        build_provider(OrchestratorConfig(llm_provider="google"))


async def test_cli_analyze_with_an_openai_compatible_endpoint(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    """The subprocess path: the CLI's main thread runs the provider's own event loop."""
    chat = FakeChat([(200, "Buyers in control.\nRATING: BUY")])
    url = await _serve(aiohttp_server, chat)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TA_", "TRADINGAGENTS_"))}
    env.update(
        TA_STAGE_DELAY_MS="0",
        TRADINGAGENTS_RESULTS_DIR=str(tmp_path / "results"),
        TA_CACHE_DIR=str(tmp_path / "cache"),
        TRADINGAGENTS_LLM_PROVIDER="ollama",
        TRADINGAGENTS_BACKEND_URL=url,
        TRADINGAGENTS_DEEP_MODEL="fake-deep",
        TRADINGAGENTS_LLM_MAX_RETRIES="0",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "orchestrator",
        "analyze",
        "AAPL",
        "2026-04-13",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    lines = stdout.decode().splitlines()
    assert '"llm_signal":"BUY"' in lines[5]
    assert chat.requests[0]["model"] == "fake-deep"
    report = (tmp_path / "results" / "AAPL" / "2026-04-13" / "complete_report.md").read_text(
        encoding="utf-8"
    )
    assert report.splitlines()[17] == "Buyers in control."
