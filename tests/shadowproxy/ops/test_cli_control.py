"""`shadowproxy flags phase|history|parity` with a token, against a real `shadowproxy run`."""

import asyncio
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from .commands import cli

TOKEN = "cli-test-token-0123456789"


@pytest.fixture
async def admin(tmp_path: Path) -> AsyncIterator[str]:
    proxy = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "shadowproxy", "run",
        "--legacy", "http://127.0.0.1:9", "--app", "http://127.0.0.1:9",
        "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--state-dir", "state",
        cwd=tmp_path, env={**os.environ, "SHADOWPROXY_ADMIN_TOKEN": TOKEN},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proxy.stdout is not None
    assert proxy.stderr is not None
    line = (await asyncio.wait_for(proxy.stdout.readline(), 30)).decode()
    match = re.search(r"\(admin (\S+)\)", line)
    assert match, line
    yield match[1]
    proxy.send_signal(signal.SIGTERM)
    await asyncio.wait_for(proxy.wait(), 30)
    assert TOKEN not in (await proxy.stderr.read()).decode()  # never in the proxy's log
    assert TOKEN not in written(tmp_path)  # nor in its state, audit trail or diff logs


def written(root: Path) -> str:
    """Every file the proxy wrote under its working folder (the test's token file aside)."""
    files = [p for p in root.rglob("*") if p.is_file() and p.name != "token"]
    return "".join(p.read_text(encoding="utf-8", errors="replace") for p in files)


async def test_phase_history_and_parity_with_a_token_file(admin: str, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token = ("--token-file", str(token_file))
    base = ("flags", "--admin", admin)

    code, _, err = await cli(*base, "phase", "reads", "--reason", "phase 2", cwd=tmp_path)
    assert code == 2
    assert "bearer token is required" in err
    assert "--token-file" in err

    code, out, _ = await cli(*base, *token, "phase", "reads", "--reason", "phase 2", cwd=tmp_path)
    assert code == 0, out
    assert out.splitlines()[0] == "phase reads, flags version 1"

    code, out, _ = await cli(
        *base, "history", "--json", cwd=tmp_path, SHADOWPROXY_ADMIN_TOKEN=TOKEN
    )
    assert code == 0
    (event,) = [e for e in json.loads(out)["events"] if e["action"] == "phase"]
    assert (event["actor"], event["reason"]) == ("cli", "phase reads: phase 2")

    code, out, _ = await cli(*base, *token, "history", cwd=tmp_path)
    assert code == 0
    assert re.search(r"\s1\s+cli\s+phase\s+analysis legacy→app", out), out

    code, out, _ = await cli(*base, *token, "parity", "--window", "10m", cwd=tmp_path)
    assert code == 0
    assert out.splitlines()[0] == "parity over the last 10 min"
    assert re.search(r"^analysis\s+app\s+0\s+-", out, re.MULTILINE), out

    code, out, _ = await cli(*base, cwd=tmp_path)  # GET /flags stays open
    assert code == 0
    assert out.startswith("phase reads")


async def test_a_non_loopback_admin_without_a_token_does_not_start(tmp_path: Path) -> None:
    code, out, err = await cli(
        "run", "--legacy", "http://127.0.0.1:9", "--app", "http://127.0.0.1:9",
        "--listen", "127.0.0.1:0", "--admin", "0.0.0.0:0", cwd=tmp_path,
        SHADOWPROXY_ADMIN_TOKEN="", SHADOWPROXY_ADMIN_TOKEN_FILE="",
    )  # fmt: skip
    assert code == 2
    assert out == ""
    assert "SHADOWPROXY_ADMIN_TOKEN" in err
    assert "Traceback" not in err
