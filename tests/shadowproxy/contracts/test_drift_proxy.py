"""Wire drift through a real proxy: a field the app drops is found after learning, not before."""

from __future__ import annotations

from pathlib import Path

from shadowproxy.types import BreakKind, Side

from ..factories import ServerFactory
from .shapes import ShapeBackend, read, serve

THRESHOLD = 50


async def test_a_dropped_field_is_drift_once_legacy_was_learned(
    tmp_path: Path, aiohttp_server: ServerFactory
) -> None:
    legacy, app = ShapeBackend(Side.LEGACY), ShapeBackend(Side.APP)
    legacy.documents[("GET", "/health")] = {"status": "ok", "version": "1.4.2"}
    app.documents[("GET", "/health")] = {"status": "ok"}  # no consumer contract reads /health
    drift_findings = []
    async with serve(tmp_path, aiohttp_server, legacy, app) as served:
        for _ in range(THRESHOLD + 1):
            comparison = await read(served, "GET", "/health")
            served.sink.comparisons.clear()
            drift_findings.append(comparison.client.drift if comparison.client else ())
        counted = served.metric(
            "shadowproxy_drift_findings_total", route_group="system", kind="missing"
        )
    assert all(not found for found in drift_findings[:THRESHOLD])  # the first 50 teach legacy
    (finding,) = drift_findings[THRESHOLD]
    assert (finding.field, finding.kind, finding.got) == ("version", BreakKind.MISSING, None)
    assert finding.legacy_presence == 1.0
    assert counted == 1
    saved = tmp_path / "state" / "shapes.json"
    assert saved.exists()  # written at shutdown
    assert '"GET /health"' in saved.read_text()
