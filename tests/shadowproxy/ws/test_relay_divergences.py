"""Each divergence between the two sides' websocket streams gets the right outcome and field.

Fake websocket backends (real aiohttp servers) play the two sides; the real proxy with the real
relay sits in front; the client is a real aiohttp websocket client.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from aiohttp import web

from shadowproxy.types import Comparison, DiffKind, Outcome, Side

from ..factories import ServerFactory
from ..ws_fakes import (
    DAY,
    WsFake,
    WsProxy,
    answers,
    app_run,
    legacy_run,
    sends,
    start_fakes,
    start_proxy,
)

TASK = "AAPL_20260413_120000_aaaaaa"
APP_TASK = "AAPL_20260413_120000_bbbbbb"


async def watch(
    proxy: WsProxy, *, until_terminal: bool = True, count: int | None = None
) -> list[str]:
    """Watch the analysis through the proxy; returns the frames, keeps the socket open till the
    comparison is published."""
    frames: list[str] = []
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(proxy.url(f"/ws/analysis/{TASK}")) as ws,
    ):
        async for message in ws:
            frames.append(message.data)
            if until_terminal and '"completed"' in message.data:
                break
            if count is not None and len(frames) >= count:
                break
        await proxy.sink.wait_for(1)
    return frames


async def analysis_proxy(
    aiohttp_server: ServerFactory, tmp_path: Path, legacy: list[str], app: list[str], **env: str
) -> WsProxy:
    fakes = await start_fakes(aiohttp_server, sends(legacy), sends(app))
    proxy = await start_proxy(aiohttp_server, fakes[0].url, fakes[1].url, tmp_path, env)
    proxy.ctx.correlation.learn(TASK, APP_TASK)
    return proxy


def only(proxy: WsProxy) -> Comparison:
    [comparison] = proxy.sink.comparisons
    return comparison


async def test_same_runs_match_at_the_terminal_state(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    proxy = await analysis_proxy(aiohttp_server, tmp_path, legacy_run(TASK), app_run(APP_TASK))
    frames = await watch(proxy)
    assert frames == legacy_run(TASK)
    comparison = only(proxy)
    assert comparison.outcome is Outcome.MATCH, comparison
    assert comparison.frames == {"legacy": 6, "app": 6}
    assert comparison.task_id == TASK


async def test_a_changed_decision_is_a_mismatch_on_decision(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    proxy = await analysis_proxy(
        aiohttp_server, tmp_path, legacy_run(TASK), app_run(APP_TASK, decision="SELL")
    )
    await watch(proxy)
    comparison = only(proxy)
    assert comparison.outcome is Outcome.MISMATCH
    assert [d.field for d in comparison.differences] == ["decision"]
    assert (comparison.differences[0].legacy, comparison.differences[0].app) == ("BUY", "SELL")


async def test_a_stage_going_backwards_is_a_finding_on_that_side(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    app = app_run(APP_TASK)
    backwards = [app[0], app[1], app[0], *app[2:]]  # analysts, research, analysts, trading…
    proxy = await analysis_proxy(aiohttp_server, tmp_path, legacy_run(TASK), backwards)
    await watch(proxy)
    comparison = only(proxy)
    assert comparison.outcome is Outcome.MISMATCH
    [finding] = comparison.differences
    assert finding.field == "stage_sequence"
    assert finding.kind is DiffKind.REORDERED
    assert comparison.reason is not None
    assert "app stage went backwards: running research 40 -> running analysts 20" in (
        comparison.reason
    )


async def test_a_missing_terminal_frame_is_a_mismatch_after_the_settle_timeout(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    proxy = await analysis_proxy(
        aiohttp_server,
        tmp_path,
        legacy_run(TASK),
        app_run(APP_TASK)[:-1],
        SHADOWPROXY_WS_SETTLE_S="0.3",
    )
    await watch(proxy)
    comparison = only(proxy)
    assert comparison.outcome is Outcome.MISMATCH
    [finding] = comparison.differences
    assert (finding.field, finding.kind) == ("terminal", DiffKind.MISSING)
    assert (finding.legacy, finding.app) == ("completed", "running")


async def test_a_shadow_that_closes_early_is_a_mismatch_on_close_and_terminal(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    fakes = await start_fakes(
        aiohttp_server,
        sends(legacy_run(TASK), gap_s=0.05),
        sends(app_run(APP_TASK)[:2], then="close"),
    )
    proxy = await start_proxy(aiohttp_server, fakes[0].url, fakes[1].url, tmp_path)
    proxy.ctx.correlation.learn(TASK, APP_TASK)
    frames = await watch(proxy)
    assert frames == legacy_run(TASK)  # the client never noticed
    comparison = only(proxy)
    assert comparison.outcome is Outcome.MISMATCH
    fields = {d.field: (d.legacy, d.app) for d in comparison.differences}
    assert fields == {"close_code": (None, 1000), "terminal": ("completed", "running")}


async def test_a_shadow_that_never_answers_the_upgrade_is_a_shadow_error(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    async def never(ws: web.WebSocketResponse, request: web.Request) -> None:
        raise AssertionError("unreachable")

    legacy = WsFake(Side.LEGACY, sends(legacy_run(TASK)))
    legacy.server = await aiohttp_server(legacy.app())
    hung = web.Application()

    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    hung.router.add_get("/{tail:.*}", hang)
    hung_server = await aiohttp_server(hung)
    proxy = await start_proxy(
        aiohttp_server,
        legacy.url,
        str(hung_server.make_url("")).rstrip("/"),
        tmp_path,
        {"SHADOWPROXY_SHADOW_TIMEOUT_S": "0.3"},
    )
    proxy.ctx.correlation.learn(TASK, APP_TASK)
    frames = await watch(proxy)
    assert frames == legacy_run(TASK)
    comparison = only(proxy)
    assert comparison.outcome is Outcome.SHADOW_ERROR
    assert comparison.reason == "shadow app: timed out"
    assert proxy.connections("ws_analysis", "app", "failed") == 1


async def test_an_authoritative_stall_while_the_shadow_progresses_is_progress_stalled(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    fakes = await start_fakes(
        aiohttp_server,
        sends(legacy_run(TASK)[:1], then="hang"),
        sends(app_run(APP_TASK), gap_s=0.1),
    )
    proxy = await start_proxy(
        aiohttp_server,
        fakes[0].url,
        fakes[1].url,
        tmp_path,
        {"SHADOWPROXY_WS_STALL_S": "0.3", "SHADOWPROXY_WS_SETTLE_S": "30"},
    )
    proxy.ctx.correlation.learn(TASK, APP_TASK)
    frames = await watch(proxy, until_terminal=False, count=1)
    assert len(frames) == 1
    comparison = only(proxy)
    assert comparison.outcome is Outcome.MISMATCH
    [finding] = comparison.differences
    assert finding.field == "progress_stalled"
    assert finding.legacy == "running analysts 20"
    assert comparison.reason == "authoritative legacy sent nothing for 0.3s while app progressed"


async def test_a_task_the_shadow_side_does_not_know_is_skipped_uncorrelated(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    fakes = await start_fakes(aiohttp_server, sends(legacy_run(TASK)), sends(app_run(APP_TASK)))
    env = {"SHADOWPROXY_SHADOW_TIMEOUT_S": "0.2"}
    proxy = await start_proxy(aiohttp_server, fakes[0].url, fakes[1].url, tmp_path, env)
    frames = await watch(proxy)  # no correlation learned for TASK
    assert frames == legacy_run(TASK)
    assert only(proxy).outcome is Outcome.SKIPPED
    assert only(proxy).reason == "uncorrelated"
    assert fakes[1].paths == []


# ---------------------------------------------------------------------- /ws/orchestrator


async def ask(proxy: WsProxy, *requests: dict[str, object]) -> list[object]:
    replies: list[object] = []
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(proxy.url("/ws/orchestrator")) as ws,
    ):
        for request in requests:
            await ws.send_json(request)
            replies.append(await ws.receive_json())
        await proxy.sink.wait_for(len(requests))
    return replies


async def test_orchestrator_replies_are_paired_per_request_and_match(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    fakes = await start_fakes(aiohttp_server, answers(Side.LEGACY), answers(Side.APP))
    proxy = await start_proxy(aiohttp_server, fakes[0].url, fakes[1].url, tmp_path)
    replies = await ask(proxy, {"tickers": ["AAPL", "MSFT"], "date": DAY}, {"tickers": ["NVDA"]})
    assert [len(reply["signals"]) for reply in replies] == [2, 1]  # type: ignore[index]
    assert [c.outcome for c in proxy.sink.comparisons] == [Outcome.MATCH, Outcome.MATCH]
    assert [c.frames for c in proxy.sink.comparisons] == [{"legacy": 1, "app": 1}] * 2
    assert proxy.sink.comparisons[0].ticker == "AAPL"


async def test_reordered_signals_are_a_mismatch_on_the_order(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    fakes = await start_fakes(aiohttp_server, answers(Side.LEGACY), answers(Side.APP, reverse=True))
    proxy = await start_proxy(aiohttp_server, fakes[0].url, fakes[1].url, tmp_path)
    await ask(proxy, {"tickers": ["AAPL", "MSFT"], "date": DAY})
    [comparison] = proxy.sink.comparisons
    assert comparison.outcome is Outcome.MISMATCH
    found = {d.field: (d.kind, d.legacy, d.app) for d in comparison.differences}
    order = [f"AAPL:{DAY}", f"MSFT:{DAY}"]
    assert found == {
        "signals.order": (DiffKind.REORDERED, order, order[::-1]),
        "signals.request_order": (DiffKind.REORDERED, ["AAPL", "MSFT"], ["MSFT", "AAPL"]),
    }
    assert comparison.reason == "signals not in request order (AAPL, MSFT) on app"


async def test_a_shadow_that_never_replies_is_a_missing_reply_after_settling(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    fakes = await start_fakes(aiohttp_server, answers(Side.LEGACY), answers(Side.APP, silent=True))
    proxy = await start_proxy(
        aiohttp_server, fakes[0].url, fakes[1].url, tmp_path, {"SHADOWPROXY_WS_SETTLE_S": "0.2"}
    )
    await ask(proxy, {"tickers": ["AAPL"], "date": DAY})
    [comparison] = proxy.sink.comparisons
    assert comparison.outcome is Outcome.MISMATCH
    [finding] = comparison.differences
    assert (finding.field, finding.kind, finding.app) == ("reply", DiffKind.MISSING, None)
    assert comparison.frames == {"legacy": 1, "app": 0}
