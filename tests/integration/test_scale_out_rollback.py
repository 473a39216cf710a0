"""Scale-out acceptance (issue 16): evidence split across two replicas fires one rollback, once,
recorded once.

Two real `shadowproxy run` replicas A and B share a real `redis-server`, in front of a pair of
fake backends (real aiohttp servers on loopback port 0) that diverge on purpose: half the app's
answers of `GET /api/config/check` (those with an odd `?n=`) differ from legacy's in a field no
per-comparison trigger watches, so only the parity window (`parity_below_threshold`) can roll
`system` back. The window needs `MIN_COMPARISONS` comparisons; each replica gets fewer than
that, half the traffic each, so only the two replicas' evidence together can fire it (the
store's window totals).

Then: `system` is back on legacy on both replicas, the shared audit trail holds exactly one
`rollback` event (and its reason counts more comparisons than either replica made), and
`shadowproxy_rollbacks_total` summed over both replicas is 1.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ..shadowproxy.factories import ProxyProcess
from ..shadowproxy.redis_server import RedisServer
from .conftest import eventually, get_json, metric_sum, replicas, settled

MIN_COMPARISONS = 20  # SHADOWPROXY_PARITY_MIN_COMPARISONS: what the window needs to judge
ROUTE = "/api/config/check"
PACE_S = 0.15  # between rounds (one request through each replica)


def fake_backend(side: str) -> web.Application:
    """legacy answers the same document every time; the app differs for every odd `?n=`."""

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def check(request: web.Request) -> web.Response:
        differs = side == "app" and int(request.query.get("n", "0")) % 2 == 1
        return web.json_response({"configured": True, "mode": "other" if differs else "same"})

    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_get(ROUTE, check)
    return app


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


async def side_of(session: aiohttp.ClientSession, proxy: ProxyProcess) -> str:
    side: str = (await get_json(session, f"{proxy.admin_url}/flags"))["authoritative"]["system"]
    return side


async def check(session: aiohttp.ClientSession, proxy: ProxyProcess, n: int = 0) -> str:
    """One client request through `proxy` (the app's answer differs when `n` is odd); the side
    that answered it."""
    async with session.get(f"{proxy.url}{ROUTE}?n={n}") as answer:
        assert answer.status == 200
        return answer.headers["X-Shadowproxy-Authoritative"]


async def compared(proxy: ProxyProcess) -> float:
    """The comparisons of the route this replica made itself (skips are not compared)."""
    total = await metric_sum(proxy, "shadowproxy_comparisons_total", route=ROUTE)
    skipped = await metric_sum(
        proxy, "shadowproxy_comparisons_total", route=ROUTE, outcome="skipped"
    )
    return total - skipped


@pytest.mark.slow
@pytest.mark.timeout(60)
async def test_evidence_split_across_two_replicas_fires_one_rollback_recorded_once(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    env = {"SHADOWPROXY_PARITY_MIN_COMPARISONS": str(MIN_COMPARISONS)}
    async with (
        serving(fake_backend("legacy")) as legacy,
        serving(fake_backend("app")) as app,
        replicas(legacy, app, tmp_path, redis_server.url, env) as (a, b),
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
    ):
        body = {"side": "app", "reason": "scale-out acceptance: the app answers system"}
        async with session.put(f"{a.admin_url}/flags/system", json=body) as flipped:
            assert flipped.status == 200, await flipped.text()

        async def on_app() -> bool:
            return await side_of(session, a) == await side_of(session, b) == "app"

        await eventually(on_app, "system on the app on both replicas", 5.0)

        async def rolled_back() -> bool:
            return await side_of(session, a) == await side_of(session, b) == "legacy"

        sent = {"a": 0, "b": 0}
        while max(sent.values()) < MIN_COMPARISONS - 1 and not await rolled_back():
            for name, proxy in (("a", a), ("b", b)):  # half the traffic through each
                await check(session, proxy, sent[name])  # half of each replica's mismatch
                sent[name] += 1
            await asyncio.sleep(PACE_S)  # the window totals are shared every 0.25 s

        await eventually(rolled_back, "system rolled back on both replicas", 5.0)
        await settled(a, b)  # every shadow compared and judged, every write in the store

        own = {"a": await compared(a), "b": await compared(b)}
        assert max(own.values()) <= max(sent.values()) < MIN_COMPARISONS, (own, sent)
        trail: dict[str, Any] = await get_json(session, f"{b.admin_url}/events")
        assert trail["source"] == "store"
        rollbacks = [event for event in trail["events"] if event["action"] == "rollback"]
        assert len(rollbacks) == 1, rollbacks
        (event,) = rollbacks
        assert event["actor"] == "auto:parity_below_threshold"
        assert event["change"] == [{"group": "system", "from": "app", "to": "legacy"}]
        assert event["evidence"], "the firing replica's own mismatches are its evidence"
        counted = re.search(r"(\d+) of (\d+) mismatched", event["reason"])
        assert counted is not None, event["reason"]
        assert int(counted[2]) >= MIN_COMPARISONS > max(own.values())  # both replicas' evidence
        assert (await get_json(session, f"{a.admin_url}/events"))["events"] == trail["events"]
        total = sum([await metric_sum(proxy, "shadowproxy_rollbacks_total") for proxy in (a, b)])
        assert total == 1
        fired = [
            await metric_sum(
                proxy,
                "shadowproxy_rollbacks_total",
                route_group="system",
                trigger="parity_below_threshold",
                mode="auto",
            )
            for proxy in (a, b)
        ]
        assert sorted(fired) == [0, 1]
        assert await check(session, a) == await check(session, b) == "legacy"
        print(f"requests through A and B {sent}; comparisons {own}; fired: {event['reason']}")
