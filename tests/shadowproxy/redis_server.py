"""A real `redis-server` for the tests, on a free loopback port, that a test can kill and restart.

Debian's `redis-server` package; a developer machine without it skips, CI (CI=true) fails, as
with the monitoring binaries. Nothing is persisted (`--save ""`, no AOF): a restart comes back
empty, as a Redis without persistence does after a crash.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


def redis_binary() -> str:
    path = shutil.which("redis-server")
    if path is not None:
        return path
    message = "redis-server is not installed (Debian package: redis-server)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; CI must install it")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    def __init__(self, workdir: Path) -> None:
        self._binary = redis_binary()
        self._dir = workdir
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            [self._binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self._dir), "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self._process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not answer PING within 10 s")

    def kill(self) -> None:
        """SIGKILL, as a crash or a node loss: nothing is flushed, nothing survives."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(10)
            self._process = None

    def restart(self) -> None:
        self.kill()
        self.start()


async def until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Wait for `condition`; fail the test if it does not hold within `timeout_s`."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout_s, "condition never held"
        await asyncio.sleep(0.01)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A real redis-server of this test's own, on a free loopback port (killed at the end).
    A fixture: conftest modules import it."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.kill()
