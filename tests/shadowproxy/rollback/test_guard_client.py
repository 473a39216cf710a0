"""The `client_contract_broken` trigger through a real proxy: the client was hurt, roll back.

The app answers a finished analysis in the v1alpha1 shape: a semantic `match`, but the
legacy-era dashboard finds no decision, signals or confidence where it reads them.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp

from shadowproxy.difflog.record import should_record
from shadowproxy.types import Outcome, Role, Side

from ..contracts.shapes import ShapeBackend, app_status, legacy_status, read, serve
from ..factories import ServerFactory

STATUS = "/api/analysis/status/{task_id}"


def status_backends() -> tuple[ShapeBackend, ShapeBackend]:
    legacy, app = ShapeBackend(Side.LEGACY), ShapeBackend(Side.APP)
    legacy.documents[("GET", STATUS)] = legacy_status()
    app.documents[("GET", STATUS)] = app_status()
    return legacy, app


async def test_a_break_of_the_authoritative_app_rolls_the_group_back(
    tmp_path: Path, aiohttp_server: ServerFactory
) -> None:
    legacy, app = status_backends()
    env = {"TA_AUTHORITATIVE_ANALYSIS": "app"}
    async with serve(tmp_path, aiohttp_server, legacy, app, env) as served:
        comparison = await read(served, "GET", "/api/analysis/status/app-1", start=True)
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{served.admin}/flags") as response,
        ):
            flags = await response.json()
        rolled_back = served.metric(
            "shadowproxy_rollback_triggers_total",
            route_group="analysis",
            trigger="client_contract_broken",
            action="rolled_back",
        )
        decision_breaks = served.metric(
            "shadowproxy_consumer_breaks_total",
            route_group="analysis",
            consumer="legacy-dashboard",
            side="authoritative",
            field="decision",
        )
    assert comparison.outcome in (Outcome.MATCH, Outcome.ACCEPTED)  # semantically the same
    assert comparison.client is not None
    hurt = {found.field for found in comparison.client.hurt}
    assert {"decision", "confidence", "quant_signal", "llm_signal"} <= hurt
    assert flags["authoritative"]["analysis"] == "legacy"
    reason = flags["overrides"]["analysis"]["reason"]
    assert "client_contract_broken: legacy-dashboard" in reason
    assert comparison.exchange.comparison_id in reason
    assert (rolled_back, decision_breaks) == (1, 1)
    assert should_record(comparison, log_matches=False)  # a break is always written


async def test_a_break_on_the_shadow_side_is_observed_not_acted_on(
    tmp_path: Path, aiohttp_server: ServerFactory
) -> None:
    legacy, app = status_backends()
    async with serve(tmp_path, aiohttp_server, legacy, app) as served:
        comparison = await read(served, "GET", "/api/analysis/status/legacy-1", start=True)
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{served.admin}/flags") as response,
        ):
            flags = await response.json()
        shadow_breaks = served.metric(
            "shadowproxy_consumer_breaks_total",
            route_group="analysis",
            consumer="legacy-dashboard",
            side="shadow",
            field="decision",
        )
    assert comparison.client is not None
    # legacy answers: the v1alpha1-era dashboard is the one that breaks, on the authoritative side
    assert {found.consumer for found in comparison.client.hurt} == {"v1alpha1-dashboard"}
    assert comparison.client.broken("legacy-dashboard", Role.SHADOW)
    assert flags["overrides"] == {}
    assert shadow_breaks == 1
