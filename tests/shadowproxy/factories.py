"""Builders shared by the proxy's tests: fakes, value objects, and one way to build the proxy.

- `build_proxy(settings)` is the one way a test builds the proxy under test: `create_app` with
  its own Prometheus registry and a diff sink (an in-memory `ListSink` unless the test passes
  one), plus its admin app. `proxy_settings` makes the Settings for it. The `make_proxy` fixture
  (`ProxyFactory`), `ws_fakes.start_proxy` and `dashboards.start_stack` only differ in what they
  serve it with; `running` is the exception: it runs the real `serve()`, which builds its own.
  `proxy_process` goes one step further: a real `shadowproxy run` subprocess, its log collected.
- The backends of `make_proxy` are `FakeBackend`s: real aiohttp servers on port 0 that record
  every request they receive (`Seen`) and answer differently per side on purpose.
- Value objects with sensible defaults, overridden by keyword: `exchange`, `observation`,
  `comparison`, `changed`, and `aliases` (the engine's app id -> legacy id view).
"""

from __future__ import annotations

import asyncio
import gzip
import itertools
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar, overload

import orjson
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestClient, TestServer
from multidict import CIMultiDictProxy
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from shadowproxy.correlation import AppAliases
from shadowproxy.diff.config import DEFAULT_CONFIG, DiffConfig
from shadowproxy.http.app import create_app
from shadowproxy.http.context import CONTEXT, WsHandler
from shadowproxy.ops.admin import create_admin_app
from shadowproxy.ops.server import serve
from shadowproxy.settings import Settings, load_settings
from shadowproxy.types import (
    Comparison,
    Difference,
    DiffKind,
    DiffLogStats,
    DiffSink,
    Exchange,
    ExchangeKind,
    Headers,
    IdAliases,
    JSONValue,
    Observation,
    Outcome,
    RouteGroup,
    Side,
)

ServerFactory = Callable[..., Awaitable[TestServer]]  # the aiohttp_server fixture
ClientFactory = Callable[..., Awaitable[TestClient[web.Request, web.Application]]]
SinkT = TypeVar("SinkT", bound=DiffSink)


def metric(registry: CollectorRegistry, name: str, **labels: str) -> float:
    """A sample's value, 0 when it was never set (a counter nobody incremented)."""
    return registry.get_sample_value(name, labels) or 0.0


class Clock:
    """A monotonic clock the test moves by hand (`clock.now += 5`): pass it as `clock=`."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------- value objects


def exchange(
    *,
    comparison_id: str = "cmp-1",
    request_id: str = "req-1",
    kind: ExchangeKind = ExchangeKind.HTTP,
    route_group: RouteGroup = RouteGroup.SYSTEM,
    route: str = "/r",
    method: str = "GET",
    path: str | None = None,
    authoritative: Side = Side.LEGACY,
    profile: str = "json_equal",
) -> Exchange:
    """An HTTP GET of `route` (whose path is the route itself unless given), legacy answering."""
    return Exchange(
        comparison_id=comparison_id,
        request_id=request_id,
        kind=kind,
        route_group=route_group,
        route=route,
        method=method,
        path=route if path is None else path,
        authoritative=authoritative,
        profile=profile,
    )


def observation(
    side: Side,
    status: int | None = 200,
    body: bytes | JSONValue = b"",
    *,
    content_type: str | None = None,
    headers: Headers = (),
    latency_s: float = 0.0,
    error: str | None = None,
) -> Observation:
    """One side's answer. A body that is not bytes is a JSON document: it is serialized (orjson)
    and the content type defaults to application/json; a content type is the first header."""
    raw = body
    if not isinstance(raw, bytes):
        raw = orjson.dumps(raw)
        content_type = content_type or "application/json"
    if content_type is not None:
        headers = (("Content-Type", content_type), *headers)
    return Observation(side, status, headers, raw, latency_s, error)


def changed(field: str, legacy: JSONValue = 1, app: JSONValue = 2) -> Difference:
    return Difference(field, DiffKind.CHANGED, legacy=legacy, app=app)


def comparison(
    group: RouteGroup,
    *differences: Difference,
    outcome: Outcome = Outcome.MISMATCH,
    accepted: tuple[Difference, ...] = (),
) -> Comparison:
    """A comparison of one route group with the app authoritative: what rollback acts on."""
    seen = exchange(route_group=group, authoritative=Side.APP, profile="status_document")
    return Comparison(seen, outcome, differences=differences, accepted=accepted)


def aliases(pairs: Mapping[str, str] | None = None) -> IdAliases:
    """The engine's read view of a correlation map holding these app id -> legacy id pairs."""
    return AppAliases(dict(pairs or {}))


