"""A real `shadowproxy run` subprocess for one benchmark scenario."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from benchmarks import procfs

READY = re.compile(r"shadowproxy listening on (\S+) \(admin (\S+)\)")
START_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class RunningProxy:
    pid: int
    url: str
    admin_url: str

    def cpu_seconds(self) -> float:
        """User + system CPU time the proxy process has used so far (/proc/<pid>/stat)."""
        return procfs.cpu_seconds(self.pid)

    def peak_rss_kib(self) -> int:
        """VmHWM: the most resident memory the proxy process ever had."""
        return procfs.status_kib(self.pid, "VmHWM")

    def rss_kib(self) -> int:
        """VmRSS: the proxy process's resident memory now."""
        return procfs.status_kib(self.pid, "VmRSS")


async def metric_samples(admin_url: str) -> list[Sample]:
    """Every sample on the proxy's admin `/metrics` page."""
    async with aiohttp.ClientSession() as session, session.get(admin_url + "/metrics") as r:
        page = await r.text()
    return [sample for family in text_string_to_metric_families(page) for sample in family.samples]


@asynccontextmanager
async def run_proxy(
    legacy_url: str,
    app_url: str,
    workdir: Path,
    env: Mapping[str, str],
    *,
    log: Path | None = None,
) -> AsyncIterator[RunningProxy]:
    """The proxy on free loopback ports; its warnings go to `log` (default: nowhere)."""
    args = [
        "-m", "shadowproxy", "run", "--legacy", legacy_url, "--app", app_url,
        "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--log-level", "warning",
        "--diff-log-dir", str(workdir / "diff_logs"), "--state-dir", str(workdir / "state"),
    ]  # fmt: skip
    with (log or Path(os.devnull)).open("ab") as stderr:  # the child keeps its own copy
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            env={**os.environ, **env},
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )
    assert process.stdout is not None
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT_S)).decode()
        ready = READY.search(line)
        if ready is None:
            raise RuntimeError(f"shadowproxy run did not start: {line!r}")
        yield RunningProxy(process.pid, ready[1], ready[2])
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()
