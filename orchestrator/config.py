"""One frozen configuration for the kernel, built from an injected environ mapping.

Only `orchestrator/__main__.py` (and the backends' own entry points) read `os.environ`; everything
below receives this object, so two backends given the same mapping build the same kernel.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from orchestrator.faults import Faults

DEFAULT_BACKEND_URLS: dict[str, str] = {
    "openai": "https://api.openai.com/v1",
    "ollama": "http://localhost:11434/v1",
    "openrouter": "https://openrouter.ai/api/v1",
    "xai": "https://api.x.ai/v1",
}


def _unit_interval(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}.")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be within [0, 1], got {value!r}.")


@dataclass(frozen=True, slots=True)
class OrchestratorConfig:
    """Kernel settings; the defaults are the upstream ones (docs/upstream-contract.md §5.1).

    `quick_model` and `llm_batch_days` are carried for parity with upstream's settings; the
    OpenAI-compatible analyst makes one decision call, with `deep_model`.
    """

    quant_enabled: bool = True
    quant_weight_cap: float = 0.8
    llm_weight_cap: float = 0.9
    quant_solo_penalty: float = 0.8
    llm_solo_penalty: float = 0.7
    quant_max_sharpe: float = 2.0
    llm_batch_days: int = 7
    cache_dir: str = "var/cache/orchestrator"
    results_dir: str = "./results"
    market_data_dir: str | None = None
    market_holidays_path: str | None = None
    stage_delay_ms: int = 300
    llm_provider: str = "offline"
    backend_url: str = ""
    deep_model: str = "gpt-5.4"
    quick_model: str = "gpt-5.4-mini"
    llm_timeout: float = 60.0
    llm_max_retries: int = 2
    api_key: str | None = field(default=None, repr=False)
    selected_analysts: tuple[str, ...] | None = None
    analyst_node_timeout_secs: float = 75.0
    research_node_timeout_secs: float = 30.0
    faults: Faults = field(default_factory=Faults)

    def __post_init__(self) -> None:
        for name in (
            "quant_weight_cap",
            "llm_weight_cap",
            "quant_solo_penalty",
            "llm_solo_penalty",
        ):
            _unit_interval(name, getattr(self, name))
        if self.llm_batch_days < 1:
            raise ValueError(
                f"llm_batch_days must be a positive integer, got {self.llm_batch_days}."
            )
        if not self.cache_dir:
            raise ValueError("cache_dir must be a non-empty path.")
        if not self.results_dir:
            raise ValueError("results_dir must be a non-empty path.")
        if not self.llm_provider:
            raise ValueError("llm_provider must be a non-empty name.")
        if self.stage_delay_ms < 0:
            raise ValueError(f"stage_delay_ms must be >= 0, got {self.stage_delay_ms}.")
        if self.llm_timeout <= 0 or self.research_node_timeout_secs <= 0:
            raise ValueError("llm_timeout and research_node_timeout_secs must be positive.")
        if self.llm_max_retries < 0:
            raise ValueError(f"llm_max_retries must be >= 0, got {self.llm_max_retries}.")
        if self.quant_max_sharpe < 0:
            raise ValueError(f"quant_max_sharpe must be >= 0, got {self.quant_max_sharpe}.")

    @property
    def llm_cache_dir(self) -> Path:
        return Path(self.cache_dir)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> OrchestratorConfig:
        """Parse the variables documented in `orchestrator/__main__.py`; bad values say which."""
        provider = environ.get("TRADINGAGENTS_LLM_PROVIDER", "").strip().lower() or "offline"
        backend_url = environ.get("TRADINGAGENTS_BACKEND_URL", "").strip()
        analysts_text = environ.get("TRADINGAGENTS_SELECTED_ANALYSTS")
        analysts = (
            tuple(part.strip() for part in analysts_text.split(",") if part.strip())
            if analysts_text is not None
            else None
        )
        model = environ.get("TRADINGAGENTS_MODEL", "").strip()
        return cls(
            quant_enabled=_parse(environ, "TA_QUANT_ENABLED", "1", _boolean),
            cache_dir=environ.get("TA_CACHE_DIR", "").strip() or "var/cache/orchestrator",
            results_dir=environ.get("TRADINGAGENTS_RESULTS_DIR", "").strip() or "./results",
            market_data_dir=environ.get("TA_MARKET_DATA_DIR", "").strip() or None,
            market_holidays_path=(
                environ.get("TRADINGAGENTS_MARKET_HOLIDAYS_PATH", "").strip() or None
            ),
            stage_delay_ms=_parse(environ, "TA_STAGE_DELAY_MS", "300", _non_negative_int),
            llm_provider=provider,
            backend_url=backend_url or DEFAULT_BACKEND_URLS.get(provider, ""),
            deep_model=environ.get("TRADINGAGENTS_DEEP_MODEL", "").strip() or model or "gpt-5.4",
            quick_model=(
                environ.get("TRADINGAGENTS_QUICK_MODEL", "").strip() or model or "gpt-5.4-mini"
            ),
            llm_timeout=_parse(environ, "TRADINGAGENTS_LLM_TIMEOUT", "60", _positive_float),
            llm_max_retries=_parse(
                environ, "TRADINGAGENTS_LLM_MAX_RETRIES", "2", _non_negative_int
            ),
            api_key=environ.get("OPENAI_API_KEY", "").strip() or None,
            selected_analysts=analysts,
            research_node_timeout_secs=_parse(
                environ, "TA_RESEARCH_NODE_TIMEOUT_S", "30", _positive_float
            ),
            faults=Faults.from_environ(environ),
        )


T = TypeVar("T")


def _parse(environ: Mapping[str, str], name: str, default: str, parser: Callable[[str], T]) -> T:
    text = environ.get(name, "").strip() or default
    try:
        return parser(text)
    except ValueError as exc:
        raise ValueError(f"{name} {exc}, got {text!r}.") from None


def _boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be 1 or 0 (true/false)")


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError("must be a non-negative integer")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value != value or value == float("inf"):
        raise ValueError("must be a positive number of seconds")
    return value