# ---------------------------------------------------------------- the diff sink and the backends


class ListSink:
    """DiffSink in memory; `wait_for(n)` returns once n comparisons were published."""

    def __init__(self) -> None:
        self.comparisons: list[Comparison] = []
        self.closed = False
        self._changed = asyncio.Event()

    def publish(self, comparison: Comparison) -> None:
        self.comparisons.append(comparison)
        self._changed.set()

    @property
    def stats(self) -> DiffLogStats:
        return DiffLogStats(written=len(self.comparisons))

    async def aclose(self) -> None:
        self.closed = True

    async def wait_for(self, count: int, timeout_s: float = 10.0) -> list[Comparison]:
        async with asyncio.timeout(timeout_s):
            while len(self.comparisons) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.comparisons


@dataclass
class Seen:
    method: str
    raw_path: str
    headers: CIMultiDictProxy[str]
    body: bytes


@dataclass
class FakeBackend:
    """One side. Knob: `delays` (path -> seconds before answering)."""

    side: Side
    seen: list[Seen] = field(default_factory=list)
    delays: dict[str, float] = field(default_factory=dict)
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    server: TestServer | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    def paths(self) -> list[str]:
        return [seen.raw_path for seen in self.seen]

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._record])
        app.router.add_get("/health", self._health)
        app.router.add_post("/api/analysis/start", self._start)
        app.router.add_get("/api/analysis/status/{task_id}", self._status)
        app.router.add_post("/api/portfolio/positions", self._add_position)
        app.router.add_get("/cookies", self._cookies)
        app.router.add_get("/hop", self._hop)
        app.router.add_get("/nocontent", self._no_content)
        app.router.add_get("/notmodified", self._not_modified)
        app.router.add_get("/big/{size}", self._big)
        app.router.add_get("/slow", self._slow)
        app.router.add_get("/gzip", self._gzip)
        app.router.add_get("/truncated", self._truncated)
        app.router.add_route("*", "/{tail:.*}", self._echo)
        return app

    @web.middleware
    async def _record(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        body = await request.read()
        self.seen.append(Seen(request.method, request.raw_path, request.headers, body))
        self.arrived.set()
        delay = self.delays.get(request.path)
        if delay:
            await asyncio.sleep(delay)
        return await handler(request)

    async def _health(self, _: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _start(self, request: web.Request) -> web.Response:
        return web.json_response({"task_id": f"{self.side}-task-{next(self._ids)}"})

    async def _status(self, request: web.Request) -> web.Response:
        return web.json_response({"task_id": request.match_info["task_id"], "status": "running"})

    async def _add_position(self, _: web.Request) -> web.Response:
        return web.json_response({"position_id": f"{self.side}-pos-{next(self._ids)}"})

    async def _cookies(self, _: web.Request) -> web.Response:
        response = web.Response(text="cookies")
        response.headers.add("Set-Cookie", "a=1; Path=/")
        response.headers.add("Set-Cookie", "b=2; Path=/")
        return response

    async def _hop(self, _: web.Request) -> web.Response:
        headers = {"Connection": "X-Private", "X-Private": "secret", "Keep-Alive": "timeout=5"}
        return web.Response(text="hop", headers={**headers, "X-Public": "yes"})

    async def _no_content(self, _: web.Request) -> web.Response:
        return web.Response(status=204)

    async def _not_modified(self, _: web.Request) -> web.Response:
        return web.Response(status=304, headers={"ETag": '"v1"'})

    async def _big(self, request: web.Request) -> web.StreamResponse:
        size = int(request.match_info["size"])
        response = web.StreamResponse()
        await response.prepare(request)
        chunk = self.side.value.encode()[:1] * 65536
        sent = 0
        while sent < size:
            part = chunk[: size - sent]
            await response.write(part)
            sent += len(part)
        await response.write_eof()
        return response

    async def _slow(self, _: web.Request) -> web.Response:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        return web.Response(text="too late")

    async def _gzip(self, _: web.Request) -> web.Response:
        body = gzip.compress(b'{"value": 1}')
        return web.Response(
            body=body, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}
        )

    async def _truncated(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": "100"})
        await response.prepare(request)
        await response.write(b"x" * 10)
        assert request.transport is not None
        request.transport.close()
        return response

    async def _echo(self, request: web.Request) -> web.Response:
        seen = self.seen[-1]
        return web.json_response(
            {
                "method": request.method,
                "path": request.raw_path,
                "body_len": len(seen.body),
                "side": self.side.value,
            }
        )


# ---------------------------------------------------------------- the proxy under test


def proxy_settings(
    legacy_url: str,
    app_url: str,
    root: Path,
    env: Mapping[str, str] | None = None,
    *,
    config: DiffConfig | None = None,
    diff_log_dir: str = "diffs",
) -> Settings:
    """Settings for a proxy in front of two URLs, both ports 0, its state and diff log in `root`."""
    settings = load_settings(
        env or {},
        legacy_url=legacy_url,
        app_url=app_url,
        listen="127.0.0.1:0",
        admin="127.0.0.1:0",
        state_dir=root / "state",
        diff_log_dir=root / diff_log_dir,
    )
    return settings if config is None else replace(settings, config=config)


@dataclass(frozen=True)
class BuiltProxy(Generic[SinkT]):
    """A proxy under test, not served yet: the proxy app, its admin app and what they share."""

    settings: Settings
    sink: SinkT
    registry: CollectorRegistry
    app: web.Application
    admin: web.Application


@overload
def build_proxy(
    settings: Settings, *, sink: None = None, ws_handler: WsHandler | None = None
) -> BuiltProxy[ListSink]: ...
@overload
def build_proxy(
    settings: Settings, *, sink: SinkT, ws_handler: WsHandler | None = None
) -> BuiltProxy[SinkT]: ...
def build_proxy(
    settings: Settings, *, sink: DiffSink | None = None, ws_handler: WsHandler | None = None
) -> BuiltProxy[Any]:
    """The proxy app with a fresh registry and a sink (a ListSink unless given), and its admin."""
    registry = CollectorRegistry()
    used = sink if sink is not None else ListSink()
    app = create_app(settings, sink=used, registry=registry, ws_handler=ws_handler)
    admin = create_admin_app(app, registry=registry)
    return BuiltProxy(settings, used, registry, app, admin)


@dataclass
class Proxy(Generic[SinkT]):
    """The proxy served in front of both FakeBackends, and a client for it and its admin API."""

    client: TestClient[web.Request, web.Application]
    admin: TestClient[web.Request, web.Application]
    sink: SinkT  # a ListSink unless the test passed its own DiffSink
    registry: CollectorRegistry
    legacy: FakeBackend
    app: FakeBackend
    settings: Settings
    proxy_app: web.Application

    async def wait_idle(self) -> None:
        """Until every background shadow of this proxy has finished."""
        await self.proxy_app[CONTEXT].tasks.idle()

    def backend(self, side: Side) -> FakeBackend:
        return self.legacy if side is Side.LEGACY else self.app

    def metric(self, name: str, **labels: str) -> float:
        return metric(self.registry, name, **labels)


class SettingsFactory(Protocol):
    """`make_settings`: Settings in front of the FakeBackends (see `proxy_settings`)."""

    def __call__(
        self, env: Mapping[str, str] | None = None, config: DiffConfig = DEFAULT_CONFIG
    ) -> Settings: ...


@dataclass(frozen=True)
class ProxyFactory:
    """`make_proxy`: a built proxy served on port 0 (TestServer cancels handlers on disconnect)."""

    backends: tuple[FakeBackend, FakeBackend]
    settings: SettingsFactory
    server: ServerFactory
    client: ClientFactory

    @overload
    async def __call__(
        self,
        env: Mapping[str, str] | None = None,
        config: DiffConfig = DEFAULT_CONFIG,
        sink: None = None,
        ws_handler: WsHandler | None = None,
    ) -> Proxy[ListSink]: ...
    @overload
    async def __call__(
        self,
        env: Mapping[str, str] | None = None,
        config: DiffConfig = DEFAULT_CONFIG,
        *,
        sink: SinkT,
        ws_handler: WsHandler | None = None,
    ) -> Proxy[SinkT]: ...
    async def __call__(
        self,
        env: Mapping[str, str] | None = None,
        config: DiffConfig = DEFAULT_CONFIG,
        sink: DiffSink | None = None,
        ws_handler: WsHandler | None = None,
    ) -> Proxy[Any]:
        built = build_proxy(self.settings(env, config), sink=sink, ws_handler=ws_handler)
        server = await self.server(built.app)
        admin = await self.client(built.admin)
        client = await self.client(server)
        legacy, app = self.backends
        return Proxy(
            client, admin, built.sink, built.registry, legacy, app, built.settings, built.app
        )


@asynccontextmanager
async def running(settings: Settings, sink: ListSink) -> AsyncIterator[tuple[str, str]]:
    """The real `serve()` in a task (real TCP ports); yields (proxy_url, admin_url) once bound,
    stops it on exit. It builds its own app, admin app and registry: that is what it tests."""
    stop = asyncio.Event()
    ready: asyncio.Future[tuple[str, str]] = asyncio.get_running_loop().create_future()
    task = asyncio.ensure_future(
        serve(
            settings,
            sink=sink,
            stop=stop,
            on_ready=lambda proxy, admin: ready.set_result((proxy, admin)),
        )
    )
    try:
        yield await asyncio.wait_for(ready, timeout=10)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=20)


READY = re.compile(rb"shadowproxy listening on (\S+) \(admin (\S+)\)")


@dataclass
class ProxyProcess:
    """A real `shadowproxy run` subprocess and the lines it logged (warnings and errors) so far."""

    process: asyncio.subprocess.Process
    url: str
    admin_url: str
    log: list[bytes] = field(default_factory=list)

    def events(self, event: str) -> list[dict[str, Any]]:
        """The JSON log lines of one event, in order (a crash's traceback is not JSON)."""
        found = []
        for line in self.log:
            try:
                parsed = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(parsed, dict) and parsed.get("event") == event:
                found.append(parsed)
        return found

    async def metric(self, name: str, **labels: str) -> float:
        """One sample of the admin API's /metrics page, 0 when it is not there."""
        async with ClientSession() as session, session.get(f"{self.admin_url}/metrics") as page:
            text = await page.text()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and sample.labels == labels:
                    return sample.value
        return 0.0


@asynccontextmanager
async def proxy_process(
    legacy_url: str,
    app_url: str,
    workdir: Path,
    env: Mapping[str, str] | None = None,
    *,
    stderr: Path | None = None,
    args: Sequence[str] = (),
) -> AsyncIterator[ProxyProcess]:
    """`shadowproxy run` on ports 0 in front of two URLs, its state and diff log (`diff_logs/`)
    in `workdir`, logging warnings and errors into `ProxyProcess.log` (or to the file `stderr`,
    read into `log` once it exited); `args` are more options of `run`. SIGTERM on exit (SIGKILL
    if it still runs 30 s later)."""
    log_file = None if stderr is None else os.open(stderr, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "shadowproxy", "run", "--legacy", legacy_url, "--app", app_url,
            "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--log-level", "warning",
            "--diff-log-dir", str(workdir / "diff_logs"), "--state-dir", str(workdir / "state"),
            *args, env={**os.environ, **(env or {})},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE if log_file is None else log_file,
        )  # fmt: skip
    finally:
        if log_file is not None:
            os.close(log_file)  # the child has its own copy
    assert process.stdout is not None
    log: list[bytes] = []
    collecting = (
        None if process.stderr is None else asyncio.ensure_future(_collect(process.stderr, log))
    )
    try:
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        ready = READY.search(line)
        assert ready is not None, f"shadowproxy run did not start: {line!r} {log}"
        yield ProxyProcess(process, ready[1].decode(), ready[2].decode(), log)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()
        if collecting is not None:
            await collecting
        elif stderr is not None:  # it exited: the file is complete
            log.extend((await asyncio.to_thread(stderr.read_bytes)).splitlines())


async def _collect(stream: asyncio.StreamReader, into: list[bytes]) -> None:
    while line := await stream.readline():
        into.append(line.rstrip(b"\n"))
