"""Every client-visible break the dashboards' reference lists, through a real proxy.

Two `ShapeBackend`s answer the documents the real backends would; the proxy, with both built-in
consumers configured, must record exactly the breaks the reference predicts: the legacy-era
dashboard on v1alpha1 answers, the v1alpha1-era dashboard on legacy answers, and nothing for the
frontend bugs that break against both backends (shared) or that the contract documents (known).
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from shadowproxy.types import Comparison, JSONValue, Role, RouteGroup, Side

from ..factories import ServerFactory
from .shapes import (
    ShapeBackend,
    app_recommendation,
    app_status,
    app_task,
    legacy_recommendation,
    legacy_status,
    legacy_task,
    read,
    serve,
)

LEGACY, V1 = "legacy-dashboard", "v1alpha1-dashboard"
AUTH, SHADOW = Role.AUTHORITATIVE, Role.SHADOW
STATUS = "/api/analysis/status/{task_id}"
Break = tuple[str, Role, str, str]  # consumer, side, field, kind


def counted(comparison: Comparison) -> set[Break]:
    if comparison.client is None:  # no consumer reads the route, nothing learned for it
        return set()
    return {
        (b.consumer, b.side, b.field, b.kind.value) for b in comparison.client.breaks if b.counts
    }


def missing(consumer: str, side: Role, *fields: str) -> set[Break]:
    return {(consumer, side, name, "missing") for name in fields}


SIGNALS = ("decision", "llm_signal", "quant_signal", "confidence")
V1_SIGNALS = (
    "result.decision",
    "result.signals.llm.rating",
    "result.signals.quant.rating",
    "result.confidence",
)
TASKS = "/api/analysis/tasks"
# a finished portfolio batch in each task list: no decision on either side, which is no break
LEGACY_BATCH: JSONValue = legacy_task(task_id="P", ticker=None, date=None, decision=None)
APP_BATCH: JSONValue = {
    "task_id": "P",
    "type": "portfolio",
    "status": "completed",
    "error": None,
    "total": 2,
    "completed": 2,
    "failed": 0,
    "current_ticker": None,
}
RECOMMENDATIONS = "/api/portfolio/recommendations"


@pytest.mark.parametrize(
    ("authoritative", "route", "legacy_doc", "app_doc", "expected"),
    [
        pytest.param(
            "app", STATUS, legacy_status(), app_status(),
            missing(LEGACY, AUTH, *SIGNALS)
            | {(LEGACY, AUTH, "status", "unknown_value")}
            | missing(V1, SHADOW, *V1_SIGNALS),
            id="status: legacy-era dashboard on the app loses the badge and the signal row",
        ),
        pytest.param(
            "legacy", STATUS, legacy_status(), app_status(status="completed"),
            missing(LEGACY, SHADOW, *SIGNALS) | missing(V1, AUTH, *V1_SIGNALS),
            id="status: even a plain completed app answer has no top-level result",
        ),
        pytest.param(
            "app", TASKS,
            {"tasks": [legacy_task(), legacy_task("failed", task_id="T2"), LEGACY_BATCH]},
            {"tasks": [app_task(), app_task("cancelled", task_id="T2"), APP_BATCH]},
            {
                (LEGACY, AUTH, "tasks[].decision", "missing"),
                (LEGACY, AUTH, "tasks[].error", "type_changed"),
                (LEGACY, AUTH, "tasks[].status", "unknown_value"),
                (V1, SHADOW, "tasks[].result.decision", "missing"),
            },
            id="tasks: blank decisions, an object error crashes the Batch page, unknown statuses",
        ),
        pytest.param(
            "app", RECOMMENDATIONS,
            {"recommendations": [legacy_recommendation()], "total": 1, "limit": 50, "offset": 0},
            {"recommendations": [app_recommendation()], "total": 1, "limit": 50, "offset": 0},
            missing(LEGACY, AUTH, "recommendations[].decision", "recommendations[].analysis_date")
            | missing(V1, SHADOW, "recommendations[].result.decision", "recommendations[].date"),
            id="recommendations: flat decision and analysis_date against result/date/compat",
        ),
        pytest.param(
            "app", "/api/config/check", {"configured": True}, {"configured": False},
            {(name, AUTH, "configured", "unknown_value") for name in (LEGACY, V1)},
            id="config: only the Anthropic key set, the app says false: no dashboard at all",
        ),
        pytest.param(
            "app", "/api/reports/list",
            {"reports": [], "total": 0, "limit": 50, "offset": 0},
            {"reports": [], "total": 0, "limit": 50, "offset": 0},
            set(),
            id="reports list: the page wants a bare array from both (broken upstream), not read",
        ),
        pytest.param(
            "app", "/api/portfolio/positions",
            {"positions": [{"position_id": "p1", "ticker": "AAPL", "cost_price": "180.50"}]},
            {"positions": [{"position_id": "p1", "ticker": "AAPL", "cost_price": "180.50"}]},
            set(),
            id="positions: string prices from the UI break both backends alike (shared)",
        ),
    ],
)  # fmt: skip
async def test_known_breaks_through_the_proxy(
    tmp_path: Path,
    aiohttp_server: ServerFactory,
    authoritative: str,
    route: str,
    legacy_doc: JSONValue,
    app_doc: JSONValue,
    expected: set[Break],
) -> None:
    legacy, app = ShapeBackend(Side.LEGACY), ShapeBackend(Side.APP)
    legacy.documents[("GET", route)], app.documents[("GET", route)] = legacy_doc, app_doc
    env = {"TA_APP_SERVICE_ENABLED": "1" if authoritative == "app" else "0"}
    env |= {"SHADOWPROXY_AUTO_ROLLBACK": "off"}
    async with serve(tmp_path, aiohttp_server, legacy, app, env) as served:
        path = route.replace("{task_id}", "legacy-1" if authoritative == "legacy" else "app-1")
        comparison = await read(served, "GET", path, start=route == STATUS)
    assert counted(comparison) == expected


async def test_shared_and_known_breaks_are_reported_but_never_counted(
    tmp_path: Path, aiohttp_server: ServerFactory
) -> None:
    legacy, app = ShapeBackend(Side.LEGACY), ShapeBackend(Side.APP)
    price: JSONValue = {
        "positions": [{"position_id": "p1", "ticker": "AAPL", "cost_price": "180.50"}]
    }
    legacy.documents[("GET", "/api/portfolio/positions")] = price
    app.documents[("GET", "/api/portfolio/positions")] = price
    app.documents[("GET", TASKS)] = {"tasks": [app_task("cancelled")]}
    legacy.documents[("GET", TASKS)] = {"tasks": [legacy_task("failed")]}
    env = {"TA_APP_SERVICE_ENABLED": "1", "SHADOWPROXY_CONSUMERS": V1}
    async with serve(tmp_path, aiohttp_server, legacy, app, env) as served:
        positions = await read(served, "GET", "/api/portfolio/positions")
        tasks = await read(served, "GET", TASKS)
        breaks = served.metric(
            "shadowproxy_consumer_breaks_total",
            route_group="analysis",
            consumer=V1,
            side="authoritative",
            field="tasks[].status",
        )
    assert positions.client is not None
    assert tasks.client is not None
    shared = {(b.side, b.field, b.shared) for b in positions.client.breaks}
    assert shared == {
        (AUTH, "positions[].cost_price", True),
        (SHADOW, "positions[].cost_price", True),
    }
    (cancelled,) = [b for b in tasks.client.breaks if b.side is AUTH]
    assert (cancelled.field, cancelled.got, cancelled.counts) == (
        "tasks[].status",
        "cancelled",
        False,
    )
    assert cancelled.known is not None
    assert "frontend defect" in cancelled.known
    assert not positions.client.hurt
    assert not tasks.client.hurt
    assert breaks == 0


async def test_progress_frames_are_checked_per_message(
    tmp_path: Path, aiohttp_server: ServerFactory
) -> None:
    legacy, app = ShapeBackend(Side.LEGACY), ShapeBackend(Side.APP)
    # a portfolio batch's frames say `type: "portfolio"` on both sides: the dashboards ignore them
    # (broken upstream, not a contract difference), so they are no finding either
    batch: JSONValue = {"type": "portfolio", "status": "running", "total": 2, "completed": 1}
    legacy.frames = [{"type": "progress", **legacy_status()}, batch]
    app.frames = [{"type": "progress", **app_status()}, {"type": "pong"}, batch]
    env = {"TA_APP_SERVICE_ENABLED": "1", "SHADOWPROXY_AUTO_ROLLBACK": "off"}
    async with serve(tmp_path, aiohttp_server, legacy, app, env) as served:
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{served.url}/api/analysis/start", json={"ticker": "AAPL"}):
                pass
            await served.sink.wait_for(1)
            async with session.ws_connect(f"{served.url}/ws/analysis/app-1") as ws:
                for _ in app.frames:
                    await ws.receive_json(timeout=5)
        comparisons = await served.sink.wait_for(2)
    socket = comparisons[-1]
    assert socket.exchange.route_group is RouteGroup.WS_ANALYSIS
    assert socket.client is not None
    assert {b.message for b in socket.client.breaks} == {"progress"}
    assert missing(LEGACY, AUTH, *SIGNALS) <= counted(socket)
