"""The admin API's control plane through real sockets: the token, phases, the audit trail,
the Alertmanager webhook, cooldown, and the flags' version on the next comparison."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from shadowproxy.types import Side

from ..contracts.shapes import ShapeBackend, read, serve
from ..factories import ServerFactory

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MUTATING = [
    ("PUT", "/flags/reports", {"side": "app", "reason": "r"}),
    ("DELETE", "/flags", None),
    ("POST", "/rollback", {"reason": "r"}),
    ("POST", "/phase/reads", {"reason": "r"}),
    ("POST", "/alertmanager", {"version": "4", "alerts": []}),
]


async def call(
    url: str, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{url}{path}", json=body, headers=headers) as response,
    ):
        return response.status, await response.json()


def written_text(root: Path) -> str:
    """Everything the proxy wrote: state, audit trail, diff logs."""
    files = [p for p in root.rglob("*") if p.is_file() and p.suffix in (".jsonl", ".json")]
    return "".join(p.read_text(encoding="utf-8") for p in files)


def backends() -> tuple[ShapeBackend, ShapeBackend]:
    legacy, app = ShapeBackend(Side.LEGACY), ShapeBackend(Side.APP)
    for backend in (legacy, app):
        backend.documents[("GET", "/health")] = {"status": "ok"}
        backend.documents[("GET", "/api/reports/list")] = {"reports": [], "total": 0}
    return legacy, app


async def test_every_mutating_endpoint_needs_the_token(
    tmp_path: Path, aiohttp_server: ServerFactory
) -> None:
    env = {"SHADOWPROXY_ADMIN_TOKEN": TOKEN}
    async with serve(tmp_path, aiohttp_server, *backends(), env) as served:
        for method, path, body in MUTATING:
            missing = await call(served.admin, method, path, body)
            wrong = await call(served.admin, method, path, body, {"Authorization": "Bearer nope"})
            right = await call(served.admin, method, path, body, AUTH)
            assert missing[0] == 401, (method, path)
            assert "bearer token is required" in missing[1]["detail"]
            assert wrong[0] == 401
            assert "wrong" in wrong[1]["detail"]
            assert right[0] == 200, (method, path, right)
        reads = {p: await call(served.admin, "GET", p) for p in ("/events", "/cutover", "/parity")}
        open_flags = await call(served.admin, "GET", "/flags")
        events = await call(served.admin, "GET", "/events", headers=AUTH)
        denied = served.metric("shadowproxy_admin_denied_total", endpoint="/rollback")
    assert all(status == 401 for status, _ in reads.values())
    assert open_flags[0] == 200
    assert denied == 2
    actors = [e["actor"] for e in events[1]["events"]]
    assert actors.count("unauthenticated") == 2 * len(MUTATING)
    assert "admin-token" in actors
    logs = written_text(tmp_path)
    assert TOKEN not in logs  # state, audit trail, diff logs


async def test_phases_flip_exactly_their_groups_and_are_audited(
    tmp_path: Path, aiohttp_server: ServerFactory
) -> None:
    async with serve(tmp_path, aiohttp_server, *backends()) as served:
        assert (await call(served.admin, "GET", "/phase"))[1]["phase"] == "shadow"
        status, reads = await call(served.admin, "POST", "/phase/reads", {"reason": "phase 2"})
        next_read = await read(served, "GET", "/api/reports/list")
        sockets = await call(served.admin, "POST", "/phase/websockets", {"reason": "phase 4"})
        unknown = await call(served.admin, "POST", "/phase/nope", {"reason": "x"})
        custom = await call(
            served.admin, "PUT", "/flags/reports", {"side": "legacy", "reason": "x"}
        )
        events = (await call(served.admin, "GET", "/events"))[1]["events"]
        version = served.metric("shadowproxy_flags_version")
        comparison = await read(served, "GET", "/health")
    assert status == 200
    assert reads["phase"] == "reads"
    assert next_read.exchange.authoritative is Side.APP  # the very next request
    assert next_read.exchange.flags_version == 1
    apps = {g for g, side in reads["authoritative"].items() if side == "app"}
    assert apps == {"analysis", "reports", "portfolio"}
    assert sockets[1]["phase"] == "websockets"
    assert unknown[0] == 400
    assert custom[1]["phase"] == "custom"
    phase_events = [e for e in events if e["action"] == "phase"]
    assert [e["reason"] for e in phase_events] == [
        "phase reads: phase 2",
        "phase websockets: phase 4",
    ]
    assert {c["group"] for c in phase_events[0]["change"]} == apps
    assert [e["flags_version"] for e in events] == [1, 2, 3]
    assert version == 3
    assert comparison.exchange.flags_version == 3  # the next request saw the new version


async def test_restart_keeps_flags_version_and_trail(
    tmp_path: Path, aiohttp_server: ServerFactory
) -> None:
    async with serve(tmp_path, aiohttp_server, *backends()) as served:
        await call(served.admin, "POST", "/phase/full", {"reason": "cutover"})
    async with serve(tmp_path, aiohttp_server, *backends()) as again:
        flags = (await call(again.admin, "GET", "/flags"))[1]
        events = (await call(again.admin, "GET", "/events"))[1]["events"]
        await call(again.admin, "POST", "/rollback", {"reason": "back"})
        after = (await call(again.admin, "GET", "/flags"))[1]
    assert (flags["phase"], flags["flags_version"]) == ("full", 1)
    assert [e["action"] for e in events] == ["phase"]
    assert (after["phase"], after["flags_version"]) == ("shadow", 2)


def firing(fingerprint: str, group: str, status: str = "firing") -> dict[str, Any]:
    return {
        "status": status,
        "labels": {
            "alertname": "ShadowproxyParityCritical",
            "rollback": "true",
            "route_group": group,
        },
        "annotations": {"summary": "parity below 90%"},
        "fingerprint": fingerprint,
    }


async def test_the_alertmanager_webhook_rolls_back_once_per_alert(
    tmp_path: Path, aiohttp_server: ServerFactory
) -> None:
    env = {"TA_APP_SERVICE_ENABLED": "1"}
    async with serve(tmp_path, aiohttp_server, *backends(), env) as served:
        resolved = await call(
            served.admin, "POST", "/alertmanager",
            {"version": "4", "alerts": [firing("f0", "analysis", "resolved")]},
        )  # fmt: skip
        acted = await call(
            served.admin, "POST", "/alertmanager",
            {"version": "4", "alerts": [firing("f1", "analysis")]},
        )  # fmt: skip
        again = await call(
            served.admin, "POST", "/alertmanager",
            {"version": "4", "alerts": [firing("f1", "analysis")]},
        )  # fmt: skip
        malformed = await call(served.admin, "POST", "/alertmanager", {"alerts": "x"})
        bad_group = await call(
            served.admin, "POST", "/alertmanager",
            {"version": "4", "alerts": [firing("f2", "nowhere")]},
        )  # fmt: skip
        flip_back = await call(
            served.admin, "PUT", "/flags/analysis", {"side": "app", "reason": "x"}
        )
        forced = await call(
            served.admin, "PUT", "/flags/analysis", {"side": "app", "reason": "x", "force": True}
        )
        events = (await call(served.admin, "GET", "/events"))[1]["events"]
        counted = served.metric(
            "shadowproxy_rollbacks_total",
            route_group="analysis",
            trigger="ShadowproxyParityCritical",
            mode="alert",
        )
    assert resolved[1]["acted"] == [] and resolved[1]["authoritative"]["analysis"] == "app"  # noqa: PT018
    assert acted[1]["acted"] == [
        {"route_group": "analysis", "alertname": "ShadowproxyParityCritical", "fingerprint": "f1"}
    ]
    assert acted[1]["authoritative"]["analysis"] == "legacy"
    assert acted[1]["authoritative"]["reports"] == "app"  # only the alert's group
    assert again[1]["acted"] == []
    assert malformed[0] == 400
    assert bad_group[0] == 400
    assert flip_back[0] == 409  # the cooldown after an automatic rollback
    assert "cooldown" in flip_back[1]["detail"]
    assert forced[0] == 200
    (rollback,) = [e for e in events if e["actor"].startswith("alertmanager:")]
    assert rollback["actor"] == "alertmanager:ShadowproxyParityCritical"
    assert rollback["evidence"] == ["f1"]
    assert [e["action"] for e in events].count("refused") == 1
    assert counted == 1


@pytest.mark.parametrize("window", ["5m", "300", "1h"])
async def test_parity_reports_each_group(
    tmp_path: Path, aiohttp_server: ServerFactory, window: str
) -> None:
    async with serve(tmp_path, aiohttp_server, *backends()) as served:
        await read(served, "GET", "/health")
        status, parity = await call(served.admin, "GET", f"/parity?window={window}")
        bad = await call(served.admin, "GET", "/parity?window=soon")
    assert status == 200
    system = parity["groups"]["system"]
    assert (system["comparisons"], system["mismatch_ratio"]) == (1, 0.0)
    assert system["error_ratio"] == {"legacy": 0.0, "app": 0.0}
    assert system["authoritative"] == "legacy"
    assert bad[0] == 400
