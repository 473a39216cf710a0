"""The proxy application: `create_app(settings, ...)` and the catch-all handler.

The handler is the hot path. It reads (at most SHADOWPROXY_MAX_DIFF_BYTES of) the request
body, starts the shadow in the background, forwards to the authoritative side and streams its
answer back. It never parses JSON and never waits for the shadow; it only hands the
authoritative observation to the shadow task through a future once the client has it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp
import structlog
from aiohttp import web
from multidict import CIMultiDict
from prometheus_client import CollectorRegistry

from shadowproxy.contracts.drift import ShapeLearner
from shadowproxy.contracts.inspect import Inspector
from shadowproxy.correlation import CorrelationMap
from shadowproxy.cutover.readiness import Readiness, consumer_groups
from shadowproxy.diff.engine import DiffEngine
from shadowproxy.diff.known import KnownDifferences
from shadowproxy.diff.noise import NoiseTable
from shadowproxy.difflog.record import RecordBuilder, should_log
from shadowproxy.difflog.watch import Watches
from shadowproxy.errors import UpstreamError
from shadowproxy.http.cluster import Cluster
from shadowproxy.http.context import (
    ACCEPTANCES,
    CLUSTER,
    CONTEXT,
    FLAGS,
    INSPECTOR,
    METRICS,
    NOISE,
    READINESS,
    ROUTES,
    SAMPLING,
    SETTINGS,
    WATCHES,
    ProxyContext,
    WsHandler,
)
from shadowproxy.http.edge import expect, expect_unrouted, http_1_only
from shadowproxy.http.exchange import max_forwards, origin_form, request_id, shape, side_headers
from shadowproxy.http.headers import (
    AUTHORITATIVE_MARK,
    REQUEST_ID,
    as_tuple,
    host_problem,
    is_websocket_upgrade,
    upgrades_connection,
)
from shadowproxy.http.noise import OFF, build_sampler, noise_source
from shadowproxy.http.shadow import Captured, ShadowDispatcher
from shadowproxy.http.shapes import keep_shapes
from shadowproxy.http.upstream import (
    Body,
    Upstream,
    failed,
    new_capture,
    new_session,
    read_request_body,
    stream_answer,
)
from shadowproxy.metrics import ProxyMetrics
from shadowproxy.publish import Pipeline, Stage
from shadowproxy.redact import redact_path
from shadowproxy.rollback.accepted import Acceptances
from shadowproxy.rollback.flags import Flags
from shadowproxy.rollback.guard import RollbackGuard
from shadowproxy.rollback.sampling import SampleRates
from shadowproxy.rollback.windows import WindowSettings
from shadowproxy.routing import build_route_table
from shadowproxy.settings import Settings
from shadowproxy.tasks import BackgroundTasks
from shadowproxy.types import (
    DiffSink,
    Exchange,
    ExchangeKind,
    Observation,
    Role,
    RouteSpec,
    Side,
)

log = structlog.get_logger(__name__)

POOL_SIZE = 256  # connections per side; shadows are bounded separately by the inflight limit


def create_app(
    settings: Settings,
    *,
    sink: DiffSink,
    registry: CollectorRegistry,
    ws_handler: WsHandler | None = None,
) -> web.Application:
    """The proxy. Raises StateFileError (a SettingsError) when flags.json or the runtime known
    differences' file is unusable."""
    app = web.Application(middlewares=[http_1_only])
    metrics = ProxyMetrics(registry)
    metrics.watch_difflog(lambda: sink.stats)
    app[SETTINGS] = settings
    app[METRICS] = metrics
    app[FLAGS] = Flags(
        settings.authoritative,
        settings.state_dir,
        on_change=metrics.authoritative,
        on_version=metrics.flags_version.set,
        on_rollback=metrics.rolled_back,
    )
    app[ACCEPTANCES] = Acceptances(
        KnownDifferences(settings.config.known_differences), settings.state_dir
    )
    app[SAMPLING] = SampleRates(
        settings.sample_rate,
        settings.sample_rates,
        settings.state_dir,
        record=app[FLAGS].record,
        version=lambda: app[FLAGS].version,
    )
    app[NOISE] = NoiseTable(settings.noise)
    app[WATCHES] = Watches(
        RecordBuilder.create(settings.config.redact_json_paths, replica=settings.replica)
    )
    app[ROUTES] = routes = build_route_table(settings.config)
    app[INSPECTOR] = Inspector(
        settings.consumers, None if settings.drift is None else ShapeLearner(settings.drift)
    )
    app[READINESS] = Readiness(
        consumer_groups(settings.consumers, routes),
        min_comparisons=settings.cutover_min_comparisons,
        window_s=settings.cutover_window_s,
    )
    metrics.watch_cutover(
        lambda: ((v.group, v.consumer, v.verdict) for v in app[READINESS].verdicts())
    )
    app.cleanup_ctx.append(_Lifecycle(sink))
    app.cleanup_ctx.append(keep_shapes)
    app.router.add_route("*", "/{tail:.*}", _ProxyHandler(ws_handler).handle, expect_handler=expect)
    expect_unrouted(app.router)
    return app


