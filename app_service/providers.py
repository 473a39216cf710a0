"""Which LLM provider the analysis will use and whether its API key can be found.

The key is resolved the NEW way (docs/upstream-contract.md §4.6): the provider's own environment
variable first, then the key saved through `POST /api/config/apikey`. Nothing here fails a request:
a missing key is reported later as a failed task, because the HTTP start route must still answer 200
(§1.2 #6).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

PROVIDER_KEY_ENV: Mapping[str, tuple[str, ...]] = {
    "anthropic": ("ANTHROPIC_API_KEY", "MINIMAX_API_KEY"),
    "openai": ("OPENAI_API_KEY",),
    "openrouter": ("OPENROUTER_API_KEY",),
    "xai": ("XAI_API_KEY",),
    "google": ("GOOGLE_API_KEY",),
    "ollama": (),
    "offline": (),
}


def saved_api_key(config_path: Path) -> str | None:
    """The key saved by the setup route; an unreadable file counts as no key."""
    try:
        data = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    key = data.get("api_key") if isinstance(data, dict) else None
    return key if isinstance(key, str) and key.strip() else None


def resolve_provider_key(
    environ: Mapping[str, str], provider: str, config_path: Path
) -> tuple[str, str] | None:
    """Return (env var name, key) for the provider, or None when nothing is configured."""
    names = PROVIDER_KEY_ENV.get(provider, ())
    for name in names:
        value = environ.get(name, "").strip()
        if value:
            return name, value
    saved = saved_api_key(config_path)
    if saved is None:
        return None
    return (names[0] if names else "TRADINGAGENTS_API_KEY"), saved


def provider_needs_key(provider: str) -> bool:
    return bool(PROVIDER_KEY_ENV.get(provider, ("?",)))
