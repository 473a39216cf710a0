"""Backends that answer fixed documents, shaped like the two real ones, and the documents.

`ShapeBackend` is a real aiohttp server on the far side of the boundary: each side mints its own
task id on `POST /api/analysis/start` (so the proxy's correlation pairs them), answers a fixed
document per path, and on `/ws/analysis/{id}` sends fixed frames, then closes once the client
leaves (a second at most).
The documents restate the shapes of the legacy backend and of the v1alpha1 app service
(docs/upstream-contract.md, docs/consumers.md).
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from shadowproxy.types import Comparison, JSONValue, Side
from shadowproxy.ws.relay import WsRelay

from ..factories import ListSink, ServerFactory, build_proxy, metric, proxy_settings

STAGES = ("analysts", "research", "trading", "risk", "portfolio")
CREATED = "2026-04-13T12:00:00"


def legacy_status(status: str = "completed", **extra: Any) -> dict[str, JSONValue]:
    done = status == "completed"
    document: dict[str, JSONValue] = {
        "task_id": "T",
        "ticker": "AAPL",
        "date": "2026-04-13",
        "status": status,
        "progress": 100 if status != "running" else 40,
        "current_stage": "portfolio",
        "created_at": CREATED,
        "elapsed": 12,
        "stages": [{"status": "completed", "completed_at": CREATED} for _ in STAGES],
        "logs": [],
        "decision": "BUY" if done else None,
        "quant_signal": "BUY" if done else None,
        "llm_signal": "HOLD" if done else None,
        "confidence": 0.71 if done else None,
        "error": None,
    }
    document.update(extra)
    return document


def app_status(status: str = "degraded_success", **extra: Any) -> dict[str, JSONValue]:
    done = status in ("completed", "degraded_success")
    result: JSONValue = (
        {
            "decision": "BUY",
            "confidence": 0.71,
            "degraded": status == "degraded_success",
            "signals": {
                "merged": {"direction": 1, "rating": "BUY"},
                "quant": {"direction": 1, "rating": "BUY", "available": True},
                "llm": {"direction": 0, "rating": "HOLD", "available": True},
            },
            "report": {"available": True, "path": "results/AAPL/2026-04-13/report.md"},
        }
        if done
        else None
    )
    document: dict[str, JSONValue] = {
        "contract_version": "v1alpha1",
        "task_id": "T",
        "request_id": "T",
        "executor_type": "legacy_subprocess",
        "result_ref": None,
        "status": status,
        "created_at": CREATED,
        "degradation_summary": {
            "degraded": True,
            "reason_codes": ["quant_backtest_missing"],
            "report_available": True,
        },
        "data_quality_summary": None,
        "error": None,
        "ticker": "AAPL",
        "date": "2026-04-13",
        "progress": 100 if done else 40,
        "current_stage": "portfolio",
        "elapsed_seconds": 12,
        "stages": [
            {"name": name, "status": "completed", "completed_at": CREATED} for name in STAGES
        ],
        "result": result,
    }
    if done:
        document["compat"] = {
            "decision": "BUY",
            "quant_signal": "BUY",
            "llm_signal": "HOLD",
            "confidence": 0.71,
        }
    document.update(extra)
    return document


def legacy_task(status: str = "completed", **extra: Any) -> dict[str, JSONValue]:
    row: dict[str, JSONValue] = {
        "task_id": "T",
        "ticker": "AAPL",
        "date": "2026-04-13",
        "status": status,
        "progress": 100,
        "decision": "BUY" if status == "completed" else None,
        "error": "用户取消" if status == "failed" else None,
        "created_at": CREATED,
    }
    row.update(extra)
    return row


def app_task(status: str = "degraded_success", **extra: Any) -> dict[str, JSONValue]:
    finished = status in ("completed", "degraded_success")
    row: dict[str, JSONValue] = {
        "task_id": "T",
        "contract_version": "v1alpha1",
        "request_id": "T",
        "executor_type": "legacy_subprocess",
        "result_ref": None,
        "status": status,
        "created_at": CREATED,
        "error": None
        if finished
        else {"code": "cancelled", "message": "用户取消", "retryable": False},
        "data_quality_summary": None,
        "degradation_summary": None,
        "ticker": "AAPL",
        "date": "2026-04-13",
        "progress": 100,
        "current_stage": "portfolio",
        "summary": {"decision": "BUY" if finished else None, "confidence": None, "degraded": True},
    }
    if finished:
        row["compat"] = {"decision": "BUY", "confidence": 0.71}
    row.update(extra)
    return row


def legacy_recommendation() -> dict[str, JSONValue]:
    return {
        "ticker": "AAPL",
        "name": "Apple",
        "analysis_date": "2026-04-13",
        "decision": "BUY",
        "quant_signal": "BUY",
        "llm_signal": "HOLD",
        "confidence": 0.71,
        "created_at": CREATED,
    }


def app_recommendation() -> dict[str, JSONValue]:
    return {
        "contract_version": "v1alpha1",
        "ticker": "AAPL",
        "name": "Apple",
        "date": "2026-04-13",
        "status": "degraded_success",
        "created_at": CREATED,
        "result": {"decision": "BUY", "confidence": 0.71, "degraded": True},
        "compat": {"analysis_date": "2026-04-13", "decision": "BUY", "confidence": 0.71},
        "degradation": {"degraded": True, "reason_codes": [], "report_available": False},
        "data_quality": None,
    }


@dataclass
class ShapeBackend:
    side: Side
    documents: dict[tuple[str, str], JSONValue] = field(default_factory=dict)
    frames: list[JSONValue] = field(default_factory=list)
    started: int = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/analysis/start", self._start)
        app.router.add_get("/ws/analysis/{task_id}", self._socket)
        app.router.add_route("*", "/{tail:.*}", self._document)
        return app

    async def _start(self, _: web.Request) -> web.Response:
        self.started += 1
        return web.json_response(
            {"task_id": f"{self.side.value}-{self.started}", "status": "running"}
        )

    async def _document(self, request: web.Request) -> web.Response:
        path = request.path
        if path.startswith("/api/analysis/status/"):
            path = "/api/analysis/status/{task_id}"
        document = copy.deepcopy(self.documents.get((request.method, path)))
        if document is None:
            return web.json_response({"detail": "Not Found"}, status=404)
        return web.json_response(document)

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        for frame in self.frames:
            await ws.send_json(frame)
        with suppress(TimeoutError):  # until the client leaves, at most a second
            await ws.receive(timeout=1.0)
        await ws.close()
        return ws


@dataclass(frozen=True)
class Served:
    url: str
    admin: str
    sink: ListSink
    metric: Callable[..., float]


@asynccontextmanager
async def serve(
    tmp_path: Path,
    aiohttp_server: ServerFactory,
    legacy: ShapeBackend,
    app: ShapeBackend,
    env: Mapping[str, str] | None = None,
) -> AsyncIterator[Served]:
    servers = [await aiohttp_server(backend.app()) for backend in (legacy, app)]
    urls = [str(server.make_url("")).rstrip("/") for server in servers]
    settings = proxy_settings(urls[0], urls[1], tmp_path, dict(env or {}))
    built = build_proxy(settings, ws_handler=WsRelay())
    proxy = await aiohttp_server(built.app)
    admin = await aiohttp_server(built.admin)
    try:
        yield Served(
            str(proxy.make_url("")).rstrip("/"),
            str(admin.make_url("")).rstrip("/"),
            built.sink,
            lambda name, **labels: metric(built.registry, name, **labels),
        )
    finally:  # the proxy's own shutdown (drain, save the learned shapes) before the test goes on
        await admin.close()
        await proxy.close()


async def read(served: Served, method: str, path: str, *, start: bool = False) -> Comparison:
    async with aiohttp.ClientSession() as session:
        if start:
            async with session.post(f"{served.url}/api/analysis/start", json={"ticker": "AAPL"}):
                pass
            await served.sink.wait_for(1)
        async with session.request(method, f"{served.url}{path}") as response:
            assert response.status == 200
    comparisons = await served.sink.wait_for(2 if start else 1)
    return comparisons[-1]
