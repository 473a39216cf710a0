"""Scale-out acceptance (issue 16): the shared store killed and restarted mid-traffic.

Two real `shadowproxy run` replicas A and B share a real `redis-server`, in front of the two real
backends, while a client loop alternates between them (the dashboard's reads: `/health`, a task's
status, the task list) and asks legacy the same thing directly after each answer. Redis is
killed (SIGKILL: nothing survives, as a node loss) and started again, empty, on its port.

While it is down: every client still gets its answer, with the status legacy gives directly;
`/readyz` answers 200 `degraded`; a move to the app answers 503; a rollback applies and answers
`"store": "pending"`; an analysis started through A meanwhile is shadowed on A, and its polls
through B, whose map cannot learn the pair, are skipped as `store_unavailable`, never guessed.

When it is back, without a restart: `shadowproxy_store_up` 1 and `/readyz` ready on both, the
pending writes sent (the rollback is in the shared audit trail, once), the pair learned while
Redis was down reaches B, and a new flip on A reaches B.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ..shadowproxy.factories import ProxyProcess
from ..shadowproxy.redis_server import RedisServer
from .conftest import Backends, eventually, get_json, metric_sum, replicas, settled
from .test_kernel_parity import DATE

PACE_S = 0.01  # between two client requests
STATUS = "/api/analysis/status/{task_id}"


@dataclass
class Traffic:
    """The client loop: each request through a replica, then the same one directly to legacy."""

    session: aiohttp.ClientSession
    proxies: tuple[ProxyProcess, ProxyProcess]
    direct: str
    paths: list[str]
    answers: int = 0
    problems: list[str] = field(default_factory=list)

    async def run(self) -> None:
        sent = 0
        while True:
            proxy = self.proxies[sent % 2]
            path = self.paths[(sent // 2) % len(self.paths)]
            sent += 1
            try:
                got = await self._status(proxy.url + path)
            except (aiohttp.ClientError, TimeoutError) as exc:
                self.problems.append(f"{proxy.url}{path}: {type(exc).__name__}: {exc}")
                continue
            expected = await self._status(self.direct + path)
            if got != expected:
                self.problems.append(f"{proxy.url}{path}: {got}, legacy directly {expected}")
            self.answers += 1
            await asyncio.sleep(PACE_S)

    async def _status(self, url: str) -> int:
        async with self.session.get(url) as answer:
            await answer.read()
            return answer.status

    async def more(self, count: int, what: str) -> None:
        """Until `count` more answers came (bounded)."""
        target = self.answers + count

        async def enough() -> bool:
            return self.answers >= target

        await eventually(enough, what, 15.0)


@asynccontextmanager
async def running(traffic: Traffic) -> AsyncIterator[Traffic]:
    loop = asyncio.ensure_future(traffic.run())
    try:
        yield traffic
    finally:
        loop.cancel()
        with suppress(asyncio.CancelledError):
            await loop


async def watch(session: aiohttp.ClientSession, proxy: ProxyProcess, request_id: str) -> None:
    body = {"request_ids": [request_id]}
    async with session.post(f"{proxy.admin_url}/watch", json=body) as answer:
        assert answer.status == 201, await answer.text()


async def verdict(
    session: aiohttp.ClientSession, proxy: ProxyProcess, request_id: str
) -> dict[str, Any]:
    body = await get_json(session, f"{proxy.admin_url}/watch/{request_id}?wait=15")
    assert body["done"], f"no comparison of {request_id} within 15 s"
    (record,) = body["records"]
    found: dict[str, Any] = record
    return found


async def start(session: aiohttp.ClientSession, proxy: ProxyProcess, ticker: str) -> str:
    async with session.post(
        f"{proxy.url}/api/analysis/start", json={"ticker": ticker, "date": DATE}
    ) as started:
        assert started.status == 200, await started.text()
        task_id: str = (await started.json())["task_id"]
    return task_id


async def store_up(proxies: tuple[ProxyProcess, ...], up: float) -> bool:
    return all([await metric_sum(p, "shadowproxy_store_up") == up for p in proxies])


async def readiness(session: aiohttp.ClientSession, proxy: ProxyProcess) -> dict[str, Any]:
    async with session.get(f"{proxy.admin_url}/readyz") as answer:
        assert answer.status == 200, await answer.text()  # the clients never depend on Redis
        body: dict[str, Any] = await answer.json()
    return body


async def move(
    session: aiohttp.ClientSession, proxy: ProxyProcess, side: str
) -> tuple[int, dict[str, Any]]:
    body = {"side": side, "reason": "scale-out acceptance: the store's outage"}
    async with session.put(f"{proxy.admin_url}/flags/reports", json=body) as answer:
        found: dict[str, Any] = await answer.json()
        return answer.status, found


@pytest.mark.slow
@pytest.mark.timeout(90)
async def test_redis_killed_and_restarted_mid_traffic_costs_no_client_an_answer(
    redis_server: RedisServer, real_backends: Backends, tmp_path: Path
) -> None:
    async with (
        replicas(real_backends.legacy, real_backends.app, tmp_path, redis_server.url) as (a, b),
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
    ):
        both = (a, b)
        before = await start(session, a, "AAPL")
        paths = ["/health", STATUS.format(task_id=before), "/api/analysis/tasks"]
        traffic = Traffic(session, both, real_backends.legacy, paths)
        async with running(traffic):
            await traffic.more(20, "answers before the outage")

            redis_server.kill()
            answered = traffic.answers
            await eventually(lambda: store_up(both, 0), "both replicas seeing the store down")
            for proxy, name in ((a, "a"), (b, "b")):
                ready = await readiness(session, proxy)
                assert ready["status"] == "degraded", ready
                assert (ready["store_state"], ready["replica"]) == ("unavailable", name)
            status, refused = await move(session, a, "app")
            assert status == 503, refused
            async with session.post(
                f"{b.admin_url}/rollback", json={"reason": "scale-out acceptance: while down"}
            ) as rolled:
                assert rolled.status == 200, await rolled.text()
                pending = await rolled.json()
            assert pending["store"] == "pending"
            assert set(pending["authoritative"].values()) == {"legacy"}
            assert await metric_sum(b, "shadowproxy_store_pending", kind="flags") == 1

            during = await start(session, a, "MSFT")  # A learns the pair; B cannot
            traffic.paths.append(STATUS.format(task_id=during))
            await traffic.more(20, "answers while the store is down")

            async def skipped_on_b() -> bool:
                found = await metric_sum(
                    b, "shadowproxy_shadow_skipped_total", reason="store_unavailable"
                )
                return found >= 1

            await eventually(skipped_on_b, "B skipping a poll it cannot correlate")
            assert await metric_sum(a, "shadowproxy_store_pending", kind="pairs") >= 1
            assert await metric_sum(a, "shadowproxy_store_up") == 0
            assert traffic.answers > answered
            down = traffic.answers - answered

            redis_server.start()  # the same port, empty: nothing was persisted
            await eventually(lambda: store_up(both, 1), "both replicas seeing the store back")
            await settled(a, b)
            for proxy in both:
                assert (await readiness(session, proxy))["status"] == "ready"
            skips = await metric_sum(b, "shadowproxy_shadow_skipped_total")
            await traffic.more(20, "answers after the outage")
            assert await metric_sum(b, "shadowproxy_shadow_skipped_total") == skips
            assert await metric_sum(b, "shadowproxy_store_up") == 1
        assert traffic.problems == []
        print(f"client answers: {traffic.answers} in all, {down} while the store was down")

        # the pair A learned while the store was down reached B since: its shadow is compared
        await watch(session, b, "after-the-outage")
        url = f"{b.url}{STATUS.format(task_id=during)}"
        async with session.get(url, headers={"X-Request-ID": "after-the-outage"}) as polled:
            assert polled.status == 200
        record = await verdict(session, b, "after-the-outage")
        assert record["outcome"] in ("match", "inflight_skew"), record

        trail = await get_json(session, f"{a.admin_url}/events")
        assert trail["source"] == "store"
        rollbacks = [event for event in trail["events"] if event["action"] == "rollback"]
        assert [(event["replica"], event["actor"]) for event in rollbacks] == [("b", "loopback")]

        status, flipped = await move(session, a, "app")
        assert status == 200, flipped
        assert "store" not in flipped

        async def obeyed() -> bool:
            flags = await get_json(session, f"{b.admin_url}/flags")
            return bool(flags["authoritative"]["reports"] == "app")

        await eventually(obeyed, "B obeying a flip made on A after the outage", 5.0)
