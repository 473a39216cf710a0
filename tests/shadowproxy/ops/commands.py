"""The `shadowproxy` command in a subprocess, for the tests of the CLI against real servers."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path


async def cli(*args: str, cwd: Path, **env: str) -> tuple[int, str, str]:
    """`python -m shadowproxy ARGS`: (exit code, stdout, stderr). `env` is laid over this
    process's environment; a variable given as "" is left out."""
    environ = {k: v for k, v in {**os.environ, **env}.items() if v}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "shadowproxy", *args, cwd=cwd, env=environ,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@asynccontextmanager
async def stack_up(cwd: Path, env: Mapping[str, str]) -> AsyncIterator[tuple[str, str]]:
    """`shadowproxy up` on free ports (its state under `cwd`): yields (proxy URL, admin URL)
    once its banner is out, and stops it with SIGTERM (it must exit within a minute)."""
    up = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "shadowproxy", "up", "--listen", "127.0.0.1:0",
        "--admin", "127.0.0.1:0", "--legacy-port", "0", "--app-port", "0", "--var-dir", "var",
        cwd=cwd, env={**os.environ, **env}, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert up.stdout is not None
    try:
        banner = ""
        while "Ctrl-C" not in banner:
            line = (await asyncio.wait_for(up.stdout.readline(), 60)).decode()
            assert line, f"shadowproxy up exited before its banner: {banner!r}"
            banner += line
        proxy = re.search(r"^\s+proxy\s+(\S+)", banner, re.MULTILINE)
        admin = re.search(r"^\s+admin\s+(\S+)", banner, re.MULTILINE)
        assert proxy
        assert admin
        yield proxy[1], admin[1]
    finally:
        up.send_signal(signal.SIGTERM)
        await asyncio.wait_for(up.wait(), 60)
