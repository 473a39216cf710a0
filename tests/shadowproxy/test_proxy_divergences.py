"""Each divergence class is caught through the real proxy, with the right outcome and field.

Two fake dashboards (real aiohttp servers on port 0) answer the TradingAgents routes in their
own shapes — legacy raw state, app v1alpha1 projection — and the shadow diverges on purpose. The
real proxy app sits in front with the real diff-log sink (`JsonlDiffSink` under `tmp_path`) and a
Prometheus registry; every assertion reads what an operator would read: the JSONL lines, the
`/metrics` samples, and the bytes the client received (always the authoritative side's, exactly).

Ids are correlated the real way: the client starts the analysis through the proxy, both sides
mint their own task id, and status reads are rewritten for the shadow.

The reordered live-signal list is a websocket divergence (`/ws/orchestrator`); it is caught
through the real proxy and relay in `test_ws_divergences.py`
(`test_reordered_signals_are_a_mismatch_on_the_order`). Its HTTP analogue here is a task list
in another order.
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

from shadowproxy.app import create_app
from shadowproxy.context import CONTEXT
from shadowproxy.difflog import JsonlDiffSink
from shadowproxy.settings import load_settings
from shadowproxy.types import Side

DATE = "2026-04-13"
STAGES = ("analysts", "research", "trading", "risk", "portfolio")
STATUS_ROUTE = "/api/analysis/status/{task_id}"
TASKS_ROUTE = "/api/analysis/tasks"
Document = dict[str, Any]


def legacy_status(
    task_id: str, *, status: str = "completed", error: str | None = None, **result: Any
) -> Document:
    """Reference §2.1: the raw legacy state of a finished analysis (no results if it failed)."""
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
    """Reference §2.5: the app's public projection of the same analysis."""
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
    """Reference §1.2 route 8: one finished analysis in the task list, in each side's shape."""
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
class Divergence:
    """What the shadow does differently, and what the operator must then see."""

    legacy: Callable[[str], Document | None]
    app: Callable[[str], Document | None]
    outcome: str
    fields: list[tuple[str, str]]  # (field, kind) of the record's differences, in order
    reason: str | None = None  # the record's `reason`, when it is not derived from the fields
    app_status_code: int = 200
    app_delay_s: float = 0.0  # > 0: the shadow answers after SHORT_TIMEOUT_S
    authoritative: Side = Side.LEGACY


def same(**result: Any) -> tuple[Callable[[str], Document], Callable[[str], Document]]:
    return (lambda t: legacy_status(t)), (lambda t: app_status(t, **result))


CASES = {
    "decision-changed": Divergence(
        *same(decision="UNDERWEIGHT"), "mismatch", [("decision", "changed")]
    ),
    "decision-changed-app-authoritative": Divergence(
        *same(decision="UNDERWEIGHT"),
        "mismatch",
        [("decision", "changed")],
        authoritative=Side.APP,
    ),
    "confidence-beyond-tolerance": Divergence(
        *same(confidence=0.64), "mismatch", [("confidence", "changed")]
    ),
    "confidence-within-tolerance": Divergence(*same(confidence=0.634), "match", []),
    "error-text-lost": Divergence(
        lambda t: legacy_status(
            t, status="failed", error="Traceback ...\nANALYSIS_ERROR:quant backtest failed\n"
        ),
        lambda t: app_status(
            t, status="failed", error={"code": "analysis_failed", "message": "", "retryable": False}
        ),
        "mismatch",
        [("error.message", "changed")],
    ),
    "status-vocabulary-changed": Divergence(
        lambda t: legacy_status(t),
        lambda t: app_status(t, status="succeeded"),
        "mismatch",
        [("status", "changed")],
    ),
    "missing-field": Divergence(
        lambda t: legacy_status(t),
        lambda t: {k: v for k, v in app_status(t).items() if k != "current_stage"},
        "mismatch",
        [("current_stage", "missing")],
    ),
    "shadow-500": Divergence(
        *same(), "shadow_error", [], reason="shadow app: HTTP 500", app_status_code=500
    ),
    "shadow-timeout": Divergence(
        *same(), "shadow_error", [], reason="shadow app: timed out", app_delay_s=3
    ),
    "404-for-a-task-the-other-side-has": Divergence(
        lambda t: legacy_status(t), lambda t: None, "mismatch", [("status_code", "changed")]
    ),
}


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
        return self.registry.get_sample_value(name, labels) or 0.0

    async def records(self, count: int) -> list[Document]:
        """The diff-log lines, once `count` of them were written by the writer thread."""
        await self.proxy_app[CONTEXT].tasks.idle()
        async with asyncio.timeout(10):
            while True:
                lines = [
                    orjson.loads(line)
                    for path in sorted(self.log_dir.glob("diff-*.jsonl"))
                    for line in path.read_bytes().splitlines()
                ]
                if len(lines) >= count:
                    return lines
                await asyncio.sleep(0.02)


