"""Provider sanity checks that run before any call: the provider/base-URL matrix and the
classification of provider errors into reason codes
(docs/upstream-contract.md §5.5)."""

from __future__ import annotations

import re
from typing import Any

from orchestrator.contracts import ReasonCode

PROVIDER_URL_PATTERNS: dict[str, tuple[str, ...]] = {
    "anthropic": (r"api\.anthropic\.com", r"api\.minimaxi\.com/anthropic"),
    "openai": (r"api\.openai\.com",),
    "google": (r"generativelanguage\.googleapis\.com",),
    "xai": (r"api\.x\.ai",),
    "ollama": (r"localhost:\d+", r"127\.0\.0\.1:\d+", r"ollama"),
    "openrouter": (r"openrouter\.ai",),
}

AUTH_FAILURE_MARKERS = (
    "authentication_error",
    "login fail",
    "please carry the api secret key",
    "invalid api key",
    "unauthorized",
    "error code: 401",
)


def check_provider_matrix(provider: str, backend_url: str) -> dict[str, Any] | None:
    """The data_quality of a mismatch, or None when the pair is plausible or cannot be judged
    (empty values, an unknown provider, or `offline`, which calls no URL)."""
    name, url = provider.lower(), backend_url.lower()
    patterns = PROVIDER_URL_PATTERNS.get(name)
    if not name or not url or patterns is None:
        return None
    if any(re.search(pattern, url) for pattern in patterns):
        return None
    return {
        "state": "provider_mismatch",
        "provider": name,
        "backend_url": url,
        "expected_patterns": list(patterns),
    }


def classify_llm_error(message: str) -> ReasonCode:
    if "Unsupported LLM provider" in message:
        return ReasonCode.PROVIDER_MISMATCH
    lowered = message.lower()
    if any(marker in lowered for marker in AUTH_FAILURE_MARKERS):
        return ReasonCode.PROVIDER_AUTH_FAILED
    return ReasonCode.LLM_SIGNAL_FAILED
