"""The provider/base-URL matrix and the classification of provider errors.

See docs/upstream-contract.md §5.5.
"""

from __future__ import annotations

import pytest

from orchestrator.llm.matrix import check_provider_matrix, classify_llm_error


@pytest.mark.parametrize(
    ("provider", "url", "mismatch"),
    [
        pytest.param("anthropic", "https://api.openai.com/v1", True, id="anthropic-openai-url"),
        pytest.param("google", "https://api.openai.com/v1", True, id="google-openai-url"),
        pytest.param("xai", "https://api.minimaxi.com/anthropic", True, id="xai-minimaxi-url"),
        pytest.param("ollama", "https://api.openai.com/v1", True, id="ollama-openai-url"),
        pytest.param("openrouter", "https://api.openai.com/v1", True, id="openrouter-openai"),
        pytest.param(
            "anthropic", "https://api.minimaxi.com/anthropic", False, id="anthropic-minimaxi"
        ),
        pytest.param("anthropic", "https://api.anthropic.com", False, id="anthropic-anthropic"),
        pytest.param("OpenAI", "https://API.OPENAI.COM/v1", False, id="openai-case-insensitive"),
        pytest.param("ollama", "http://localhost:11434/v1", False, id="ollama-localhost"),
        pytest.param("ollama", "http://127.0.0.1:8080/v1", False, id="ollama-loopback"),
        pytest.param("google", "https://generativelanguage.googleapis.com", False, id="google"),
        pytest.param("offline", "https://anything.example", False, id="offline-skips"),
        pytest.param("mystery", "https://api.openai.com/v1", False, id="unknown-provider-skips"),
        pytest.param("openai", "", False, id="empty-url-skips"),
    ],
)
def test_provider_matrix(provider: str, url: str, mismatch: bool) -> None:
    assert (check_provider_matrix(provider, url) is not None) is mismatch


@pytest.mark.parametrize(
    ("message", "code"),
    [
        pytest.param("boom", "llm_signal_failed", id="generic"),
        pytest.param("Unsupported LLM provider: foo", "provider_mismatch", id="unsupported"),
        pytest.param("Error code: 401 - nope", "provider_auth_failed", id="401"),
        pytest.param("AUTHENTICATION_ERROR", "provider_auth_failed", id="authentication-error"),
        pytest.param("login fail: check key", "provider_auth_failed", id="login-fail"),
        pytest.param("Please carry the API secret key", "provider_auth_failed", id="carry-key"),
        pytest.param("Invalid API key provided", "provider_auth_failed", id="invalid-key"),
        pytest.param("401 Unauthorized", "provider_auth_failed", id="unauthorized"),
    ],
)
def test_classify_llm_error(message: str, code: str) -> None:
    assert classify_llm_error(message) == code
