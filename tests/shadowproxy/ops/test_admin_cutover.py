"""`GET /cutover`, `GET /drift`, and the flag flip that refuses while the verdict is blocked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from shadowproxy.types import Side

from ..contracts.shapes import ShapeBackend, app_status, legacy_status, read, serve
from ..factories import ServerFactory

STATUS = "/api/analysis/status/{task_id}"


async def call(url: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{url}{path}", json=body) as response,
    ):
        return response.status, await response.json()


async def test_a_blocked_verdict_refuses_the_flip_unless_forced(
    tmp_path: Path, aiohttp_server: ServerFactory
) -> None:
    legacy, app = ShapeBackend(Side.LEGACY), ShapeBackend(Side.APP)
    legacy.documents[("GET", STATUS)] = legacy_status()
    app.documents[("GET", STATUS)] = app_status()
    env = {"SHADOWPROXY_CUTOVER_MIN_COMPARISONS": "1"}
    async with serve(tmp_path, aiohttp_server, legacy, app, env) as served:
        comparison = await read(served, "GET", "/api/analysis/status/legacy-1", start=True)
        status, report = await call(served.admin, "GET", "/cutover")
        flip = {"side": "app", "reason": "phase 3"}
        refused = await call(served.admin, "PUT", "/flags/analysis", flip)
        forced = await call(served.admin, "PUT", "/flags/analysis", {**flip, "force": True})
        other = await call(served.admin, "PUT", "/flags/reports", flip)
        bad = await call(served.admin, "PUT", "/flags/analysis", {**flip, "force": "yes"})
    assert status == 200
    analysis = report["groups"]["analysis"]
    legacy_era = analysis["consumers"]["legacy-dashboard"]
    assert legacy_era["verdict"] == "blocked"
    fields = {row["field"] for row in legacy_era["breaks"]}
    assert {"decision", "confidence", "quant_signal", "llm_signal", "status"} == fields
    assert {row["example"] for row in legacy_era["breaks"]} == {comparison.exchange.comparison_id}
    assert analysis["consumers"]["v1alpha1-dashboard"]["verdict"] == "ready"
    names = [row["name"] for row in analysis["checkpoints"]]
    assert names == ["task_ids", "stage_order", "results_kept", "error_text", "live_order"]

    assert refused[0] == 409
    assert "legacy-dashboard: blocked (1 break on" in refused[1]["detail"]
    assert forced[0] == 200
    assert forced[1]["authoritative"]["analysis"] == "app"
    reason = forced[1]["overrides"]["analysis"]["reason"]
    assert reason.startswith("phase 3 [forced past: the cutover of analysis to the app is blocked")
    assert "legacy-dashboard: blocked" in reason
    assert other[0] == 200  # reports had no break: nothing to refuse
    assert bad[0] == 400


async def test_drift_shows_the_learned_shapes(
    tmp_path: Path, aiohttp_server: ServerFactory
) -> None:
    legacy, app = ShapeBackend(Side.LEGACY), ShapeBackend(Side.APP)
    for backend in (legacy, app):
        backend.documents[("GET", "/health")] = {"status": "ok"}
    async with serve(tmp_path, aiohttp_server, legacy, app) as served:
        await read(served, "GET", "/health")
        status, drift = await call(served.admin, "GET", "/drift")
        off = tmp_path / "off"
        off.mkdir()
        async with serve(off, aiohttp_server, legacy, app, {"SHADOWPROXY_DRIFT": "off"}) as bare:
            disabled = await call(bare.admin, "GET", "/drift")
    assert status == 200
    assert drift["enabled"] is True
    shape = drift["routes"]["GET /health"]
    assert (shape["responses"], shape["learned"]) == (1, False)
    assert disabled == (200, {"enabled": False, "routes": {}})