class _Lifecycle:
    """Opens the per-side pools and the correlation log; at shutdown drains shadows, then closes.

    The diff sink is the caller's: it is opened before the app and closed after it (`serve`).
    """

    def __init__(self, sink: DiffSink) -> None:
        self._sink = sink

    async def __call__(self, app: web.Application) -> AsyncIterator[None]:
        settings, metrics = app[SETTINGS], app[METRICS]
        tasks = BackgroundTasks()
        upstreams = {
            side: Upstream(side, settings.upstream_url(side), new_session(POOL_SIZE))
            for side in Side
        }
        correlation = CorrelationMap(settings.state_dir)
        metrics.correlation_entries.set_function(lambda: len(correlation))
        windows = WindowSettings(
            window_s=settings.parity_window_s,
            min_comparisons=settings.parity_min_comparisons,
            max_mismatch_ratio=settings.parity_max_mismatch,
            max_app_error_ratio=settings.app_error_max,
        )
        guard = RollbackGuard(
            app[FLAGS],
            metrics,
            enabled=settings.auto_rollback,
            after=settings.rollback_after,
            windows=windows,
        )
        cluster = None
        if settings.store == "redis":
            cluster = Cluster(
                settings,
                flags=app[FLAGS],
                acceptances=app[ACCEPTANCES],
                rates=app[SAMPLING],
                correlation=correlation,
                guard=guard,
                metrics=metrics,
                noise=app[NOISE],
            )
            app[CLUSTER] = cluster
            await cluster.start()
        pipeline = Pipeline(
            metrics,
            self._sink,
            Stage("guard", guard.publish),
            Stage("cutover", app[READINESS].publish),
            watches=app[WATCHES],
        )
        measured = noise_source(settings) != OFF
        engine = DiffEngine(
            settings.config,
            secondary_for=lambda outcome: should_log(outcome, log_matches=settings.log_matches),
            known=app[ACCEPTANCES].known,
            noise=app[NOISE] if measured else None,
        )
        noise = build_sampler(
            settings,
            table=app[NOISE],
            engine=engine,
            routes=app[ROUTES],
            metrics=metrics,
            spawn=tasks.spawn,
            pool_size=POOL_SIZE,
        )
        metrics.watch_known(engine.known.counts)
        for entry in engine.known.expired():  # a debt past its due date: say whose it is
            log.warning(
                "known_difference_expired",
                route=entry.route,
                field=entry.field,
                expired_on=entry.expires,
                owner=entry.owner,
                reason=entry.reason,
            )
        app[CONTEXT] = ProxyContext(
            settings=settings,
            routes=app[ROUTES],
            upstreams=upstreams,
            flags=app[FLAGS],
            correlation=correlation,
            engine=engine,
            pipeline=pipeline,
            metrics=metrics,
            shadow=ShadowDispatcher(
                settings=settings,
                upstreams=upstreams,
                correlation=correlation,
                engine=engine,
                pipeline=pipeline,
                metrics=metrics,
                spawn=tasks.spawn,
                inspector=app[INSPECTOR],
                rates=app[SAMPLING],
                noise=noise,
            ),
            tasks=tasks,
            inspector=app[INSPECTOR],
            upstream_timeout=aiohttp.ClientTimeout(
                total=None,
                sock_connect=settings.upstream_timeout_s,
                sock_read=settings.upstream_timeout_s,
            ),
        )
        try:
            yield
        finally:
            await tasks.drain(settings.shutdown_grace_s)
            for upstream in upstreams.values():
                await upstream.session.close()
            if noise is not None:
                await noise.close()
            if cluster is not None:
                await cluster.close()
            correlation.close()


def _access(request: web.Request, response: web.StreamResponse, seconds: float) -> None:
    """SHADOWPROXY_ACCESS_LOG: one line per client request in the proxy's log shape; the route
    template and the redacted path, never a raw query string (a websocket logs at its end)."""
    ctx = request.app[CONTEXT]
    spec = ctx.routes.match(request.method, origin_form(request).partition("?")[0]).spec
    log.info(
        "access",
        method=request.method,
        route=spec.template,
        route_group=spec.group.value,
        path=redact_path(request.raw_path),
        status=response.status,
        side=response.headers.get(AUTHORITATIVE_MARK),
        latency_ms=round(seconds * 1000, 3),
        request_id=response.headers.get(REQUEST_ID),
    )


