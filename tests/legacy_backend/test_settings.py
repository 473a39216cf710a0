"""Settings from the environment: parsing, subprocess env, bad numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from legacy_backend.settings import Settings


def test_settings_from_environ(tmp_path: Path) -> None:
    settings = Settings.from_environ(
        {
            "ANTHROPIC_API_KEY": "ak",
            "CORS_ORIGINS": " http://a , http://b ",
            "PYTHONPATH": "/x",
            "VIRTUAL_ENV": "/v",
            "CONDA_PREFIX": "/c",
            "TRADINGAGENTS_LLM_PROVIDER": "OpenAI",
        },
        data_dir=tmp_path / "rel",
    )
    assert settings.dashboard_api_key == "ak"
    assert settings.cors_origins == ("http://a", "http://b")
    assert settings.missing_provider_key() == "OPENAI_API_KEY"
    env = settings.subprocess_env()
    assert not {"PYTHONPATH", "VIRTUAL_ENV", "CONDA_PREFIX"} & set(env)
    assert env["TRADINGAGENTS_RESULTS_DIR"] == str(tmp_path / "rel" / "results")
    assert env["TA_CACHE_DIR"] == str(tmp_path / "rel" / "cache")


def test_settings_reject_bad_numbers(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="LEGACY_RETRY_DELAY_SECS"):
        Settings.from_environ({"LEGACY_RETRY_DELAY_SECS": "soon"}, data_dir=tmp_path)
