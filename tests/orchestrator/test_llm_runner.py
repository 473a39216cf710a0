"""The LLM lane: mismatch and failure codes, cache, research provenance, timeout warnings."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from orchestrator.config import OrchestratorConfig
from orchestrator.faults import Faults, LlmFault
from orchestrator.llm.base import AnalystProvider, AnalystRequest, Verdict
from orchestrator.llm.factory import build_provider
from orchestrator.llm.offline import OfflineAnalyst
from orchestrator.llm_runner import LLMRunner, timeout_warnings
from orchestrator.market_data import SyntheticMarketData

DAY = "2026-04-13"


class RaisingAnalyst:
    """Stands in for a remote model that fails with a given text."""

    name = "fake"

    def __init__(self, message: str) -> None:
        self.message = message
        self.calls = 0

    def decide(self, request: AnalystRequest) -> Verdict:
        self.calls += 1
        raise RuntimeError(self.message)


def _runner(tmp_path: Path, provider: AnalystProvider | None = None, **config: Any) -> LLMRunner:
    settings = OrchestratorConfig(cache_dir=str(tmp_path / "cache"), **config)
    if provider is None:
        return LLMRunner(settings, SyntheticMarketData())
    return LLMRunner(settings, SyntheticMarketData(), lambda _config: provider)


def test_mismatch_is_reported_before_the_provider_is_built(tmp_path: Path) -> None:
    built: list[OrchestratorConfig] = []

    def factory(config: OrchestratorConfig) -> AnalystProvider:
        built.append(config)
        return OfflineAnalyst()

    config = OrchestratorConfig(
        cache_dir=str(tmp_path), llm_provider="anthropic", backend_url="https://api.openai.com/v1"
    )
    sig = LLMRunner(config, SyntheticMarketData(), factory).get_signal("AAPL", DAY)
    assert built == []
    assert sig.reason_code == "provider_mismatch"
    assert sig.metadata["error"] == (
        "provider 'anthropic' does not match backend_url 'https://api.openai.com/v1'"
    )
    assert sig.metadata["data_quality"] == {
        "state": "provider_mismatch",
        "provider": "anthropic",
        "backend_url": "https://api.openai.com/v1",
        "expected_patterns": [r"api\.anthropic\.com", r"api\.minimaxi\.com/anthropic"],
    }


@pytest.mark.parametrize(
    ("message", "code", "state"),
    [
        pytest.param("upstream exploded", "llm_signal_failed", "unknown", id="generic"),
        pytest.param(
            "Error code: 401 - authentication_error",
            "provider_auth_failed",
            "provider_auth_failed",
            id="auth",
        ),
        pytest.param(
            "Unsupported LLM provider: x", "provider_mismatch", "provider_mismatch", id="mismatch"
        ),
    ],
)
def test_propagate_failure_is_classified_and_not_cached(
    tmp_path: Path, message: str, code: str, state: str
) -> None:
    sig = _runner(tmp_path, RaisingAnalyst(message)).get_signal("AAPL", DAY)
    assert sig.degraded
    assert sig.reason_code == code
    assert sig.metadata["error"] == message
    assert sig.metadata["data_quality"] == {
        "state": state,
        "provider": "offline",
        "backend_url": "",
    }
    assert sig.metadata["contract_version"] == "v1alpha1"
    assert sig.metadata["source"] == "llm"
    assert list((tmp_path / "cache").iterdir()) == []


def test_unsupported_provider_name_is_a_mismatch(tmp_path: Path) -> None:
    sig = _runner(tmp_path, llm_provider="anthropic").get_signal("AAPL", DAY)
    assert sig.reason_code == "provider_mismatch"
    assert sig.metadata["error"] == "Unsupported LLM provider: anthropic"


def test_success_caches_and_a_hit_reuses_the_decision(tmp_path: Path) -> None:
    first = _runner(tmp_path).get_signal("BRK/B", DAY)
    assert not first.degraded
    path = tmp_path / "cache" / f"BRK_B_{DAY}.json"
    cached = json.loads(path.read_text(encoding="utf-8"))
    assert cached["ticker"] == "BRK/B"
    assert cached["date"] == DAY
    assert cached["rating"] in {"BUY", "OVERWEIGHT", "HOLD", "UNDERWEIGHT", "SELL"}
    assert datetime.fromisoformat(cached["timestamp"]) == first.timestamp
    assert cached["provider"] == "offline"
    assert cached["sample_quality"] == "full_research"
    assert cached["data_quality"] == {"state": "ok"}
    failing = RaisingAnalyst("must not be called")
    second = _runner(tmp_path, failing).get_signal("BRK/B", DAY)
    assert failing.calls == 0
    assert (second.direction, second.confidence) == (first.direction, first.confidence)
    assert second.timestamp == first.timestamp
    assert second.metadata["rating"] == first.metadata["rating"]


@pytest.mark.parametrize(
    "content",
    [
        pytest.param("{not json", id="not-json"),
        pytest.param("[1, 2]", id="not-an-object"),
        pytest.param('{"direction": 1}', id="missing-keys"),
        pytest.param(
            '{"direction": 5, "confidence": 0.9, "timestamp": "2026-04-13T00:00:00+00:00"}',
            id="out-of-range",
        ),
    ],
)
def test_damaged_cache_entry_is_a_miss(tmp_path: Path, content: str) -> None:
    (tmp_path / "cache").mkdir()
    path = tmp_path / "cache" / f"AAPL_{DAY}.json"
    path.write_text(content, encoding="utf-8")
    sig = _runner(tmp_path).get_signal("AAPL", DAY)
    assert not sig.degraded
    assert json.loads(path.read_text(encoding="utf-8"))["ticker"] == "AAPL"


def test_degraded_research_is_not_a_degraded_signal(tmp_path: Path) -> None:
    runner = _runner(
        tmp_path, research_node_timeout_secs=0.05, faults=Faults(research=frozenset({"bull"}))
    )
    sig = runner.get_signal("AAPL", DAY)
    assert not sig.degraded
    assert sig.reason_code is None
    assert sig.metadata["sample_quality"] == "degraded_research"
    assert sig.metadata["data_quality"] == {
        "state": "research_degraded",
        "research_status": "degraded",
        "research_mode": "degraded_synthesis",
        "degraded_reason": "bull_researcher_timeout",
        "timed_out_nodes": ["Bull Researcher"],
    }
    assert sig.metadata["research"]["covered_dimensions"] == ["bear", "manager"]
    assert sig.metadata["research"]["manager_confidence"] == 0.5
    assert sig.metadata["decision_structured"]["rating"] == sig.metadata["rating"]


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        pytest.param("fail", "llm_signal_failed", id="fail"),
        pytest.param("auth", "provider_auth_failed", id="auth"),
        pytest.param("mismatch", "provider_mismatch", id="mismatch"),
    ],
)
def test_fault_switches(tmp_path: Path, fault: LlmFault, code: str) -> None:
    sig = _runner(tmp_path, faults=Faults(llm=fault)).get_signal("AAPL", DAY)
    assert sig.reason_code == code


@pytest.mark.parametrize(
    ("analysts", "analyst_timeout", "research_timeout", "count"),
    [
        pytest.param(None, 75.0, 30.0, 2, id="four-default-75s-warns"),
        pytest.param(("market",), 75.0, 30.0, 0, id="one-analyst-no-warning"),
        pytest.param(None, 120.0, 75.0, 0, id="120-75-no-warning"),
        pytest.param((), 120.0, 75.0, 0, id="explicit-empty-counts-as-four"),
        pytest.param(("market", "news"), 90.0, 30.0, 1, id="two-analysts-research-short"),
    ],
)
def test_timeout_warnings(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    analysts: tuple[str, ...] | None,
    analyst_timeout: float,
    research_timeout: float,
    count: int,
) -> None:
    config = OrchestratorConfig(
        cache_dir=str(tmp_path),
        llm_provider="ollama",
        backend_url="http://localhost:11434/v1",
        selected_analysts=analysts,
        analyst_node_timeout_secs=analyst_timeout,
        research_node_timeout_secs=research_timeout,
    )
    assert len(timeout_warnings(config)) == count
    with caplog.at_level(logging.WARNING, logger="orchestrator.llm_runner"):
        LLMRunner(config, SyntheticMarketData())
    assert len([r for r in caplog.records if "timeout sanity" in r.message]) == count


def test_offline_analyst_gets_no_timeout_advice(tmp_path: Path) -> None:
    assert timeout_warnings(OrchestratorConfig(cache_dir=str(tmp_path))) == []


def test_offline_analyst_names_itself_honestly(tmp_path: Path) -> None:
    sig = _runner(tmp_path).get_signal("AAPL", DAY)
    rationale = sig.metadata["decision_structured"]["rationale"]
    assert rationale.startswith("Rule-based analyst (offline, not an LLM)")
    assert sig.metadata["provider"] == "offline"
    assert isinstance(build_provider(OrchestratorConfig()), OfflineAnalyst)
