"""The proxy's live `/metrics` after a dashboard session passes `promtool check metrics`.

The real stack (`shadowproxy up`: both backends and the proxy) serves a `shadowproxy demo`
session, so every family has children: comparisons, websockets, consumers, rollback windows.
"""

from __future__ import annotations

import asyncio
from asyncio.subprocess import PIPE
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from ..shadowproxy.ops.commands import cli, stack_up


@pytest.mark.slow
async def test_live_metrics_after_a_demo_pass_promtool(
    tool: Callable[[str], str], tmp_path: Path
) -> None:
    promtool = tool("promtool")
    async with stack_up(tmp_path, {"TA_STAGE_DELAY_MS": "0"}) as (proxy, admin):
        args = ["demo", "--proxy", proxy, "--admin", admin, "--tickers", "1"]
        returncode, out, err = await cli(*args, cwd=tmp_path, TA_STAGE_DELAY_MS="0")
        assert returncode in (0, 3), out + err  # 3: a gate (parity); the metrics are the point
        async with aiohttp.ClientSession() as session, session.get(f"{admin}/metrics") as got:
            text = await got.text()
    assert "_created" not in text
    for name in (
        "shadowproxy_build_info",
        "shadowproxy_ws_connections_open",
        "shadowproxy_correlation_entries",
        "process_resident_memory_bytes",
        "python_info",
    ):
        assert f"# TYPE {name} " in text, name
    assert "\nshadowproxy_comparisons_total{" in text  # the session was compared
    lint = await asyncio.create_subprocess_exec(
        promtool, "check", "metrics", stdin=PIPE, stdout=PIPE, stderr=PIPE
    )
    found, problems = await asyncio.wait_for(lint.communicate(text.encode()), 60)
    assert lint.returncode == 0, (found + problems).decode()
    assert (found + problems).decode().strip() == ""