class _ProxyHandler:
    def __init__(self, ws_handler: WsHandler | None) -> None:
        self._ws_handler = ws_handler

    async def handle(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        response = await self._handle(request)
        if "Upgrade" in request.headers and upgrades_connection(request.headers):
            # aiohttp's parser drops what follows a request to upgrade in the same read (parses
            # nothing more after a websocket one): no other request is safe here, so close
            response.force_close()
        if request.app[CONTEXT].settings.access_log:
            _access(request, response, time.perf_counter() - started)
        return response

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        ctx = request.app[CONTEXT]
        match = ctx.routes.match(request.method, origin_form(request).partition("?")[0])
        spec = match.spec
        side = ctx.flags.authoritative(spec.group)
        rid = request_id(request)
        # Answered here, nothing forwarded: a bad Host (RFC 9112 §3.2), and an OPTIONS whose
        # Max-Forwards says this proxy is the last hop (RFC 9110 §7.6.2).
        problem = host_problem(request.headers, (request.version.major, request.version.minor))
        if problem is not None:
            return detail_response(400, problem, side, request_id=rid)
        if request.method == "OPTIONS" and max_forwards(request) == 0:
            return _allow_response(spec, side, rid)
        # Websocket upgrades go to the relay (501 without one); other upgrades (h2c, ...) are
        # not relayed: answered as plain requests, Upgrade being hop-by-hop. A plain GET on a
        # websocket route is forwarded like any request, so the backend gives its own answer.
        upgrade = "Upgrade" in request.headers and is_websocket_upgrade(request.headers)
        if upgrade and self._ws_handler is not None:
            return await self._ws_handler(request, match, ctx)
        if upgrade:
            return detail_response(501, "websocket relay not enabled", side, request_id=rid)

        exchange = shape(request, match, side, ExchangeKind.HTTP, flags_version=ctx.flags.version)
        body, too_large = await read_request_body(request, ctx.settings.max_diff_bytes)
        handover = ctx.shadow.dispatch(
            request, exchange, match, None if too_large else body, body_too_large=too_large
        )
        captured: Captured | None = None
        try:
            response, captured = await self._forward(
                request,
                ctx,
                exchange,
                ctx.correlation.target(match, exchange.path, side),
                side_headers(request, exchange, shadow=False),
                body,
            )
        finally:
            if handover is not None and not handover.done():
                handover.set_result(captured)  # None when the client went away (cancelled)
        ctx.metrics.request(spec.group, spec.template, request.method, side, response.status)
        return response

    @staticmethod
    async def _forward(
        request: web.Request,
        ctx: ProxyContext,
        exchange: Exchange,
        path: str,
        headers: CIMultiDict[str],
        body: Body,
    ) -> tuple[web.StreamResponse, Captured]:
        side = exchange.authoritative
        timeout = ctx.upstream_timeout
        started = time.perf_counter()
        capture = new_capture(ctx.settings.max_diff_bytes)
        try:
            upstream = await ctx.upstreams[side].send(request.method, path, headers, body, timeout)
        except UpstreamError as exc:
            observation = failed(exc, started)
            ctx.metrics.upstream(
                side, Role.AUTHORITATIVE, exchange.route_group, observation.latency_s
            )
            refused = detail_response(exc.status, str(exc), side, request_id=exchange.request_id)
            return refused, Captured(observation, False)
        async with upstream:
            response = await stream_answer(
                request, upstream, side=side, capture=capture, request_id=exchange.request_id
            )
        elapsed = time.perf_counter() - started
        ctx.metrics.upstream(side, Role.AUTHORITATIVE, exchange.route_group, elapsed)
        observation = Observation(
            side=side,
            status=upstream.status,
            headers=as_tuple(upstream.headers),
            body=bytes(capture.data),
            latency_s=elapsed,
            error=capture.error,
        )
        return response, Captured(observation, capture.overflowed)


_ANY_METHOD = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _allow_response(spec: RouteSpec, side: Side, rid: str) -> web.Response:
    """The proxy's own answer to OPTIONS: the route's methods, or any for an unknown route."""
    methods = set(spec.methods or _ANY_METHOD) | {"OPTIONS"}
    if "GET" in methods:
        methods.add("HEAD")
    headers = {"Allow": ", ".join(sorted(methods)), AUTHORITATIVE_MARK: side, REQUEST_ID: rid}
    return web.Response(status=200, headers=headers)


def detail_response(
    status: int, detail: str, side: Side, *, request_id: str | None = None
) -> web.Response:
    """FastAPI-style error body, so a dashboard parses the proxy's errors like the backends'."""
    headers = {AUTHORITATIVE_MARK: side.value}
    if request_id is not None:
        headers[REQUEST_ID] = request_id
    return web.json_response({"detail": detail}, status=status, headers=headers)
