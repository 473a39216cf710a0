"""The settings rules both backends share: seconds values and the analysis subprocess's env."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import app_service.settings
import legacy_backend.settings
from backend_common.settings import analysis_subprocess_env, parse_seconds


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("0", 0.0, id="zero"),
        pytest.param("1.5", 1.5, id="fraction"),
        pytest.param(" 2 ", 2.0, id="surrounding-space"),
        pytest.param("1e3", 1000.0, id="exponent"),
    ],
)
def test_seconds_are_non_negative_numbers(raw: str, expected: float) -> None:
    assert parse_seconds(raw, "X_SECS") == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param("abc", "X_SECS must be a number of seconds, got 'abc'", id="not-a-number"),
        pytest.param("", "X_SECS must be a number of seconds, got ''", id="empty"),
        pytest.param("5s", "X_SECS must be a number of seconds, got '5s'", id="with-unit"),
        pytest.param("-1", "X_SECS must not be negative, got '-1'", id="negative"),
        pytest.param("-0.5", "X_SECS must not be negative, got '-0.5'", id="negative-fraction"),
    ],
)
def test_a_bad_seconds_value_is_a_sentence_naming_the_variable(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        parse_seconds(raw, "X_SECS")


@pytest.mark.parametrize(
    ("inherited", "kept"),
    [
        pytest.param({"PYTHONPATH": "/x", "HOME": "/h"}, {"HOME": "/h"}, id="python-dropped"),
        pytest.param({"CONDA_PREFIX": "/c", "VIRTUAL_ENV": "/v"}, {}, id="conda-and-venv-dropped"),
        pytest.param(
            {"MYPYTHON": "1", "python_lower": "2"},
            {"MYPYTHON": "1", "python_lower": "2"},
            id="prefix-only-and-case-sensitive",
        ),
        pytest.param(
            {"TRADINGAGENTS_RESULTS_DIR": "/old", "TA_CACHE_DIR": "/old"}, {}, id="dirs-overridden"
        ),
        pytest.param({}, {}, id="empty"),
    ],
)
def test_the_subprocess_env_drops_interpreter_variables_and_sets_the_kernel_dirs(
    inherited: dict[str, str], kept: dict[str, str], tmp_path: Path
) -> None:
    before = dict(inherited)
    env = analysis_subprocess_env(
        inherited, results_dir=tmp_path / "results", cache_dir=tmp_path / "cache"
    )
    assert env == {
        **kept,
        "TRADINGAGENTS_RESULTS_DIR": str(tmp_path / "results"),
        "TA_CACHE_DIR": str(tmp_path / "cache"),
    }
    assert inherited == before


def test_both_backends_hand_the_kernel_the_same_environment(tmp_path: Path) -> None:
    environ = {"PYTHONHOME": "/p", "VIRTUAL_ENV": "/v", "HOME": "/h", "TA_STAGE_DELAY_MS": "0"}
    legacy = legacy_backend.settings.Settings.from_environ(environ, data_dir=tmp_path)
    app = app_service.settings.Settings.from_environ(
        environ, host="127.0.0.1", port=0, data_dir=tmp_path
    )
    assert legacy.subprocess_env() == app.child_environ()
