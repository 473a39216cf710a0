"""Settings rules both backends apply word for word: seconds values and the child environment.

Each backend keeps its own frozen `Settings` (their variables, defaults and CORS rules differ on
purpose: each reproduces its upstream side), but two rules were copied between them: how a
"number of seconds" variable is parsed, with the same error sentences, and which variables the
analysis subprocess (`python -m orchestrator analyze`) must not inherit and which two it must.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

# The analysis subprocess must not inherit this interpreter's venv or path overrides
# (upstream's `_build_env` rule).
CHILD_ENV_DROP_PREFIXES = ("PYTHON", "CONDA", "VIRTUAL")


def parse_seconds(raw: str, name: str) -> float:
    """A non-negative number of seconds; a bad value raises ValueError naming the variable."""
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {raw!r}")
    return value


def analysis_subprocess_env(
    environ: Mapping[str, str], *, results_dir: Path, cache_dir: Path
) -> dict[str, str]:
    """The analysis subprocess's environment: `environ` minus interpreter variables, plus the
    two directories the kernel writes to (`TRADINGAGENTS_RESULTS_DIR`, `TA_CACHE_DIR`)."""
    env = {k: v for k, v in environ.items() if not k.startswith(CHILD_ENV_DROP_PREFIXES)}
    env["TRADINGAGENTS_RESULTS_DIR"] = str(results_dir)
    env["TA_CACHE_DIR"] = str(cache_dir)
    return env
