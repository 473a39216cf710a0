"""Fake TradingAgents dashboards behind the real proxy, for the divergence and rollback tests.

Two fake sides (real aiohttp servers on port 0) answer the TradingAgents routes in their own
shapes — legacy raw state, app v1alpha1 projection — with whatever status document a test hands
them. `start_stack` puts the proxy under test (`factories.build_proxy`) in front, with the real
diff-log sink (`JsonlDiffSink` under `tmp_path`) and its registry, so tests read what an operator
would read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from shadowproxy.difflog.sink import JsonlDiffSink
from shadowproxy.http.context import CONTEXT
from shadowproxy.types import Side

from .factories import ClientFactory, ServerFactory, build_proxy, metric, proxy_settings

DATE = "2026-04-13"
STAGES = ("analysts", "research", "trading", "risk", "portfolio")
STATUS_ROUTE = "/api/analysis/status/{task_id}"
TASKS_ROUTE = "/api/analysis/tasks"
Document = dict[str, Any]


def legacy_status(
    task_id: str, *, status: str = "completed", error: str | None = None, **result: Any
) -> Document:
    """The raw legacy state of a finished analysis (no results if it failed).

    See docs/upstream-contract.md §2.1.
    """
    done = status == "completed"
    return {
        "task_id": task_id,
        "ticker": "AAPL",
        "date": DATE,
        "status": status,
        "progress": 100,
        "current_stage": "portfolio",
        "created_at": "2026-04-13T12:00:00.000001",
        "elapsed": 0,
        "stages": [{"status": "completed", "completed_at": "12:00:03"} for _ in STAGES],
        "logs": [],
        "decision": result.get("decision", "OVERWEIGHT") if done else None,
        "quant_signal": "HOLD" if done else None,
        "llm_signal": "BUY" if done else None,
        "confidence": result.get("confidence", 0.63) if done else None,
        "error": error,
    }


def app_status(
    task_id: str, *, status: str = "degraded_success", error: Any = None, **result: Any
) -> Document:
    """The app's public projection of the same analysis (docs/upstream-contract.md §2.5)."""
    signals = {
        "merged": {"direction": 1, "rating": result.get("decision", "OVERWEIGHT")},
        "quant": {"direction": 0, "rating": "HOLD", "available": True},
        "llm": {"direction": 1, "rating": "BUY", "available": True},
    }
    return {
        "contract_version": "v1alpha1",
        "task_id": task_id,
        "request_id": "3f2c8d0e9a7b4c1d8e2f3a4b5c6d7e9f",
        "executor_type": "legacy_subprocess",
        "result_ref": f"results/{task_id}/result.v1alpha1.json",
        "status": status,
        "created_at": "2026-04-13T12:00:00.412345",
        "degradation_summary": {"degraded": True, "reason_codes": ["quant_not_configured"]},
        "data_quality_summary": None,
        "error": error,
        "ticker": "AAPL",
        "date": DATE,
        "progress": 100,
        "current_stage": "portfolio",
        "elapsed_seconds": 3,
        "stages": [{"name": n, "status": "completed", "completed_at": "12:00:03"} for n in STAGES],
        "result": None
        if error is not None
        else {
            "decision": result.get("decision", "OVERWEIGHT"),
            "confidence": result.get("confidence", 0.63),
            "signals": signals,
            "degraded": True,
            "report": {"available": True},
        },
    }


def list_item(task_id: str, ticker: str, side: Side) -> Document:
    """One finished analysis in the task list, in each side's shape.

    See docs/upstream-contract.md §1.2, route 8.
    """
    if side is Side.LEGACY:
        return {"task_id": task_id, "ticker": ticker, "date": DATE, "status": "completed"} | {
            "progress": 100,
            "decision": "OVERWEIGHT",
            "error": None,
            "created_at": "2026-04-13T12:00:00",
        }
    summary = {"decision": "OVERWEIGHT", "confidence": 0.63, "degraded": True}
    return {"task_id": task_id, "contract_version": "v1alpha1", "status": "degraded_success"} | {
        "error": None,
        "ticker": ticker,
        "date": DATE,
        "progress": 100,
        "current_stage": "portfolio",
        "summary": summary,
    }


