"""Flags and settings: parsed once, strictly, with errors that name the variable."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from app_service.settings import MigrationFlags, Settings

from .conftest import base_environ


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("1", True, id="one"),
        pytest.param("true", True, id="true"),
        pytest.param(" YES ", True, id="yes-padded-upper"),
        pytest.param("on", True, id="on"),
        pytest.param("0", False, id="zero"),
        pytest.param("False", False, id="false"),
        pytest.param("no", False, id="no"),
        pytest.param("off", False, id="off"),
        pytest.param("", True, id="empty-means-default"),
    ],
)
def test_boolean_flag_values(raw: str, expected: bool) -> None:
    flags = MigrationFlags.from_environ({"TA_TASKSTORE_DUAL_READ": raw})
    assert flags.dual_read is expected


def test_flag_defaults() -> None:
    flags = MigrationFlags.from_environ({})
    assert flags == MigrationFlags(
        result_contract_version="v1alpha1",
        dual_read=True,
        dual_write=True,
        ws_v1alpha1=True,
        legacy_compat_fields=True,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        pytest.param(
            {"TA_TASKSTORE_DUAL_WRITE": "maybe"}, "TA_TASKSTORE_DUAL_WRITE", id="dual-write"
        ),
        pytest.param({"TA_TASKSTORE_DUAL_READ": "2"}, "TA_TASKSTORE_DUAL_READ", id="dual-read"),
        pytest.param({"TA_WS_V1ALPHA1_ENABLED": "yep"}, "TA_WS_V1ALPHA1_ENABLED", id="ws"),
        pytest.param({"TA_LEGACY_COMPAT_FIELDS": "x"}, "TA_LEGACY_COMPAT_FIELDS", id="compat"),
        pytest.param(
            {"TA_RESULT_CONTRACT_VERSION": "v2"}, "TA_RESULT_CONTRACT_VERSION", id="version"
        ),
        pytest.param(
            {"TA_ANALYSIS_STDOUT_TIMEOUT_S": "soon"}, "TA_ANALYSIS_STDOUT_TIMEOUT_S", id="timeout"
        ),
    ],
)
def test_bad_flag_is_an_error_naming_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings.from_environ(env, host="127.0.0.1", port=0, data_dir=Path("x"))


@pytest.mark.parametrize(
    ("dual_read", "dual_write", "writes_legacy"),
    [
        pytest.param(True, True, True, id="both-on"),
        pytest.param(True, False, False, id="sqlite-only"),
        pytest.param(False, True, True, id="legacy-read"),
        pytest.param(False, False, True, id="legacy-read-needs-legacy-writes"),
    ],
)
def test_legacy_json_is_written_whenever_it_can_be_read(
    dual_read: bool, dual_write: bool, writes_legacy: bool
) -> None:
    flags = MigrationFlags(dual_read=dual_read, dual_write=dual_write)
    assert flags.writes_legacy_json is writes_legacy


def test_cors_origins_and_dashboard_key() -> None:
    settings = Settings.from_environ(
        {"CORS_ORIGINS": " http://a.test , http://b.test ", "DASHBOARD_API_KEY": "k"},
        host="h",
        port=1,
        data_dir=Path("d"),
    )
    assert settings.cors_origins == ("http://a.test", "http://b.test")
    assert settings.dashboard_api_key == "k"
    assert Settings.from_environ({}, host="h", port=1, data_dir=Path("d")).cors_origins is None


def test_child_environ_drops_interpreter_variables() -> None:
    settings = Settings.from_environ(
        {"PYTHONPATH": "/x", "CONDA_PREFIX": "/c", "VIRTUAL_ENV": "/v", "KEEP": "1"},
        host="h",
        port=1,
        data_dir=Path("/data"),
    )
    env = settings.child_environ()
    assert env == {
        "KEEP": "1",
        "TRADINGAGENTS_RESULTS_DIR": "/data/results",
        "TA_CACHE_DIR": "/data/cache",
    }


def test_main_exits_2_on_a_bad_flag(tmp_path: Path) -> None:
    env = base_environ(TA_RESULT_CONTRACT_VERSION="v9")
    proc = subprocess.run(
        [sys.executable, "-m", "app_service", "--port", "0", "--data-dir", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "TA_RESULT_CONTRACT_VERSION" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_main_prints_the_real_port_and_serves(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "app_service", "--port", "0", "--data-dir", str(tmp_path)],
        env=base_environ(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("app_service listening on http://127.0.0.1:")
        port = int(line.rsplit(":", 1)[1])
        assert port > 0
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as resp:
            assert resp.read() == b'{"status":"ok"}'
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert (tmp_path / "app.sqlite3").exists()
