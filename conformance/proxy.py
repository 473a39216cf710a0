"""A real `python -m shadowproxy run` subprocess with default settings, on loopback.

Every `SHADOWPROXY_*` and `TA_*` variable of the caller's environment is left out, so the proxy
runs on its defaults (legacy authoritative for every route group, shadowing on, every limit as
documented in README.md) whatever the shell has set. Its log goes to a file.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

READY = re.compile(r"shadowproxy listening on (\S+) \(admin (\S+)\)")
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0  # SIGTERM's grace (SHADOWPROXY_SHUTDOWN_GRACE_S is 10) and then some


@dataclass(frozen=True, slots=True)
class RunningProxy:
    url: str
    admin_url: str

    async def ws_comparisons(self) -> dict[str, int] | None:
        """shadowproxy_ws_comparisons_total by outcome: what the shadow comparison made of the
        run; None when the admin port does not serve /metrics (then the report says so)."""
        timeout = aiohttp.ClientTimeout(total=10)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(self.admin_url + "/metrics") as answer,
            ):
                if answer.status != 200:
                    return None
                page = await answer.text()
            families = list(text_string_to_metric_families(page))
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None
        outcomes: dict[str, int] = {}
        for family in families:
            for sample in family.samples:
                if sample.name == "shadowproxy_ws_comparisons_total" and sample.value:
                    key = sample.labels["outcome"]
                    outcomes[key] = outcomes.get(key, 0) + int(sample.value)
        return dict(sorted(outcomes.items()))


@asynccontextmanager
async def run_proxy(legacy_url: str, app_url: str, workdir: Path) -> AsyncIterator[RunningProxy]:
    args = [
        "-m", "shadowproxy", "run", "--legacy", legacy_url, "--app", app_url,
        "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--log-level", "warning",
        "--diff-log-dir", str(workdir / "diff_logs"), "--state-dir", str(workdir / "state"),
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHADOWPROXY_", "TA_"))}
    with (workdir / "proxy.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=log
        )
    assert process.stdout is not None
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT_S)).decode()
        ready = READY.search(line)
        if ready is None:
            raise RuntimeError(f"shadowproxy run did not start: {line!r} (see {workdir}/proxy.log)")
        yield RunningProxy(ready[1], ready[2])
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                process.kill()
                await process.wait()
