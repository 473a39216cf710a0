"""Noise through the real proxy: a secondary legacy instance whose answers differ from the
primary's on one field at random makes that field `noisy`, after which its legacy-vs-app
differences are outcome `noise` while a decision difference in the same comparisons is still a
`mismatch`; writes never reach the secondary; `GET /noise` and the metrics say what was measured.
Without a secondary, repeated reads of one resource measure it, and a write in between voids the
pair. Real proxy and admin app, fake backends (real aiohttp servers on port 0)."""

from __future__ import annotations

import asyncio
import itertools
import random
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client import CollectorRegistry

from shadowproxy.http.context import CONTEXT
from shadowproxy.types import Comparison, Outcome, Side

from ..factories import (
    ClientFactory,
    ListSink,
    ServerFactory,
    build_proxy,
    metric,
    proxy_settings,
)
from ..redis_server import RedisServer

STATUS = "/api/analysis/status/{task_id}"
REPORT = "/api/reports/{ticker}/{date}"
SIGNALS = ("BUY", "HOLD", "SELL")
TASKS = 60
WRONG = frozenset(range(0, TASKS, 6))  # the analyses whose decision the app gets wrong


@dataclass
class Analyses:
    """What the legacy instances share (their data directory): the tasks started on the primary."""

    tasks: dict[str, int] = field(default_factory=dict)


@dataclass
class Backend:
    """A backend answering completed status documents; `llm_signal` at random (an LLM)."""

    side: Side
    shared: Analyses
    seed: int
    methods: list[str] = field(default_factory=list)
    url: str = ""

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._ids = itertools.count()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/analysis/start", self._start)
        app.router.add_get("/api/analysis/status/{task_id}", self._status)
        app.router.add_get("/api/reports/{ticker}/{date}", self._report)
        app.router.add_post("/api/portfolio/watchlist", self._watch)
        return app

    async def _start(self, request: web.Request) -> web.Response:
        self.methods.append(request.method)
        n = next(self._ids)
        task = f"AAPL_20260413_120000_{self.side.value}{n:03d}"
        self.shared.tasks[task] = n
        return web.json_response({"task_id": task, "status": "running"})

    async def _status(self, request: web.Request) -> web.Response:
        self.methods.append(request.method)
        task = request.match_info["task_id"]
        n = self.shared.tasks.get(task)
        if n is None:
            return web.json_response({"detail": "Task not found"}, status=404)
        wrong = self.side is Side.APP and n in WRONG
        return web.json_response(
            {
                "task_id": task,
                "ticker": "AAPL",
                "date": "2026-04-13",
                "status": "completed",
                "progress": 100,
                "decision": "UNDERWEIGHT" if wrong else "OVERWEIGHT",
                "quant_signal": "HOLD",
                "llm_signal": self._rng.choice(SIGNALS),
                "confidence": 0.63,
                "error": None,
            }
        )

    async def _report(self, request: web.Request) -> web.Response:
        self.methods.append(request.method)
        return web.json_response({"report": "# AAPL", "generated": self._rng.randrange(3)})

    async def _watch(self, request: web.Request) -> web.Response:
        self.methods.append(request.method)
        return web.json_response({"watchlist": ["AAPL"]})


@dataclass
class Stack:
    client: TestClient[web.Request, web.Application]
    admin: TestClient[web.Request, web.Application]
    sink: ListSink
    registry: CollectorRegistry
    proxy_app: web.Application
    secondary: Backend | None

    async def idle(self) -> None:
        await self.proxy_app[CONTEXT].tasks.idle()

    def comparisons(self, route: str) -> list[Comparison]:
        return [c for c in self.sink.comparisons if c.exchange.route == route]


@dataclass
class Stacks:
    """Builds proxies in front of one set of backends: legacy, app and a secondary legacy."""

    backends: list[Backend]
    server: ServerFactory
    client: ClientFactory
    root: Path

    async def __call__(
        self, *, secondary: bool, env: dict[str, str] | None = None, name: str = "proxy"
    ) -> Stack:
        legacy, app, second = self.backends
        noise = {"SHADOWPROXY_NOISE_SAMPLE_RATE": "1", "SHADOWPROXY_NOISE_MIN_COUNT": "20"}
        settings = proxy_settings(legacy.url, app.url, self.root / name, {**noise, **(env or {})})
        if secondary:
            settings = replace(settings, legacy_secondary_url=second.url)
        built = build_proxy(settings)
        client = await self.client(await self.server(built.app))
        admin = await self.client(built.admin)
        return Stack(
            client, admin, built.sink, built.registry, built.app, second if secondary else None
        )


