"""The backend's whole configuration, read once from an injected environment mapping.

Upstream `main.py` read `os.environ` wherever it needed a value and cached the dashboard key in a
module global on first use. Here the CLI hands one mapping to `Settings.from_environ` at start-up,
which gives the same "later env changes are ignored" behaviour without globals, and lets tests
build a backend with any environment they like.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from backend_common.settings import analysis_subprocess_env, parse_seconds

DEFAULT_STDOUT_SILENCE_SECS = 300.0
DEFAULT_RETRY_DELAY_SECS = 1.0
MAX_BODY_BYTES = 1024 * 1024

# Provider -> env vars that can hold its key (docs/upstream-contract.md §4.6); empty = no key.
# A provider not listed needs `<PROVIDER>_API_KEY`.
PROVIDER_KEY_VARS: dict[str, tuple[str, ...]] = {
    "offline": (),
    "ollama": (),
    "anthropic": ("ANTHROPIC_API_KEY", "MINIMAX_API_KEY"),
    "openai": ("OPENAI_API_KEY",),
    "openrouter": ("OPENROUTER_API_KEY",),
    "xai": ("XAI_API_KEY",),
    "google": ("GOOGLE_API_KEY",),
}


def default_analysis_command() -> tuple[str, ...]:
    return (sys.executable, "-m", "orchestrator", "analyze")


def _parse_origins(raw: str) -> tuple[str, ...]:
    origins = tuple(part.strip() for part in raw.split(",") if part.strip())
    return origins or ("*",)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the app reads; frozen so handlers cannot drift from what start-up decided."""

    data_dir: Path
    environ: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    host: str = "127.0.0.1"
    port: int = 8001
    # DASHBOARD_API_KEY, falling back to ANTHROPIC_API_KEY (the LEGACY rule); None = open.
    dashboard_api_key: str | None = None
    cors_origins: tuple[str, ...] = ("*",)
    llm_provider: str = "offline"
    analysis_command: tuple[str, ...] = field(default_factory=default_analysis_command)
    stdout_silence_secs: float = DEFAULT_STDOUT_SILENCE_SECS
    retry_delay_secs: float = DEFAULT_RETRY_DELAY_SECS

    def __post_init__(self) -> None:
        # The subprocess and the report routes need absolute paths whatever the CWD later is.
        object.__setattr__(self, "data_dir", Path(self.data_dir).resolve())

    @classmethod
    def from_environ(
        cls,
        environ: Mapping[str, str],
        *,
        data_dir: Path,
        host: str = "127.0.0.1",
        port: int = 8001,
    ) -> Settings:
        """Build settings from an environment; raises ValueError with a sentence on bad values."""
        snapshot = MappingProxyType(dict(environ))
        key = environ.get("DASHBOARD_API_KEY") or environ.get("ANTHROPIC_API_KEY") or None
        silence = environ.get("LEGACY_STDOUT_SILENCE_SECS")
        retry = environ.get("LEGACY_RETRY_DELAY_SECS")
        return cls(
            data_dir=data_dir,
            environ=snapshot,
            host=host,
            port=port,
            dashboard_api_key=key,
            cors_origins=_parse_origins(environ.get("CORS_ORIGINS", "*")),
            llm_provider=(environ.get("TRADINGAGENTS_LLM_PROVIDER") or "offline").strip().lower(),
            stdout_silence_secs=(
                DEFAULT_STDOUT_SILENCE_SECS
                if silence is None
                else parse_seconds(silence, "LEGACY_STDOUT_SILENCE_SECS")
            ),
            retry_delay_secs=(
                DEFAULT_RETRY_DELAY_SECS
                if retry is None
                else parse_seconds(retry, "LEGACY_RETRY_DELAY_SECS")
            ),
        )

    # ------------------------------------------------------------ derived paths

    @property
    def task_status_dir(self) -> Path:
        return self.data_dir / "task_status"

    @property
    def results_dir(self) -> Path:
        return self.data_dir / "results"

    @property
    def portfolio_dir(self) -> Path:
        return self.data_dir / "portfolio"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    # ------------------------------------------------------------ derived rules

    def missing_provider_key(self) -> str | None:
        """The env var the configured provider lacks, or None when analyses can start."""
        names = PROVIDER_KEY_VARS.get(self.llm_provider, (f"{self.llm_provider.upper()}_API_KEY",))
        if not names or any(self.environ.get(name) for name in names):
            return None
        return names[0]

    @property
    def provider_configured(self) -> bool:
        """LEGACY `/api/config/check`: an Anthropic or MiniMax key is present."""
        return bool(self.environ.get("ANTHROPIC_API_KEY") or self.environ.get("MINIMAX_API_KEY"))

    def subprocess_env(self) -> dict[str, str]:
        """The environment minus PYTHON*/CONDA*/VIRTUAL*, plus the kernel's two directories."""
        return analysis_subprocess_env(
            self.environ, results_dir=self.results_dir, cache_dir=self.cache_dir
        )
