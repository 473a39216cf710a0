"""`python -m legacy_backend`: the ready line carries the real port; bad config exits 2."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp


def _child_env(**extra: str) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", ""), "TA_STAGE_DELAY_MS": "0", **extra}


async def test_port_zero_prints_the_bound_port_and_serves(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "legacy_backend",
        "--port",
        "0",
        "--data-dir",
        str(tmp_path / "d"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=_child_env(),
    )
    try:
        assert process.stdout is not None
        line = (await process.stdout.readline()).decode()
        assert line.startswith("legacy_backend listening on http://127.0.0.1:")
        url = line.split()[-1]
        assert not url.endswith(":0")
        async with aiohttp.ClientSession() as session, session.get(f"{url}/health") as response:
            assert await response.json() == {"status": "ok"}
    finally:
        process.send_signal(signal.SIGTERM)
        assert await process.wait() == 0


async def test_bad_configuration_exits_2_with_a_sentence(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "legacy_backend",
        "--port",
        "0",
        "--data-dir",
        str(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_child_env(LEGACY_STDOUT_SILENCE_SECS="-1"),
    )
    stdout, stderr = await process.communicate()
    assert process.returncode == 2
    assert stdout == b""
    assert b"configuration error: LEGACY_STDOUT_SILENCE_SECS must not be negative" in stderr
