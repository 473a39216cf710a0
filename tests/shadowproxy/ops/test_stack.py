"""`shadowproxy up` end to end: three real child processes on port 0, a tmp var dir."""

import asyncio
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

BANNER_END = "Ctrl-C stops all three."
UP = ["up", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"]
UP += ["--legacy-port", "0", "--app-port", "0", "--var-dir", "var", "--diff-log-keep-days", "7"]


@dataclass
class Up:
    process: asyncio.subprocess.Process
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)

    def url(self, name: str) -> str:
        for line in self.stdout:
            match = re.match(rf"\s+{name}\s+(http://\S+)", line)
            if match:
                return match[1]
        raise AssertionError(f"no {name} URL in the banner: {self.stdout}")

    def pids(self) -> dict[str, int]:
        found = (re.search(r"up: (\w+) ready at \S+ \(pid (\d+)\)", line) for line in self.stderr)
        return {m[1]: int(m[2]) for m in found if m}

    @property
    def err(self) -> str:
        return "\n".join(self.stderr)


async def _collect(stream: asyncio.StreamReader, into: list[str]) -> None:
    async for raw in stream:
        into.append(raw.decode(errors="replace").rstrip())


async def start_up(
    cwd: Path, *extra: str, env: Mapping[str, str] | None = None
) -> tuple[Up, list[asyncio.Task[None]]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "shadowproxy",
        *UP,
        *extra,
        cwd=cwd,
        env={**os.environ, "TA_STAGE_DELAY_MS": "0", **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    up = Up(process)
    pumps = [
        asyncio.create_task(_collect(process.stdout, up.stdout)),
        asyncio.create_task(_collect(process.stderr, up.stderr)),
    ]
    return up, pumps


async def wait_for_banner(up: Up, end: str = BANNER_END) -> None:
    for _ in range(600):
        if end in up.stdout:
            return
        if up.process.returncode is not None:
            break
        await asyncio.sleep(0.1)
    raise AssertionError(f"no banner; stderr:\n{up.err}")


@asynccontextmanager
async def running(
    cwd: Path, *extra: str, env: Mapping[str, str] | None = None, banner: str = BANNER_END
) -> AsyncIterator[Up]:
    """`shadowproxy up` with its banner printed; stopped (SIGTERM) at the end if still running."""
    up, pumps = await start_up(cwd, *extra, env=env)
    try:
        await wait_for_banner(up, banner)
        yield up
    finally:
        if up.process.returncode is None:
            up.process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(up.process.wait(), 60)
        await asyncio.gather(*pumps)


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Up]:
    async with running(tmp_path) as up:
        yield up


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_up_serves_through_the_proxy_and_stops_cleanly_on_sigterm(
    stack: Up, tmp_path: Path
) -> None:
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{stack.url('proxy')}/health") as response:
            assert response.status == 200
            assert await response.json() == {"status": "ok"}
            assert response.headers["X-Shadowproxy-Authoritative"] == "legacy"
        async with client.get(f"{stack.url('admin')}/metrics") as response:
            assert "shadowproxy_requests_total" in await response.text()
    for name in ("legacy", "app"):
        assert stack.url(name).startswith("http://127.0.0.1:")
    pids = stack.pids()
    assert sorted(pids) == ["app", "legacy", "proxy"]
    assert not any("legacy2" in line for line in stack.stdout)  # no secondary without the flag
    assert all(alive(pid) for pid in pids.values())

    stack.process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(stack.process.wait(), 60) == 0
    stopped = [line for line in stack.stderr if "up: stopped" in line]
    assert [line.split()[3] for line in stopped] == ["proxy", "app", "legacy"]
    assert not any(alive(pid) for pid in pids.values())
    assert (tmp_path / "var" / "shadowproxy").is_dir()  # the proxy's state under --var-dir
    assert (tmp_path / "diff_logs").is_dir()


async def test_a_child_that_dies_is_named_and_the_stack_exits_non_zero(stack: Up) -> None:
    pids = stack.pids()
    os.kill(pids["app"], signal.SIGKILL)
    assert await asyncio.wait_for(stack.process.wait(), 60) == 1
    assert f"app exited with code {-signal.SIGKILL}" in stack.err
    assert not any(alive(pid) for pid in pids.values())


async def test_a_child_that_cannot_start_is_reported_with_its_stderr(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        up, pumps = await start_up(tmp_path, "--legacy-port", port)
        assert await asyncio.wait_for(up.process.wait(), 60) == 1
        await asyncio.gather(*pumps)
    assert "legacy failed to start: legacy exited with code" in up.err
    assert "last stderr lines of legacy:" in up.err
    assert "starting app" not in up.err
    assert up.stdout == []