@pytest.fixture
async def stacks(
    aiohttp_server: ServerFactory, aiohttp_client: ClientFactory, tmp_path: Path
) -> Stacks:
    shared = Analyses()  # the two legacy instances' data directory
    backends = [
        Backend(Side.LEGACY, shared, 1),
        Backend(Side.APP, Analyses(), 2),
        Backend(Side.LEGACY, shared, 3),
    ]
    for backend in backends:
        backend.url = str((await aiohttp_server(backend.app())).make_url("")).rstrip("/")
    return Stacks(backends, aiohttp_server, aiohttp_client, tmp_path)


@pytest.fixture
async def stack(request: pytest.FixtureRequest, stacks: Stacks) -> Stack:
    return await stacks(secondary=request.param)


async def start_all(stack: Stack) -> list[str]:
    tasks = []
    for _ in range(TASKS):
        started = await stack.client.post("/api/analysis/start", json={"ticker": "AAPL"})
        tasks.append((await started.json())["task_id"])
    await stack.idle()
    return tasks


async def poll_all(stack: Stack, tasks: list[str]) -> None:
    for task in tasks:
        assert (await stack.client.get(f"/api/analysis/status/{task}")).status == 200
    await stack.idle()


@pytest.mark.parametrize("stack", [True], indirect=True)
async def test_a_field_the_legacy_instances_disagree_on_becomes_noise_not_mismatch(
    stack: Stack,
) -> None:
    tasks = await start_all(stack)
    await poll_all(stack, tasks)  # 60 A/A samples: llm_rating differs in about 2 of 3
    await asyncio.sleep(1.1)  # the classification is recomputed at most once a second
    learned = len(stack.comparisons(STATUS))
    await poll_all(stack, tasks)

    listed = await (await stack.admin.get("/noise")).json()
    assert listed["source"] == "secondary"
    rows = {(row["route"], row["field"]): row for row in listed["fields"]}
    llm = rows[(STATUS, "llm_rating")]
    assert llm["state"] == "noisy"
    assert 0.4 < llm["rate"] < 0.9
    assert llm["samples"] >= TASKS
    assert (STATUS, "decision") not in rows  # the legacy instances agree on decisions

    judged = stack.comparisons(STATUS)[learned:]
    assert len(judged) == TASKS
    for comparison in judged:
        assert comparison.task_id is not None
        n = int(comparison.task_id[-3:])
        fields = [d.field for d in comparison.differences]
        assert "llm_rating" not in fields
        if n in WRONG:  # the real difference is still a mismatch, noise or not beside it
            assert comparison.outcome is Outcome.MISMATCH
            assert fields == ["decision"]
        else:
            assert comparison.outcome in (Outcome.NOISE, Outcome.MATCH)
        for noise in comparison.noise:
            assert noise.field == "llm_rating"
            assert noise.reason is not None
            assert "legacy differs with itself" in noise.reason
    assert sum(c.outcome is Outcome.NOISE for c in judged) > TASKS // 3
    counted = metric(
        stack.registry,
        "shadowproxy_comparisons_total",
        route_group="analysis",
        route=STATUS,
        outcome="noise",
    )
    assert counted == sum(c.outcome is Outcome.NOISE for c in stack.sink.comparisons)
    assert metric(
        stack.registry,
        "shadowproxy_noise_ratio",
        route_group="analysis",
        field="llm_rating",
    ) == pytest.approx(llm["rate"], abs=0.05)

    assert stack.secondary is not None
    assert set(stack.secondary.methods) == {"GET"}  # the 60 starts never reached it
    assert len(stack.secondary.methods) == 2 * TASKS


