"""`shadowproxy up --with-secondary`: four real child processes on port 0, a tmp var dir.

The fourth child, `legacy2`, is a second legacy backend on the primary legacy's data directory;
the proxy sends it a sample of reads (all of them here: SHADOWPROXY_NOISE_SAMPLE_RATE=1) as A/A
noise samples, and never a write.
"""

import asyncio
import os
import re
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from .test_stack import Up, alive, running

FOUR = "Ctrl-C stops all four."
WITH_SECONDARY = ("--with-secondary", "--legacy-secondary-port", "0")
# every read is also an A/A sample; no dashboard key, so the analysis routes are open
ENV = {"SHADOWPROXY_NOISE_SAMPLE_RATE": "1", "DASHBOARD_API_KEY": "", "ANTHROPIC_API_KEY": ""}
STARTED = '"event":"analysis_started"'
ANALYSIS_EVENTS = '"event":"analysis_'  # started, subprocess started, finished, cancelled
SAMPLES = re.compile(r"^shadowproxy_noise_samples_total\{([^}]*)\} (\S+)$", re.MULTILINE)


async def eventually(
    check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 15
) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout_s:g}s: {what}")
        await asyncio.sleep(0.1)


async def get_json(client: aiohttp.ClientSession, url: str) -> Any:
    async with client.get(url) as response:
        assert response.status == 200, (url, response.status, await response.text())
        return await response.json()


def data_dir(pid: int) -> str:
    """The `--data-dir` a child was started with, from its command line."""
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    return argv[argv.index("--data-dir") + 1]


def logged(up: Up, child: str, event: str) -> list[str]:
    """The child's log lines (echoed by `up` as `CHILD | {json}`) with this event."""
    return [line for line in up.stderr if line.startswith(f"{child} | ") and event in line]


async def test_up_with_a_secondary_sends_it_reads_and_never_a_write(tmp_path: Path) -> None:
    async with running(tmp_path, *WITH_SECONDARY, env=ENV, banner=FOUR) as up:
        pids = up.pids()
        assert sorted(pids) == ["app", "legacy", "legacy2", "proxy"]
        assert all(alive(pid) for pid in pids.values())
        legacy, secondary, proxy, admin = (
            up.url(name) for name in ("legacy", "legacy2", "proxy", "admin")
        )
        assert secondary.startswith("http://127.0.0.1:")
        assert secondary != legacy
        (line,) = (line for line in up.stdout if line.lstrip().startswith("legacy2 "))
        assert "A/A noise reads, data shared with legacy" in line
        assert data_dir(pids["legacy2"]) == data_dir(pids["legacy"]) == str(Path("var/legacy"))

        async with aiohttp.ClientSession() as client:
            noise = await get_json(client, f"{admin}/noise")
            assert (noise["source"], noise["sample_rate"]) == ("secondary", 1.0)

            async def samples(group: str, result: str = "") -> float:
                """shadowproxy_noise_samples_total of one route group (and result)."""
                async with client.get(f"{admin}/metrics") as response:
                    text = await response.text()
                wanted = (f'route_group="{group}"', f'result="{result}' if result else "")
                found = SAMPLES.findall(text)
                return sum(float(n) for labels, n in found if all(w in labels for w in wanted))

            async def reports_sampled() -> bool:
                return await samples("reports", "sampled") >= 1

            async def analysis_asked() -> bool:  # any result: the secondary was asked
                return await samples("analysis") >= 1

            # a read through the proxy: also sent to the secondary, compared as one A/A sample
            assert await samples("reports") == 0
            assert await get_json(client, f"{proxy}/api/reports/list") is not None
            await eventually(reports_sampled, "a reports A/A sample")

            # a write through the proxy: legacy (and the app) start an analysis, the secondary
            # never hears of it, not even while the reads of it are sampled
            start = {"ticker": "AAPL"}
            async with client.post(f"{proxy}/api/analysis/start", json=start) as response:
                assert response.status == 200, await response.text()
                task_id = (await response.json())["task_id"]

            async def completed() -> bool:
                status = await get_json(client, f"{proxy}/api/analysis/status/{task_id}")
                return bool(status["status"] == "completed")

            await eventually(completed, f"{task_id} completed")
            assert await get_json(client, f"{proxy}/api/analysis/tasks") is not None
            await eventually(analysis_asked, "an analysis read sent to the secondary")
            listed = await get_json(client, f"{legacy}/api/analysis/tasks")
            assert [task["task_id"] for task in listed["tasks"]] == [task_id]
            (started,) = logged(up, "legacy", STARTED)
            assert f'"task_id":"{task_id}"' in started
            assert await get_json(client, f"{secondary}/api/analysis/tasks") == {
                "tasks": [],
                "total": 0,
            }
            assert logged(up, "legacy2", ANALYSIS_EVENTS) == []

            # the control: a write sent to the secondary itself shows on both probes above
            async with client.post(f"{secondary}/api/analysis/start", json=start) as response:
                assert response.status == 200, await response.text()
                own = (await response.json())["task_id"]
            listed = await get_json(client, f"{secondary}/api/analysis/tasks")
            assert [task["task_id"] for task in listed["tasks"]] == [own]

            async def own_done() -> bool:
                status = await get_json(client, f"{secondary}/api/analysis/status/{own}")
                return status["status"] == "completed" and bool(logged(up, "legacy2", STARTED))

            await eventually(own_done, f"{own} completed on the secondary")

        up.process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(up.process.wait(), 60) == 0, up.err
        stopped = [line for line in up.stderr if "up: stopped" in line]
        assert [line.split()[3] for line in stopped] == ["proxy", "app", "legacy2", "legacy"]
        assert not any(alive(pid) for pid in pids.values())


async def test_a_secondary_that_dies_is_named_and_the_stack_exits_non_zero(
    tmp_path: Path,
) -> None:
    async with running(tmp_path, *WITH_SECONDARY, env=ENV, banner=FOUR) as up:
        pids = up.pids()
        os.kill(pids["legacy2"], signal.SIGKILL)
        assert await asyncio.wait_for(up.process.wait(), 60) == 1
        assert f"legacy2 exited with code {-signal.SIGKILL}" in up.err
        assert "legacy2 had already exited" in up.err
        assert not any(alive(pid) for pid in pids.values())
