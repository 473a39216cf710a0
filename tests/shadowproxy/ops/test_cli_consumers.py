"""`shadowproxy run` with a bad `[[consumers]]` config: one file:line sentence, exit 2, no proxy."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

GOOD_READ = '[[consumers.reads]]\nroute = "/api/x"\npath = "x"\nrequired = true\n'


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize(
    ("text", "line", "named"),
    [
        pytest.param(
            '[[consumers]]\nname = "ops-console"\n\n' + GOOD_READ + 'types = ["str"]\n',
            8,
            "[[consumers]] #1 (ops-console) [[consumers.reads]] #1 key 'types': types must be",
            id="bad-type",
        ),
        pytest.param(
            '[[consumers]]\nname = "v1alpha1-dashboard"\n' + GOOD_READ,
            2,
            "[[consumers]] #1 key 'name': 'v1alpha1-dashboard' is a built-in consumer",
            id="built-in-name",
        ),
        pytest.param(
            '[[consumers]]\nname = "ops"\n\n[[consumers.reads]]\nroute = "/api/x"\npath = "x"\n',
            4,
            "[[consumers]] #1 (ops) [[consumers.reads]] #1 key 'required': expected true or false",
            id="no-required",
        ),
    ],
)
def test_a_bad_consumer_contract_stops_run_with_the_line(
    tmp_path: Path, text: str, line: int, named: str
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(text, encoding="utf-8")
    listen, admin = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHADOWPROXY_", "TA_"))}
    started = time.monotonic()
    result = subprocess.run(
        [
            *(sys.executable, "-m", "shadowproxy", "run"),
            *("--legacy", "http://127.0.0.1:1", "--app", "http://127.0.0.1:2"),
            *("--listen", f"127.0.0.1:{listen}", "--admin", f"127.0.0.1:{admin}"),
            *("--config", str(config), "--diff-log-dir", str(tmp_path / "diffs")),
            *("--state-dir", str(tmp_path / "state")),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=30,
        check=False,
    )
    assert time.monotonic() - started < 15
    assert result.returncode == 2, result.stderr
    assert f"{config}:{line}: {named}" in result.stderr
    assert result.stderr.startswith("shadowproxy: error: ")
    assert result.stderr.count("\n") == 1, "one line, no traceback"
    assert "Traceback" not in result.stderr + result.stdout
    assert "listening" not in result.stdout
    assert not listening(listen)
    assert not listening(admin)
    assert not (tmp_path / "diffs").exists(), "nothing was set up"
