"""Under load, shedding never desynchronizes the backends: writes use a reserve of shadow slots,
and what the proxy still could not shadow is its own divergence, never a backend's mismatch."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client import CollectorRegistry

from shadowproxy.http.context import CONTEXT
from shadowproxy.types import Comparison, Outcome, Side

from ..dashboards import app_status, legacy_status, list_item
from ..factories import ClientFactory, ListSink, ServerFactory, build_proxy, metric, proxy_settings

STATUS = "/api/analysis/status/{task_id}"
TASKS = "/api/analysis/tasks"


@dataclass
class Analyses:
    """One side that keeps the analyses it was asked to start, in its own shapes."""

    side: Side
    start_delay_s: float = 0.0
    read_delay_s: float = 0.0
    decisions: dict[str, str] = field(default_factory=dict)  # ticker -> listed decision
    started: dict[str, str] = field(default_factory=dict)  # task id -> ticker
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/analysis/start", self._start)
        app.router.add_get("/api/analysis/status/{task_id}", self._status)
        app.router.add_get(TASKS, self._tasks)
        return app

    async def _start(self, request: web.Request) -> web.Response:
        ticker = (await request.json())["ticker"]
        await asyncio.sleep(self.start_delay_s)
        task_id = f"{ticker}_20260413_120000_{self.side.value}{next(self._ids):03d}"
        self.started[task_id] = ticker
        return web.json_response({"task_id": task_id, "ticker": ticker, "status": "running"})

    async def _status(self, request: web.Request) -> web.Response:
        await asyncio.sleep(self.read_delay_s)
        task_id = request.match_info["task_id"]
        if task_id not in self.started:
            return web.json_response({"detail": "Task not found"}, status=404)
        shape = legacy_status if self.side is Side.LEGACY else app_status
        return web.json_response(shape(task_id))

    async def _tasks(self, _: web.Request) -> web.Response:
        tasks = []
        for task_id, ticker in self.started.items():
            item = list_item(task_id, ticker, self.side)
            if ticker in self.decisions:
                key = "decision" if self.side is Side.LEGACY else "summary"
                item[key] = (
                    self.decisions[ticker]
                    if key == "decision"
                    else {**item["summary"], "decision": self.decisions[ticker]}
                )
            tasks.append(item)
        return web.json_response({"tasks": tasks, "total": len(tasks)})


@dataclass
class Stack:
    client: TestClient[web.Request, web.Application]
    legacy: Analyses
    app: Analyses
    sink: ListSink
    proxy_app: web.Application
    registry: CollectorRegistry

    async def idle(self) -> None:
        await self.proxy_app[CONTEXT].tasks.idle()

    def metric(self, name: str, **labels: str) -> float:
        return metric(self.registry, name, **labels)

    def outcomes(self, route: str) -> list[tuple[Outcome, str | None]]:
        return [(c.outcome, c.reason) for c in self.sink.comparisons if c.exchange.route == route]

    async def start(self, ticker: str) -> str:
        answer = await self.client.post("/api/analysis/start", json={"ticker": ticker})
        assert answer.status == 200
        task_id: str = (await answer.json())["task_id"]
        return task_id


async def stack(
    aiohttp_server: ServerFactory,
    aiohttp_client: ClientFactory,
    root: Path,
    legacy: Analyses,
    app: Analyses,
    inflight: int,
) -> Stack:
    servers = [await aiohttp_server(side.app()) for side in (legacy, app)]
    legacy_url, app_url = (str(s.make_url("")).rstrip("/") for s in servers)
    env = {"SHADOWPROXY_MAX_INFLIGHT_SHADOWS": str(inflight), "SHADOWPROXY_LOG_MATCHES": "1"}
    built = build_proxy(proxy_settings(legacy_url, app_url, root, env))
    client = await aiohttp_client(await aiohttp_server(built.app))
    return Stack(client, legacy, app, built.sink, built.app, built.registry)


def counted(comparisons: list[Comparison], outcome: Outcome) -> int:
    return sum(1 for c in comparisons if c.outcome is outcome)


async def test_writes_use_the_reserve_while_reads_are_shed(
    aiohttp_server: ServerFactory, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    legacy = Analyses(Side.LEGACY)
    app = Analyses(Side.APP, start_delay_s=0.3, read_delay_s=1.5)
    proxy = await stack(aiohttp_server, aiohttp_client, tmp_path, legacy, app, inflight=2)
    first = await proxy.start("AAPL")
    await proxy.idle()
    polls = [proxy.client.get(f"/api/analysis/status/{first}") for _ in range(2)]
    assert all(r.status == 200 for r in await asyncio.gather(*polls))  # both slots taken
    starts = await asyncio.gather(*(proxy.start(t) for t in ("MSFT", "NVDA")))
    shed = await proxy.client.get(f"/api/analysis/status/{first}")  # a read over the bound
    assert shed.status == 200
    await proxy.idle()

    assert sorted(app.started.values()) == ["AAPL", "MSFT", "NVDA"]  # no start was shed
    assert proxy.metric("shadowproxy_shadow_skipped_total", route_group="analysis",
                        reason="queue_full") == 1  # fmt: skip
    app.read_delay_s = 0.0
    for task_id in (first, *starts):
        assert (await proxy.client.get(f"/api/analysis/status/{task_id}")).status == 200
    assert (await proxy.client.get(TASKS)).status == 200
    await proxy.idle()
    assert proxy.outcomes(TASKS) == [(Outcome.MATCH, None)]
    assert counted(proxy.sink.comparisons, Outcome.MISMATCH) == 0


async def test_writes_the_proxy_could_not_shadow_are_its_own_divergence(
    aiohttp_server: ServerFactory, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    legacy = Analyses(Side.LEGACY)
    app = Analyses(Side.APP, start_delay_s=2.0)
    proxy = await stack(aiohttp_server, aiohttp_client, tmp_path, legacy, app, inflight=1)
    tickers = [f"T{n:02d}" for n in range(12)]
    task_ids = await asyncio.gather(*(proxy.start(ticker) for ticker in tickers))  # a burst
    await proxy.idle()
    shadowed = {legacy_id for legacy_id, ticker in zip(task_ids, tickers, strict=True)
                if ticker in app.started.values()}  # fmt: skip
    assert len(shadowed) == 2  # one slot and its reserve of one
    not_shadowed = set(task_ids) - shadowed
    assert proxy.metric("shadowproxy_shadow_skipped_total", route_group="analysis",
                        reason="write_not_shadowed") == 10  # fmt: skip
    recorded = [c for c in proxy.sink.comparisons if c.reason == "write_not_shadowed"]
    assert len(recorded) == 10  # each is a record of the divergence the proxy caused

    for task_id in task_ids:
        assert (await proxy.client.get(f"/api/analysis/status/{task_id}")).status == 200
    assert (await proxy.client.get(TASKS)).status == 200
    await proxy.idle()
    polls = {c.exchange.path.rsplit("/", 1)[1]: (c.outcome, c.reason)
             for c in proxy.sink.comparisons if c.exchange.route == STATUS}  # fmt: skip
    assert {polls[t] for t in not_shadowed} == {(Outcome.SKIPPED, "state_diverged")}
    assert {polls[t][0] for t in shadowed} <= {Outcome.MATCH, Outcome.ACCEPTED}
    assert proxy.outcomes(TASKS) == [(Outcome.SKIPPED, "state_diverged")]
    assert counted(proxy.sink.comparisons, Outcome.MISMATCH) == 0
    assert proxy.metric("shadowproxy_shadow_skipped_total", route_group="analysis",
                        reason="uncorrelated") == 0  # fmt: skip

    # a real difference in a flow both sides have is still a backend's mismatch
    [both] = [t for t in tickers if t in app.started.values()][:1]
    app.decisions[both] = "SELL"
    assert (await proxy.client.get(TASKS)).status == 200
    await proxy.idle()
    outcome, _ = proxy.outcomes(TASKS)[-1]
    assert outcome is Outcome.MISMATCH
    last: Any = proxy.sink.comparisons[-1]
    assert any(d.field.endswith(".decision") for d in last.differences)
