"""Sampling never splits an analysis flow between its HTTP calls and its websocket.

With SHADOWPROXY_SAMPLE_RATE_ANALYSIS=0.3 the decision is made once per flow, at its start
(rollback/sampling.py), and the analysis websocket (`/ws/analysis/{task_id}`, route group
`ws_analysis`, rate SHADOWPROXY_SAMPLE_RATE_WS_ANALYSIS) must follow it whatever its own group's
rate: an analysis whose start reached the shadow gets exactly one shadow websocket, on the app's
twin id, and one websocket comparison, a match counting both sides' frames; a sampled-out one
gets no shadow websocket, and its websocket is counted as a `sampled_out` skip of `ws_analysis`.
No comparison is an `uncorrelated` skip. Each client watches its analysis right after the start
is answered, as a dashboard does: either once the start's shadow is done (`paired`), or while
it is still in flight (`in_flight`: the app answers a start only once the client received that
analysis's first frame, so the websocket is decided before the pair is known; causal, untimed).
The `in_flight` cases with a ws_analysis rate of its own below 1 split the flow before the fix
(its websocket was decided by the task id's hash at the ws_analysis rate): a flow neither paired
nor sampled out yet is now decided once its twin is resolved (ShadowDispatcher.unresolved).

Real proxy with the real relay; fake backends (real aiohttp servers on port 0) answer the start
and stream ws_fakes.py's progress frames; the client is a real aiohttp client.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from shadowproxy.rollback.sampling import sampled
from shadowproxy.types import ExchangeKind, Outcome, Side

from ..factories import ServerFactory
from ..ws_fakes import DAY, WsFake, WsProxy, app_run, legacy_run, sends, start_proxy

ANALYSES = 120
RATE = 0.3
FRAMES = len(legacy_run("any"))  # progress frames per run, on each side
Watching = defaultdict[int, asyncio.Event]  # set once the client received analysis n's frame


def task_id(side: Side, n: int) -> str:
    """The id `side` mints for the n-th analysis (each side its own, as the real ones do)."""
    return f"AAPL_20260413_120000_{side.value}{n:04d}"


def ws_path(side: Side, n: int) -> str:
    return f"/ws/analysis/{task_id(side, n)}"


def request_id(n: int) -> str:
    return f"start-{n}"


@dataclass
class Dashboard:
    """One side: a websocket fake streaming a run per `/ws/analysis/{id}`, and a start route
    that answers analysis n once `hold[n]` is set, when given."""

    side: Side
    hold: Watching | None = None
    fake: WsFake = field(init=False)
    starts: list[int] = field(default_factory=list)  # the analyses whose start it was sent

    def __post_init__(self) -> None:
        run = legacy_run if self.side is Side.LEGACY else app_run

        async def stream(ws: web.WebSocketResponse, request: web.Request) -> None:
            await sends(run(request.path.rsplit("/", 1)[-1]))(ws, request)

        self.fake = WsFake(self.side, stream)

    def app(self) -> web.Application:
        app = self.fake.app()
        app.router.add_post("/api/analysis/start", self._start)
        return app

    async def _start(self, request: web.Request) -> web.Response:
        n = int((await request.json())["n"])
        self.starts.append(n)
        if self.hold is not None:
            async with asyncio.timeout(10):
                await self.hold[n].wait()
        accepted = {"task_id": task_id(self.side, n), "ticker": "AAPL", "date": DAY}
        return web.json_response(accepted | {"status": "running"})


async def _analyse(
    session: aiohttp.ClientSession, proxy: WsProxy, n: int, watching: Watching, *, paired: bool
) -> list[str]:
    """Start analysis n, watch it through the proxy until its last frame, close."""
    started = await session.post(
        proxy.url("/api/analysis/start"),
        json={"ticker": "AAPL", "date": DAY, "n": n},
        headers={"X-Request-ID": request_id(n)},
    )
    assert started.status == 200
    task = (await started.json())["task_id"]
    assert task == task_id(Side.LEGACY, n)  # the client only ever holds the legacy id
    if paired:  # the start's shadow is done: its ids are paired, or it was sampled out
        await proxy.ctx.tasks.idle()
    frames: list[str] = []
    async with session.ws_connect(proxy.url(f"/ws/analysis/{task}")) as ws:
        async for message in ws:
            assert message.type is aiohttp.WSMsgType.TEXT, message
            frames.append(message.data)
            watching[n].set()
            if len(frames) == FRAMES:
                break
    return frames


@pytest.mark.parametrize("when", ["paired", "in_flight"])
@pytest.mark.parametrize("ws_rate", [None, "0.3", "0"], ids=["ws-default", "ws-0.3", "ws-0"])
async def test_an_analysis_websocket_follows_its_flows_sampling_decision(
    aiohttp_server: ServerFactory,
    tmp_path: Path,
    ws_rate: str | None,
    when: str,
) -> None:
    paired = when == "paired"
    env = {"SHADOWPROXY_SAMPLE_RATE_ANALYSIS": str(RATE), "SHADOWPROXY_WS_SETTLE_S": "5"}
    if ws_rate is not None:
        env["SHADOWPROXY_SAMPLE_RATE_WS_ANALYSIS"] = ws_rate
    watching: Watching = defaultdict(asyncio.Event)
    legacy, app = Dashboard(Side.LEGACY), Dashboard(Side.APP, hold=None if paired else watching)
    for side in (legacy, app):
        side.fake.server = await aiohttp_server(side.app())
    proxy = await start_proxy(aiohttp_server, legacy.fake.url, app.fake.url, tmp_path, env)
    async with aiohttp.ClientSession() as session:
        for n in range(ANALYSES):
            frames = await _analyse(session, proxy, n, watching, paired=paired)
            assert frames == legacy_run(task_id(Side.LEGACY, n))  # the authoritative side's
    await proxy.ctx.tasks.idle()  # every shadow and every websocket comparison has finished

    shadowed = set(app.starts)
    assert len(app.starts) == len(shadowed)  # one shadow start per analysis at most
    assert legacy.starts == list(range(ANALYSES))
    # decided once per flow, by its key's hash: a start's key is its own request id
    assert shadowed == {n for n in range(ANALYSES) if sampled(request_id(n), RATE)}
    assert 0.15 * ANALYSES < len(shadowed) < 0.45 * ANALYSES
    sampled_out = ANALYSES - len(shadowed)

    # the authoritative side got every websocket; the shadow exactly those of the sampled flows,
    # once each, on the app's own id: none of a sampled-out flow, none on the legacy id
    assert legacy.fake.paths == [ws_path(Side.LEGACY, n) for n in range(ANALYSES)]
    assert sorted(app.fake.paths) == sorted(ws_path(Side.APP, n) for n in shadowed)

    reasons = {c.reason for c in proxy.sink.comparisons if c.outcome is Outcome.SKIPPED}
    assert "uncorrelated" not in reasons, reasons
    assert "state_diverged" not in reasons, reasons
    # one websocket comparison per shadowed flow (none of another), compared, not skipped
    sockets = [c for c in proxy.sink.comparisons if c.exchange.kind is ExchangeKind.WS]
    watched = sorted(c.exchange.path for c in sockets)
    assert watched == sorted(ws_path(Side.LEGACY, n) for n in shadowed)
    for comparison in sockets:
        assert comparison.exchange.route == "/ws/analysis/{task_id}"
        assert comparison.outcome is Outcome.MATCH, comparison
        assert comparison.task_id == comparison.exchange.path.rsplit("/", 1)[-1]
        assert comparison.frames == {"legacy": FRAMES, "app": FRAMES}

    def skipped(group: str, reason: str) -> float:
        labels = {"route_group": group, "reason": reason}
        return proxy.metric("shadowproxy_shadow_skipped_total", **labels)

    assert skipped("ws_analysis", "sampled_out") == sampled_out
    assert skipped("analysis", "sampled_out") == sampled_out  # the starts, nothing else
    assert skipped("ws_analysis", "uncorrelated") == 0
    assert proxy.connections("ws_analysis", "app", "connected") == len(shadowed)
    assert proxy.connections("ws_analysis", "legacy", "connected") == ANALYSES
