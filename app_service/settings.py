"""One frozen `Settings` for the app service, built once from an injected environ mapping.

Only `__main__` reads `os.environ`; everything below it receives this object, so a test can
build a service with any flag combination without touching the process environment. Every
string is parsed here, once, and a bad value raises `ValueError` naming the variable.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from backend_common.settings import analysis_subprocess_env, parse_seconds

SUPPORTED_CONTRACT_VERSIONS = ("v1alpha1",)
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def parse_bool(environ: Mapping[str, str], name: str, *, default: bool) -> bool:
    """Booleans follow the migration-flag rule, but a typo is an error rather than a silent off."""
    raw = environ.get(name)
    if raw is None or not raw.strip():
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name} must be one of 1/true/yes/on or 0/false/no/off, got {raw!r}")


def _parse_positive_float(environ: Mapping[str, str], name: str, *, default: float) -> float:
    raw = environ.get(name)
    if raw is None or not raw.strip():
        return default
    return parse_seconds(raw, name)


@dataclass(frozen=True, slots=True)
class MigrationFlags:
    """The migration flags; each one is a one-step rollback of a migration phase.

    See docs/migration.md §4.
    """

    result_contract_version: str = "v1alpha1"
    dual_read: bool = True
    dual_write: bool = True
    ws_v1alpha1: bool = True
    legacy_compat_fields: bool = True

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> MigrationFlags:
        version = environ.get("TA_RESULT_CONTRACT_VERSION", "v1alpha1").strip() or "v1alpha1"
        if version not in SUPPORTED_CONTRACT_VERSIONS:
            supported = ", ".join(SUPPORTED_CONTRACT_VERSIONS)
            raise ValueError(
                f"TA_RESULT_CONTRACT_VERSION must be one of {supported}, got {version!r}"
            )
        return cls(
            result_contract_version=version,
            dual_read=parse_bool(environ, "TA_TASKSTORE_DUAL_READ", default=True),
            dual_write=parse_bool(environ, "TA_TASKSTORE_DUAL_WRITE", default=True),
            ws_v1alpha1=parse_bool(environ, "TA_WS_V1ALPHA1_ENABLED", default=True),
            legacy_compat_fields=parse_bool(environ, "TA_LEGACY_COMPAT_FIELDS", default=True),
        )

    @property
    def writes_legacy_json(self) -> bool:
        """The compatibility JSON is written whenever something may read it.

        With dual-read off the service reads legacy JSON only, so that file must stay current
        even if dual-write was switched off too; otherwise the rollback would serve stale tasks.
        """
        return self.dual_write or not self.dual_read


@dataclass(frozen=True, slots=True)
class Settings:
    host: str
    port: int
    data_dir: Path
    dashboard_api_key: str | None
    cors_origins: tuple[str, ...] | None
    flags: MigrationFlags
    environ: Mapping[str, str]
    analysis_command: tuple[str, ...] = (sys.executable, "-m", "orchestrator", "analyze")
    stdout_timeout_s: float = 300.0
    retry_delay_s: float = 1.0
    max_body_bytes: int = 1024 * 1024

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str], *, host: str, port: int, data_dir: Path
    ) -> Settings:
        origins_raw = environ.get("CORS_ORIGINS", "*").strip() or "*"
        origins = (
            None
            if origins_raw == "*"
            else tuple(o.strip() for o in origins_raw.split(",") if o.strip())
        )
        return cls(
            host=host,
            port=port,
            data_dir=data_dir,
            dashboard_api_key=environ.get("DASHBOARD_API_KEY") or None,
            cors_origins=origins,
            flags=MigrationFlags.from_environ(environ),
            environ=MappingProxyType(dict(environ)),
            stdout_timeout_s=_parse_positive_float(
                environ, "TA_ANALYSIS_STDOUT_TIMEOUT_S", default=300.0
            ),
            retry_delay_s=_parse_positive_float(environ, "TA_PORTFOLIO_RETRY_DELAY_S", default=1.0),
        )

    @property
    def llm_provider(self) -> str:
        return self.environ.get("TRADINGAGENTS_LLM_PROVIDER", "").strip().lower() or "offline"

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

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "app.sqlite3"

    @property
    def config_path(self) -> Path:
        return self.data_dir / "config.json"

    def child_environ(self) -> dict[str, str]:
        """The analysis subprocess must not inherit this interpreter's venv or path overrides."""
        return analysis_subprocess_env(
            self.environ, results_dir=self.results_dir, cache_dir=self.cache_dir
        )
