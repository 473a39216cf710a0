"""Provider selection: names the kernel can call, and the upstream error text for the rest."""

from __future__ import annotations

from orchestrator.config import OrchestratorConfig
from orchestrator.llm.base import AnalystProvider, ProviderError
from orchestrator.llm.offline import OfflineAnalyst
from orchestrator.llm.openai_provider import OpenAICompatibleProvider

OPENAI_COMPATIBLE = ("openai", "ollama", "openrouter", "xai")


def build_provider(config: OrchestratorConfig) -> AnalystProvider:
    """`offline` is the rule-based analyst; the OpenAI-compatible names share one client.
    Anything else raises "Unsupported LLM provider", which classifies as provider_mismatch."""
    if config.llm_provider == "offline":
        return OfflineAnalyst()
    if config.llm_provider in OPENAI_COMPATIBLE:
        return OpenAICompatibleProvider(
            name=config.llm_provider,
            base_url=config.backend_url,
            model=config.deep_model,
            api_key=config.api_key,
            timeout=config.llm_timeout,
            max_retries=config.llm_max_retries,
        )
    raise ProviderError(f"Unsupported LLM provider: {config.llm_provider}")
