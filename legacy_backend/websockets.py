"""The two LEGACY websockets: per-task progress snapshots and the live orchestrator signals.

aiohttp cannot refuse a handshake with a close code, so an unauthorized client is accepted and
immediately closed with the upstream code (4001 / 4401) and nothing else sent. `/ws/analysis`
pushes full raw-state snapshots (see `Runtime.broadcast`) and never closes after the terminal
one; `/ws/orchestrator` answers each request with one `{"signals": [...]}` message.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import structlog
from aiohttp import WSCloseCode, WSMsgType, web

from legacy_backend.access import ws_authorized
from legacy_backend.errors import ApiError, dumps
from legacy_backend.kernel import KERNEL, Kernel
from legacy_backend.paths import has_traversal
from legacy_backend.state import RUNTIME
from orchestrator.orchestrator import TradingOrchestrator

log = structlog.get_logger("legacy_backend.websockets")

ANALYSIS_UNAUTHORIZED = 4001
ORCHESTRATOR_UNAUTHORIZED = 4401
PONG = dumps({"type": "pong"}).decode("utf-8")


async def _accept(request: web.Request) -> web.WebSocketResponse:
    """Upgrade, or 404 like Starlette when a plain HTTP request hits a websocket route."""
    ws = web.WebSocketResponse()
    if not ws.can_prepare(request).ok:
        raise ApiError(404, "Not Found")
    await ws.prepare(request)
    return ws


async def ws_analysis(request: web.Request) -> web.WebSocketResponse:
    ws = await _accept(request)
    if not ws_authorized(request):
        await ws.close(code=ANALYSIS_UNAUTHORIZED, message=b"Unauthorized")
        return ws
    runtime = request.app[RUNTIME]
    task_id = request.match_info["task_id"]
    runtime.subscribe(task_id, ws)
    try:
        state = runtime.task_results.get(task_id)
        if state is not None:
            await ws.send_str(dumps({"type": "progress", **state}).decode("utf-8"))
        async for message in ws:
            if message.type is not WSMsgType.TEXT:
                continue
            try:
                data = json.loads(message.data)
            except ValueError:
                # Upstream's handler raised here and the server closed with an error code.
                log.info("ws_analysis_bad_input", task_id=task_id)
                await ws.close(code=WSCloseCode.INTERNAL_ERROR, message=b"invalid JSON")
                break
            if isinstance(data, dict) and data.get("type") == "ping":
                await ws.send_str(PONG)
    except ConnectionError as exc:  # the client vanished mid-send; nothing left to answer
        log.info("ws_client_gone", task_id=task_id, error=repr(exc))
    finally:
        runtime.unsubscribe(task_id, ws)
    return ws


class _BadRequest(ValueError):
    """An orchestrator request the upstream handler would have raised on."""


def _parse_request(text: str) -> tuple[list[Any], str]:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise _BadRequest(f"'{type(data).__name__}' object has no attribute 'get'")
    tickers = data.get("tickers", [])
    if not isinstance(tickers, list):
        raise _BadRequest("tickers must be a list of ticker symbols")
    day = data.get("date") or datetime.now(UTC).strftime("%Y-%m-%d")
    if not isinstance(day, str) or has_traversal(day):
        raise _BadRequest("date must be a YYYY-MM-DD string")
    return tickers, day


async def _signals(
    kernel: Kernel, orchestrator: TradingOrchestrator, tickers: list[Any], day: str
) -> list[dict[str, Any]]:
    signals = []
    for ticker in tickers:
        if not isinstance(ticker, str) or ".." in ticker or "\\" in ticker:
            signals.append({"ticker": ticker, "date": day, "error": "invalid ticker symbol"})
            continue
        signals.append(await kernel.legacy_signal(orchestrator, ticker, day))
    return signals


async def ws_orchestrator(request: web.Request) -> web.WebSocketResponse:
    ws = await _accept(request)
    if not ws_authorized(request):
        await ws.close(code=ORCHESTRATOR_UNAUTHORIZED)
        return ws
    try:
        await _serve_signals(request.app[KERNEL], ws)
    except ConnectionError as exc:  # the client vanished mid-send; nothing left to answer
        log.info("ws_client_gone", route="orchestrator", error=repr(exc))
    return ws


async def _serve_signals(kernel: Kernel, ws: web.WebSocketResponse) -> None:
    try:
        orchestrator = await kernel.new_orchestrator()
    except Exception as exc:
        log.exception("orchestrator_setup_failed")
        await ws.send_str(dumps({"error": str(exc)}).decode("utf-8"))
        await ws.close()
        return
    async for message in ws:
        if message.type is not WSMsgType.TEXT:
            continue
        try:
            tickers, day = _parse_request(message.data)
        except ValueError as exc:
            await ws.send_str(dumps({"error": str(exc)}).decode("utf-8"))
            await ws.close()
            break
        signals = await _signals(kernel, orchestrator, tickers, day)
        await ws.send_str(dumps({"signals": signals}).decode("utf-8"))
