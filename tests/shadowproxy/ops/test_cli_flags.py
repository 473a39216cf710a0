"""`shadowproxy flags` against a real proxy's admin API (`shadowproxy run` in a subprocess)."""

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from .commands import cli


def rows(table: str) -> dict[str, str]:
    """route group -> the rest of its row, whitespace-collapsed (after the two header lines)."""
    lines = table.splitlines()
    assert lines[0].startswith("phase "), table
    return {line.split()[0]: " ".join(line.split()[1:]) for line in lines[2:] if line.strip()}


@pytest.fixture
async def admin(tmp_path: Path) -> AsyncIterator[str]:
    proxy = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "shadowproxy", "run",
        "--legacy", "http://127.0.0.1:9", "--app", "http://127.0.0.1:9",
        "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--state-dir", "state",
        cwd=tmp_path, env={**os.environ, "TA_AUTHORITATIVE_REPORTS": "app"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert proxy.stdout is not None
    line = (await asyncio.wait_for(proxy.stdout.readline(), 30)).decode()
    match = re.search(r"\(admin (\S+)\)", line)
    assert match, line
    yield match[1]
    proxy.send_signal(signal.SIGTERM)
    await asyncio.wait_for(proxy.wait(), 30)


async def test_flags_show_set_rollback_clear(admin: str, tmp_path: Path) -> None:
    code, out, _ = await cli("flags", "--admin", admin, cwd=tmp_path)
    assert code == 0
    assert rows(out)["analysis"] == "legacy"
    assert rows(out)["reports"] == "app"  # from the environment, no override

    code, out, _ = await cli(
        "flags", "--admin", admin, "set", "analysis", "app", "--reason", "canary 5%", cwd=tmp_path
    )
    assert code == 0
    assert re.fullmatch(r"app app since \S+: canary 5%", rows(out)["analysis"])

    code, out, _ = await cli(
        "flags", "--admin", admin, "rollback", "--reason", "incident 42", cwd=tmp_path
    )
    assert code == 0
    assert all(row.startswith("legacy") for row in rows(out).values())
    assert "incident 42" in rows(out)["analysis"]

    code, out, _ = await cli("flags", "--admin", admin, "clear", cwd=tmp_path)
    assert code == 0
    assert rows(out)["reports"] == "app"  # the environment decides again
    assert rows(out)["analysis"] == "legacy"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        pytest.param(["set", "nosuch", "app", "--reason", "x"], 2, "unknown route group", id="grp"),
        pytest.param(["set", "analysis", "app"], 2, "--reason", id="reason-required"),
        pytest.param(["set", "analysis", "new", "--reason", "x"], 2, "invalid choice", id="side"),
    ],
)
async def test_flags_user_errors(
    admin: str, tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    returncode, out, err = await cli("flags", "--admin", admin, *args, cwd=tmp_path)
    assert returncode == code
    assert message in err
    assert out == ""


async def test_flags_without_an_admin_api_exits_1(tmp_path: Path) -> None:
    code, out, err = await cli("flags", "--admin", "http://127.0.0.1:9", cwd=tmp_path)
    assert code == 1
    assert "shadowproxy: error: cannot use the admin API at http://127.0.0.1:9" in err
    assert out == ""
