"""`OrchestratorConfig.from_environ`: defaults, overrides and one-sentence errors."""

from __future__ import annotations

import pytest

from orchestrator.config import OrchestratorConfig
from orchestrator.faults import Faults


def test_defaults() -> None:
    config = OrchestratorConfig.from_environ({})
    assert config.quant_enabled is True
    assert config.llm_provider == "offline"
    assert config.backend_url == ""
    assert config.cache_dir == "var/cache/orchestrator"
    assert config.results_dir == "./results"
    assert config.stage_delay_ms == 300
    assert config.research_node_timeout_secs == 30.0
    assert (config.quant_weight_cap, config.llm_weight_cap) == (0.8, 0.9)
    assert (config.quant_solo_penalty, config.llm_solo_penalty) == (0.8, 0.7)
    assert config.faults == Faults()
    assert config.market_data_dir is None


def test_overrides() -> None:
    config = OrchestratorConfig.from_environ(
        {
            "TA_QUANT_ENABLED": "0",
            "TRADINGAGENTS_LLM_PROVIDER": "OpenAI",
            "TRADINGAGENTS_DEEP_MODEL": "deep",
            "TRADINGAGENTS_QUICK_MODEL": "quick",
            "TRADINGAGENTS_LLM_TIMEOUT": "45",
            "TRADINGAGENTS_LLM_MAX_RETRIES": "0",
            "TRADINGAGENTS_SELECTED_ANALYSTS": "market,news",
            "OPENAI_API_KEY": "sk-test",
            "TA_CACHE_DIR": "/tmp/c",
            "TA_MARKET_DATA_DIR": "/tmp/m",
            "TA_RESEARCH_NODE_TIMEOUT_S": "0.5",
            "TA_FAULT_RESEARCH": "bull, manager",
            "TA_FAULT_STALL_S": "2",
        }
    )
    assert config.quant_enabled is False
    assert config.llm_provider == "openai"
    assert config.backend_url == "https://api.openai.com/v1"
    assert (config.deep_model, config.quick_model) == ("deep", "quick")
    assert (config.llm_timeout, config.llm_max_retries) == (45.0, 0)
    assert config.selected_analysts == ("market", "news")
    assert config.api_key == "sk-test"
    assert "sk-test" not in repr(config)
    assert config.research_node_timeout_secs == 0.5
    assert config.faults.research == frozenset({"bull", "manager"})
    assert config.faults.stall_seconds == 2.0
    assert config.market_data_dir == "/tmp/m"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        pytest.param({"TA_STAGE_DELAY_MS": "-1"}, "TA_STAGE_DELAY_MS", id="negative-delay"),
        pytest.param({"TA_STAGE_DELAY_MS": "soon"}, "TA_STAGE_DELAY_MS", id="text-delay"),
        pytest.param({"TA_QUANT_ENABLED": "maybe"}, "TA_QUANT_ENABLED", id="bad-boolean"),
        pytest.param({"TRADINGAGENTS_LLM_TIMEOUT": "0"}, "TRADINGAGENTS_LLM_TIMEOUT", id="timeout"),
        pytest.param(
            {"TRADINGAGENTS_LLM_MAX_RETRIES": "x"}, "TRADINGAGENTS_LLM_MAX_RETRIES", id="retries"
        ),
        pytest.param(
            {"TA_RESEARCH_NODE_TIMEOUT_S": "nan"}, "TA_RESEARCH_NODE_TIMEOUT_S", id="nan-timeout"
        ),
        pytest.param({"TA_FAULT_LLM": "explode"}, "TA_FAULT_LLM", id="bad-llm-fault"),
        pytest.param({"TA_FAULT_QUANT": "x"}, "TA_FAULT_QUANT", id="bad-quant-fault"),
        pytest.param({"TA_FAULT_PIPELINE": "x"}, "TA_FAULT_PIPELINE", id="bad-pipeline-fault"),
        pytest.param({"TA_FAULT_RESEARCH": "trader"}, "TA_FAULT_RESEARCH", id="bad-node"),
        pytest.param({"TA_FAULT_STALL_S": "-3"}, "TA_FAULT_STALL_S", id="bad-stall"),
    ],
)
def test_invalid_environment(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OrchestratorConfig.from_environ(environ)


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        pytest.param("quant_weight_cap", 1.5, ValueError, id="cap-above-one"),
        pytest.param("llm_solo_penalty", -0.1, ValueError, id="penalty-negative"),
        pytest.param("llm_weight_cap", "0.9", TypeError, id="cap-not-number"),
        pytest.param("llm_batch_days", 0, ValueError, id="batch-days"),
        pytest.param("cache_dir", "", ValueError, id="empty-cache-dir"),
    ],
)
def test_schema_validation(field: str, value: object, error: type[Exception]) -> None:
    with pytest.raises(error, match=field):
        # ill-typed on purpose: the schema check under test is the runtime one
        OrchestratorConfig(**{field: value})  # type: ignore[arg-type]