StackFactory = Callable[..., Awaitable[Stack]]
SHORT_TIMEOUT_S = 0.5  # the shadow timeout of the timeout case; the others keep the default


@pytest.fixture
def start_stack(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    aiohttp_client: Callable[..., Awaitable[TestClient[web.Request, web.Application]]],
    tmp_path: Path,
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
        settings = load_settings(
            env,
            legacy_url=urls[0],
            app_url=urls[1],
            listen="127.0.0.1:0",
            admin="127.0.0.1:0",
            state_dir=tmp_path / "state",
            diff_log_dir=tmp_path / "diff_logs",
        )
        sink = JsonlDiffSink(
            settings.diff_log_dir,
            log_matches=settings.log_matches,
            known_differences=settings.config.known_differences,
        )
        registry = CollectorRegistry()
        proxy_app = create_app(settings, sink=sink, registry=registry)
        client = await aiohttp_client(await aiohttp_server(proxy_app))
        return Stack(client, legacy, app, registry, proxy_app, settings.diff_log_dir)

    return start


@pytest.mark.parametrize("case", [pytest.param(c, id=name) for name, c in CASES.items()])
async def test_a_status_divergence_is_caught_with_its_outcome_and_field(
    start_stack: StackFactory, case: Divergence
) -> None:
    legacy = Dashboard(Side.LEGACY, case.legacy)
    app = Dashboard(Side.APP, case.app, status_code=case.app_status_code, delay_s=case.app_delay_s)
    timed_out = case.app_delay_s > 0
    timeout = {"SHADOWPROXY_SHADOW_TIMEOUT_S": str(SHORT_TIMEOUT_S)} if timed_out else {}
    stack = await start_stack(legacy, app, case.authoritative, **timeout)
    started = await stack.client.post("/api/analysis/start", json={"ticker": "AAPL", "date": DATE})
    task_id = (await started.json())["task_id"]
    assert task_id == stack.side(case.authoritative).task_id("AAPL")

    response = await stack.client.get(f"/api/analysis/status/{task_id}")
    body = await response.read()
    authoritative = stack.side(case.authoritative)
    assert body == authoritative.served[-1], "the client gets the authoritative bytes"
    assert response.headers["X-Shadowproxy-Authoritative"] == case.authoritative.value

    start_record, record = await stack.records(2)
    assert start_record["outcome"] == "match"
    assert record["route"] == STATUS_ROUTE
    assert record["authoritative"] == case.authoritative.value
    assert record["task_id"] == legacy.task_id("AAPL")  # the legacy-side id names the analysis
    assert record["outcome"] == case.outcome, record
    assert [(d["field"], d["kind"]) for d in record["differences"]] == case.fields
    if case.reason is not None:
        assert record["reason"] == case.reason
    app_status = None if timed_out else case.app_status_code
    assert (record["app"]["status"], record["app"]["error"]) == (
        404 if case.app(task_id) is None else app_status,
        "timed out" if timed_out else None,
    )
    status_labels = {"route_group": "analysis", "route": STATUS_ROUTE}
    assert stack.metric("shadowproxy_comparisons_total", **status_labels, outcome=case.outcome) == 1
    for name, _ in case.fields:
        labels = {"route_group": "analysis", "field": name}
        assert stack.metric("shadowproxy_field_mismatches_total", **labels) == 1


@pytest.mark.parametrize("authoritative", [Side.LEGACY, Side.APP])
async def test_a_reordered_task_list_is_a_mismatch_on_the_order(
    start_stack: StackFactory, authoritative: Side
) -> None:
    legacy = Dashboard(Side.LEGACY, legacy_status)
    app = Dashboard(Side.APP, app_status, reverse_list=True)
    stack = await start_stack(legacy, app, authoritative)
    for ticker in ("AAPL", "MSFT"):
        await stack.client.post("/api/analysis/start", json={"ticker": ticker, "date": DATE})
    response = await stack.client.get(TASKS_ROUTE)
    assert await response.read() == stack.side(authoritative).served[-1]

    *_, record = await stack.records(3)
    assert record["route"] == TASKS_ROUTE
    assert record["outcome"] == "mismatch"
    order = [legacy.task_id("AAPL"), legacy.task_id("MSFT")]  # app ids mapped to their twins
    assert record["differences"] == [
        {"field": "tasks.order", "kind": "reordered", "legacy": order, "app": order[::-1]}
    ]
    labels = {"route_group": "analysis", "route": TASKS_ROUTE, "outcome": "mismatch"}
    assert stack.metric("shadowproxy_comparisons_total", **labels) == 1
    assert (
        stack.metric(
            "shadowproxy_field_mismatches_total", route_group="analysis", field="tasks.order"
        )
        == 1
    )
