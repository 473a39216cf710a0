"""The `shadowproxy` command in a subprocess, for the tests of the CLI against real servers."""

from __future__ import annotations

import asyncio
import os
import sys
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
