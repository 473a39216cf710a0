"""The two websockets: per-task progress and live orchestrator signals
(docs/upstream-contract.md §3 NEW).

aiohttp cannot refuse a handshake with a close code, so an unauthenticated client is accepted
and immediately closed with 4001/4401 and nothing else. The analysis socket never closes after
the terminal event (the client does); bad input ends only that client's handler.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import structlog
from aiohttp import WSMsgType, web

from app_service.persistence.task_files import is_safe_id
from app_service.transport.context import JOBS, LIVE, SETTINGS, key_matches
from app_service.transport.http import dumps_json

log = structlog.get_logger(__name__)
routes = web.RouteTableDef()

WS_CLOSE_UNAUTHORIZED_ANALYSIS = 4001
WS_CLOSE_UNAUTHORIZED_ORCHESTRATOR = 4401
WS_CLOSE_BAD_INPUT = 1011


async def _accept(request: web.Request, *, close_code: int, reason: bytes) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    if not key_matches(request.app[SETTINGS], request.query.get("api_key")):
        await ws.close(code=close_code, message=reason)
    return ws


@routes.get("/ws/analysis/{task_id}")
async def analysis_socket(request: web.Request) -> web.WebSocketResponse:
    ws = await _accept(request, close_code=WS_CLOSE_UNAUTHORIZED_ANALYSIS, reason=b"Unauthorized")
    if ws.closed:
        return ws
    task_id = request.match_info["task_id"]
    jobs = request.app[JOBS]
    queue = jobs.events.subscribe(task_id)
    try:
        state = await jobs.load(task_id) if is_safe_id(task_id) else None
        if state is not None:
            await ws.send_json(await jobs.progress_message(state), dumps=dumps_json)
        await asyncio.gather(_forward(ws, queue), _listen(ws, queue))
    finally:
        jobs.events.unsubscribe(task_id, queue)
    return ws


async def _forward(ws: web.WebSocketResponse, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
    """Send each progress snapshot until the listener says the client is gone."""
    while (message := await queue.get()) is not None:
        try:
            await ws.send_json(message, dumps=dumps_json)
        except ConnectionError:
            return


async def _listen(ws: web.WebSocketResponse, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            try:
                data = json.loads(msg.data)
            except ValueError:
                log.info("ws_bad_input", route="/ws/analysis/{task_id}")
                await ws.close(code=WS_CLOSE_BAD_INPUT, message=b"invalid JSON")
                return
            if isinstance(data, dict) and data.get("type") == "ping":
                await ws.send_json({"type": "pong"}, dumps=dumps_json)
    finally:
        queue.put_nowait(None)


@routes.get("/ws/orchestrator")
async def orchestrator_socket(request: web.Request) -> web.WebSocketResponse:
    ws = await _accept(request, close_code=WS_CLOSE_UNAUTHORIZED_ORCHESTRATOR, reason=b"")
    if ws.closed:
        return ws
    live = request.app[LIVE]
    async for msg in ws:
        if msg.type != WSMsgType.TEXT:
            continue
        try:
            data = json.loads(msg.data)
            tickers = data.get("tickers") or []
            if not isinstance(tickers, list):
                raise ValueError("tickers must be a list of ticker symbols")
            reply = await live.run_live_signals([str(t) for t in tickers], data.get("date"))
        except Exception as exc:
            await ws.send_json({"error": str(exc)}, dumps=dumps_json)
            await ws.close()
            break
        await ws.send_json(reply, dumps=dumps_json)
    return ws