@pytest.mark.parametrize("stack", [True], indirect=True)
async def test_answers_the_secondary_cannot_give_are_no_sample(stack: Stack) -> None:
    """A task the secondary does not know (404 there): unusable, never a status difference."""
    started = await stack.client.post("/api/analysis/start", json={"ticker": "AAPL"})
    task = (await started.json())["task_id"]
    await stack.idle()
    assert stack.secondary is not None
    stack.secondary.shared = Analyses()  # it restarted without the task
    for _ in range(3):
        await stack.client.get(f"/api/analysis/status/{task}")
    await stack.idle()
    samples = {
        result: metric(
            stack.registry, "shadowproxy_noise_samples_total", route_group="analysis", result=result
        )
        for result in ("sampled", "unusable")
    }
    assert samples == {"sampled": 0, "unusable": 3}
    fields = (await (await stack.admin.get("/noise")).json())["fields"]
    assert all(row["field"] != "status_code" for row in fields)


@pytest.mark.parametrize("stack", [False], indirect=True)
async def test_without_a_secondary_repeated_reads_measure_the_noise(stack: Stack) -> None:
    for _ in range(40):
        assert (await stack.client.get("/api/reports/AAPL/2026-04-13")).status == 200
    await stack.idle()
    await asyncio.sleep(1.1)
    for _ in range(10):
        await stack.client.get("/api/reports/AAPL/2026-04-13")
    await stack.idle()

    listed = await (await stack.admin.get("/noise?state=noisy")).json()
    assert listed["source"] == "repeated_reads"
    assert [(row["route"], row["field"]) for row in listed["fields"]] == [(REPORT, "generated")]
    assert listed["fields"][0]["samples"] == 49  # each read after the first is one sample
    last = stack.comparisons(REPORT)[-10:]
    assert all(c.outcome in (Outcome.NOISE, Outcome.MATCH) for c in last)
    assert any(c.outcome is Outcome.NOISE for c in last)


@pytest.mark.parametrize("stack", [False], indirect=True)
async def test_a_write_between_two_reads_voids_the_pair(stack: Stack) -> None:
    for _ in range(5):
        await stack.client.get("/api/reports/AAPL/2026-04-13")
        await stack.client.post("/api/portfolio/watchlist", json={"ticker": "AAPL"})
    await stack.idle()
    labels = {"route_group": "reports", "result": "sampled"}
    assert metric(stack.registry, "shadowproxy_noise_samples_total", **labels) == 0
    await stack.client.get("/api/reports/AAPL/2026-04-13")
    await stack.client.get("/api/reports/AAPL/2026-04-13")
    await stack.idle()
    assert metric(stack.registry, "shadowproxy_noise_samples_total", **labels) == 1


@pytest.mark.parametrize("stack", [False], indirect=True)
async def test_the_noise_listing_refuses_an_unknown_state(stack: Stack) -> None:
    refused = await stack.admin.get("/noise?state=loud")
    assert refused.status == 400
    assert "state must be one of" in (await refused.json())["detail"]


async def test_replicas_sharing_a_store_judge_noise_on_every_replicas_samples(
    stacks: Stacks, redis_server: RedisServer
) -> None:
    def store(name: str) -> dict[str, str]:
        return {
            "SHADOWPROXY_STORE": "redis",
            "SHADOWPROXY_REDIS_URL": redis_server.url,
            "SHADOWPROXY_REPLICA": name,
        }

    sampling = await stacks(secondary=True, env=store("a"), name="a")
    judging = await stacks(secondary=False, env=store("b"), name="b")  # takes no A/A samples
    await poll_all(sampling, await start_all(sampling))
    rows: list[dict[str, object]] = []

    async def listed() -> None:
        body = await (await judging.admin.get("/noise?state=noisy")).json()
        assert body["shared"] is True
        rows[:] = body["fields"]

    async def noisy() -> bool:
        await listed()
        return any(row["field"] == "llm_rating" for row in rows)

    deadline = asyncio.get_running_loop().time() + 15
    while not await noisy():
        assert asyncio.get_running_loop().time() < deadline, "replica b never saw the noise"
        await asyncio.sleep(0.2)
    assert [row["samples"] for row in rows] == [TASKS]  # replica a's, judged on replica b