@dataclass
class Dashboard:
    """One fake side. `status` builds the status document of a task id (None: 404)."""

    side: Side
    status: Callable[[str], Document | None]
    status_code: int = 200  # a non-200 answer to status reads, e.g. 500
    delay_s: float = 0.0  # before answering status reads
    reverse_list: bool = False  # list tasks in the other order
    served: list[bytes] = field(default_factory=list)  # the status bodies sent, in order
    server: TestServer | None = None

    def task_id(self, ticker: str) -> str:
        return f"{ticker}_20260413_120000_{'aaaaaa' if self.side is Side.LEGACY else 'bbbbbb'}"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/analysis/start", self._start)
        app.router.add_get("/api/analysis/status/{task_id}", self._status)
        app.router.add_get(TASKS_ROUTE, self._tasks)
        return app

    async def _start(self, request: web.Request) -> web.Response:
        ticker = (await request.json())["ticker"]
        accepted: Document = {"task_id": self.task_id(ticker), "ticker": ticker, "date": DATE}
        if self.side is Side.APP:
            accepted = {"contract_version": "v1alpha1", **accepted}
        return web.json_response(accepted | {"status": "running"})

    async def _status(self, request: web.Request) -> web.Response:
        await asyncio.sleep(self.delay_s)
        document = self.status(request.match_info["task_id"])
        if self.status_code != 200:
            body = b"Internal Server Error"
            response = web.Response(body=body, status=self.status_code, content_type="text/plain")
        elif document is None:
            body = orjson.dumps({"detail": "Task not found"})
            response = web.Response(body=body, status=404, content_type="application/json")
        else:
            body = orjson.dumps(document)
            response = web.Response(body=body, content_type="application/json")
        self.served.append(body)
        return response

    async def _tasks(self, _: web.Request) -> web.Response:
        items = [list_item(self.task_id(t), t, self.side) for t in ("AAPL", "MSFT")]
        tasks = items[::-1] if self.reverse_list else items
        listing: Document = {"tasks": tasks, "total": len(tasks)}
        if self.side is Side.APP:
            listing = {"contract_version": "v1alpha1", **listing}
        self.served.append(orjson.dumps(listing))
        return web.Response(body=self.served[-1], content_type="application/json")


@dataclass
class Stack:
    client: TestClient[web.Request, web.Application]
    legacy: Dashboard
    app: Dashboard
    registry: CollectorRegistry
    proxy_app: web.Application
    log_dir: Path

    def side(self, side: Side) -> Dashboard:
        return self.legacy if side is Side.LEGACY else self.app

    def metric(self, name: str, **labels: str) -> float:
        return metric(self.registry, name, **labels)

    async def records(self, count: int) -> list[Document]:
        """The diff-log lines, once `count` of them were written by the writer thread."""
        await self.proxy_app[CONTEXT].tasks.idle()
        async with asyncio.timeout(10):
            while True:
                lines = [
                    orjson.loads(line)
                    for path in sorted(self.log_dir.glob("diff-*.jsonl"))
                    for line in complete_lines(path.read_bytes())
                ]
                if len(lines) >= count:
                    return lines
                await asyncio.sleep(0.02)


def complete_lines(data: bytes) -> list[bytes]:
    """The lines the writer thread has finished: a line still being written has no newline yet."""
    return data[: data.rfind(b"\n") + 1].splitlines()


StackFactory = Callable[..., Awaitable[Stack]]
SHORT_TIMEOUT_S = 0.5  # the shadow timeout of the timeout case; the others keep the default


@pytest.fixture
def start_stack(
    aiohttp_server: ServerFactory, aiohttp_client: ClientFactory, tmp_path: Path
) -> StackFactory:
    async def start(legacy: Dashboard, app: Dashboard, authoritative: Side, **env: str) -> Stack:
        urls = []
        for fake in (legacy, app):
            fake.server = await aiohttp_server(fake.app())
            urls.append(str(fake.server.make_url("")).rstrip("/"))
        env = {
            "TA_APP_SERVICE_ENABLED": "1" if authoritative is Side.APP else "0",
            "SHADOWPROXY_LOG_MATCHES": "1",
            **env,
        }
        settings = proxy_settings(urls[0], urls[1], tmp_path, env, diff_log_dir="diff_logs")
        sink = JsonlDiffSink(
            settings.diff_log_dir,
            log_matches=settings.log_matches,
        )
        built = build_proxy(settings, sink=sink)
        client = await aiohttp_client(await aiohttp_server(built.app))
        return Stack(client, legacy, app, built.registry, built.app, settings.diff_log_dir)

    return start
