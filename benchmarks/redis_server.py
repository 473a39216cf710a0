"""A real `redis-server` for the scale-out section, on a free loopback port, for one run.

Debian's `redis-server` package (`.ci/run` installs it); without it the section is skipped and
says why. Nothing is persisted (`--save ""`, no AOF) and nothing is read from a system config.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from benchmarks import procfs
from benchmarks.nginx import free_port

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0


def redis_binary() -> str | None:
    return shutil.which("redis-server")


@dataclass(frozen=True, slots=True)
class RunningRedis:
    pid: int
    port: int
    version: str

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def cpu_seconds(self) -> float:
        return procfs.cpu_seconds(self.pid)


async def _version(binary: str) -> str:
    probe = await asyncio.create_subprocess_exec(
        binary, "--version", stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    out, _ = await asyncio.wait_for(probe.communicate(), START_TIMEOUT_S)
    words = out.decode(errors="replace").split()  # "Redis server v=7.0.15 sha=... "
    return next((word.removeprefix("v=") for word in words if word.startswith("v=")), "unknown")


async def _answers(port: int) -> bool:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    try:
        writer.write(b"PING\r\n")
        await writer.drain()
        return (await asyncio.wait_for(reader.readline(), 1.0)).startswith(b"+PONG")
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()
        with suppress(OSError):
            await writer.wait_closed()


def _prepare(workdir: Path) -> None:
    workdir.mkdir(parents=True, exist_ok=True)


@asynccontextmanager
async def run_redis(binary: str, workdir: Path) -> AsyncIterator[RunningRedis]:
    """redis-server on 127.0.0.1 and a free port, its files in `workdir`; stopped on exit."""
    _prepare(workdir)
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--dir", str(workdir), "--loglevel", "warning",
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT_S
        while not await _answers(port):
            if process.returncode is not None or loop.time() > deadline:
                raise RuntimeError(f"redis-server did not start (exit {process.returncode})")
            await asyncio.sleep(0.05)
        yield RunningRedis(process.pid, port, await _version(binary))
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                process.kill()
                await process.wait()
