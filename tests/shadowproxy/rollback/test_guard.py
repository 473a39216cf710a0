"""The rollback guard: a trigger flips its route group back to legacy by itself, through the proxy.

Fake dashboards (real aiohttp servers on port 0) where the app side loses or changes what a
finished analysis reports; the proxy's own flags, metrics and persisted flag file show the result.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from shadowproxy.http.context import FLAGS
from shadowproxy.metrics import ProxyMetrics
from shadowproxy.publish import Pipeline, Stage
from shadowproxy.rollback.flags import FLAGS_FILE, Flags
from shadowproxy.rollback.guard import ROLLBACK_WINDOW_S, RollbackGuard
from shadowproxy.types import RouteGroup, Side

from ..dashboards import DATE, Dashboard, Stack, StackFactory, app_status, legacy_status
from ..factories import ListSink, changed, comparison


async def _status_read(stack: Stack, task_id: str) -> str:
    """One dashboard poll; returns the side that answered it, after checking its bytes."""
    response = await stack.client.get(f"/api/analysis/status/{task_id}")
    assert response.status == 200
    side = response.headers["X-Shadowproxy-Authoritative"]
    assert await response.read() == stack.side(Side(side)).served[-1]
    return side


async def _start(stack: Stack) -> str:
    started = await stack.client.post("/api/analysis/start", json={"ticker": "AAPL", "date": DATE})
    task_id: str = (await started.json())["task_id"]
    return task_id


def _triggers(stack: Stack, action: str) -> float:
    labels = {"route_group": "analysis", "trigger": "analysis_result_lost", "action": action}
    return stack.metric("shadowproxy_rollback_triggers_total", **labels)


async def test_a_changed_decision_rolls_the_group_back_to_legacy(
    start_stack: StackFactory,
) -> None:
    legacy = Dashboard(Side.LEGACY, legacy_status)
    app = Dashboard(Side.APP, lambda t: app_status(t, decision="UNDERWEIGHT"))
    stack = await start_stack(legacy, app, Side.APP)
    task_id = await _start(stack)
    assert await _status_read(stack, task_id) == "app"  # the poll that shows the loss
    await stack.records(2)

    flags = stack.proxy_app[FLAGS]
    assert flags.authoritative(RouteGroup.ANALYSIS) is Side.LEGACY
    assert flags.authoritative(RouteGroup.REPORTS) is Side.APP  # only the group that fired
    override = flags.overrides()[RouteGroup.ANALYSIS]
    assert override.reason.startswith("automatic rollback: completed analysis loses decision")
    assert "analysis_result_lost: decision on /api/analysis/status/{task_id}" in override.reason
    saved = json.loads((stack.log_dir.parent / "state" / FLAGS_FILE).read_text())
    assert saved["overrides"]["analysis"]["side"] == "legacy"
    assert _triggers(stack, "rolled_back") == 1
    assert (
        stack.metric("shadowproxy_authoritative_side", route_group="analysis", side="legacy") == 1
    )
    # the app-minted id the client holds still works: it is rewritten to legacy's twin
    assert await _status_read(stack, task_id) == "legacy"
    await stack.records(3)
    assert _triggers(stack, "observed") == 1  # the legacy-answered poll still fires, harmlessly


@pytest.mark.parametrize(
    ("authoritative", "env", "action"),
    [
        pytest.param(Side.APP, {"SHADOWPROXY_AUTO_ROLLBACK": "off"}, "disabled", id="disabled"),
        pytest.param(Side.LEGACY, {}, "observed", id="legacy-already-answers"),
    ],
)
async def test_no_flip_when_disabled_or_when_legacy_answers(
    start_stack: StackFactory, authoritative: Side, env: dict[str, str], action: str
) -> None:
    legacy = Dashboard(Side.LEGACY, legacy_status)
    app = Dashboard(Side.APP, lambda t: app_status(t, decision="UNDERWEIGHT"))
    stack = await start_stack(legacy, app, authoritative, **env)
    task_id = await _start(stack)
    assert await _status_read(stack, task_id) == authoritative.value
    await stack.records(2)
    assert stack.proxy_app[FLAGS].authoritative(RouteGroup.ANALYSIS) is authoritative
    assert stack.proxy_app[FLAGS].overrides() == {}
    assert _triggers(stack, action) == 1
    assert _triggers(stack, "rolled_back") == 0


async def test_rollback_after_counts_hits_before_acting(start_stack: StackFactory) -> None:
    legacy = Dashboard(Side.LEGACY, legacy_status)
    app = Dashboard(Side.APP, lambda t: app_status(t, decision="UNDERWEIGHT"))
    stack = await start_stack(legacy, app, Side.APP, SHADOWPROXY_ROLLBACK_AFTER="2")
    task_id = await _start(stack)
    assert await _status_read(stack, task_id) == "app"
    await stack.records(2)
    assert _triggers(stack, "counted") == 1
    assert stack.proxy_app[FLAGS].authoritative(RouteGroup.ANALYSIS) is Side.APP
    assert await _status_read(stack, task_id) == "app"
    await stack.records(3)
    assert _triggers(stack, "rolled_back") == 1
    assert stack.proxy_app[FLAGS].authoritative(RouteGroup.ANALYSIS) is Side.LEGACY


async def test_hits_older_than_the_window_do_not_count(tmp_path: Path) -> None:
    now = [1000.0]
    flags = Flags(dict.fromkeys(RouteGroup, Side.APP), tmp_path)
    sink = ListSink()
    metrics = ProxyMetrics(CollectorRegistry())
    guard = RollbackGuard(flags, metrics, enabled=True, after=2, clock=lambda: now[0])
    pipeline = Pipeline(metrics, sink, Stage("guard", guard.publish))
    lost = comparison(RouteGroup.ANALYSIS, changed("decision", "BUY", "SELL"))
    pipeline.publish(lost)
    now[0] += ROLLBACK_WINDOW_S + 1
    pipeline.publish(lost)  # the first hit left the window: still one
    assert flags.authoritative(RouteGroup.ANALYSIS) is Side.APP
    now[0] += 1
    pipeline.publish(lost)
    assert flags.authoritative(RouteGroup.ANALYSIS) is Side.LEGACY
    assert sink.comparisons == [lost, lost, lost]  # every comparison still reaches the sink
