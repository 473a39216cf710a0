"""The consumer-contract acceptance against the two real backends, through a real proxy.

With the app authoritative for `analysis`, the status of a finished analysis comes back in the
v1alpha1 shape: semantically the same, but the legacy-era dashboard finds no decision, signals
or confidence where it reads them. The proxy must say so on the authoritative side, count it, and
roll the group back. With legacy authoritative, `GET /cutover` must say `analysis` is blocked for
the legacy-era dashboard, naming those fields, and ready for the v1alpha1-era one.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import app_service.app
import app_service.settings
import legacy_backend.app
import legacy_backend.settings
from shadowproxy.types import Comparison, ExchangeKind, Role

from ..shadowproxy.factories import ListSink, ServerFactory, build_proxy, metric, proxy_settings
from .test_kernel_parity import DATE, kernel_environ

STATUS = "/api/analysis/status/{task_id}"
SIGNALS = {"decision", "confidence", "quant_signal", "llm_signal"}


async def real_backends(aiohttp_server: ServerFactory, root: Path) -> tuple[str, str]:
    env = kernel_environ()
    legacy = legacy_backend.settings.Settings.from_environ(env, data_dir=root / "legacy", port=0)
    app = app_service.settings.Settings.from_environ(
        env, host="127.0.0.1", port=0, data_dir=root / "app"
    )
    servers = [
        await aiohttp_server(legacy_backend.app.create_app(legacy)),
        await aiohttp_server(app_service.app.create_app(app)),
    ]
    return tuple(str(s.make_url("")).rstrip("/") for s in servers)  # type: ignore[return-value]


async def finish_analysis(session: aiohttp.ClientSession, proxy: str, ticker: str) -> None:
    async with session.post(
        f"{proxy}/api/analysis/start", json={"ticker": ticker, "date": DATE}
    ) as started:
        assert started.status == 200, await started.text()
        task_id = (await started.json())["task_id"]
    finished = 0
    for _ in range(600):  # the dashboard re-reads a finished analysis; the shadow may lag
        async with session.get(f"{proxy}/api/analysis/status/{task_id}") as response:
            assert response.status == 200
            if (await response.json())["status"] not in ("pending", "running"):
                finished += 1
                if finished == 10:
                    return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{ticker} did not finish")


async def settled(sink: ListSink, count: int) -> list[Comparison]:
    for _ in range(200):
        statuses = [c for c in sink.comparisons if c.exchange.route == STATUS]
        if len(statuses) >= count and all(c.client is not None for c in statuses):
            return statuses
        await asyncio.sleep(0.05)
    return [c for c in sink.comparisons if c.exchange.route == STATUS]


@pytest.mark.slow
async def test_app_authoritative_breaks_the_legacy_dashboard_and_rolls_back(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    legacy_url, app_url = await real_backends(aiohttp_server, tmp_path)
    env = {"TA_AUTHORITATIVE_ANALYSIS": "app"}
    built = build_proxy(proxy_settings(legacy_url, app_url, tmp_path, env))
    proxy = str((await aiohttp_server(built.app)).make_url("")).rstrip("/")
    admin = str((await aiohttp_server(built.admin)).make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as session:
        await finish_analysis(session, proxy, "AAPL")
        statuses = await settled(built.sink, 1)
        async with session.get(f"{admin}/flags") as response:
            flags: dict[str, Any] = await response.json()
    finished = [c for c in statuses if c.client is not None and c.client.hurt]
    assert finished, [c.client for c in statuses]
    hurt = finished[0]
    assert hurt.exchange.kind is ExchangeKind.HTTP
    assert hurt.exchange.authoritative.value == "app"
    assert hurt.client is not None
    legacy_era = {b.field for b in hurt.client.hurt if b.consumer == "legacy-dashboard"}
    assert legacy_era >= SIGNALS
    assert not any(b.consumer == "v1alpha1-dashboard" for b in hurt.client.hurt)
    assert flags["authoritative"]["analysis"] == "legacy"
    assert "client_contract_broken" in flags["overrides"]["analysis"]["reason"]
    for field in SIGNALS:
        counted = metric(
            built.registry,
            "shadowproxy_consumer_breaks_total",
            route_group="analysis",
            consumer="legacy-dashboard",
            side=Role.AUTHORITATIVE.value,
            field=field,
        )
        assert counted >= 1, field


@pytest.mark.slow
async def test_legacy_authoritative_cutover_is_blocked_for_the_legacy_dashboard_only(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    legacy_url, app_url = await real_backends(aiohttp_server, tmp_path)
    env = {"SHADOWPROXY_CUTOVER_MIN_COMPARISONS": "3"}
    built = build_proxy(proxy_settings(legacy_url, app_url, tmp_path, env))
    proxy = str((await aiohttp_server(built.app)).make_url("")).rstrip("/")
    admin = str((await aiohttp_server(built.admin)).make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as session:
        for ticker in ("AAPL", "MSFT"):
            await finish_analysis(session, proxy, ticker)
        await settled(built.sink, 4)
        async with session.get(f"{admin}/cutover") as response:
            report: dict[str, Any] = await response.json()
    analysis = report["groups"]["analysis"]["consumers"]
    legacy_era = analysis["legacy-dashboard"]
    assert legacy_era["verdict"] == "blocked"
    assert {row["field"] for row in legacy_era["breaks"]} >= SIGNALS
    for name in SIGNALS:
        assert re.search(rf"\d+ breaks? on {name}\b", legacy_era["summary"]), legacy_era["summary"]
    assert analysis["v1alpha1-dashboard"]["verdict"] == "ready", analysis["v1alpha1-dashboard"]
