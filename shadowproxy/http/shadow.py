"""Shadow dispatch: decide if a request is shadowed, then run its comparison off the hot path.

The hot path only makes cheap decisions (flag, policy, sampling, capacity) and hands the
authoritative observation over through a future once the client has its answer. Everything
that parses, waits or could fail (the shadow call, correlation learning, decompression, the
diff, publishing) runs in one background task per exchange, bounded by
SHADOWPROXY_MAX_INFLIGHT_SHADOWS: when full a read's shadow is dropped and counted, never queued.
A state-changing request (a non-safe method, or a route that mints an id) is not dropped there:
it may use a reserve of as many slots again, because a write the shadow never sees leaves the
two sides' state apart and every later comparison of that flow would blame a backend for it.
When even the reserve is full (or the write was sampled out, or its body is over the diff limit)
the flow is remembered as desynchronized (http/desync.py, skip `write_not_shadowed`), and the
comparisons that differ only where it left the sides apart are `state_diverged` skips.

Shadow calls reach the shadow in the client's order around writes: each side keeps its own
store, and background calls run concurrently, so a shadow `DELETE` could otherwise overtake the
shadow `POST` the client sent before it, or a read the writes before it. A shadow read waits for
the shadow write dispatched before it; a shadow write waits for every shadow call dispatched
before it (each wait bounded by the shadow timeout). Reads between two writes stay concurrent.

Scientist's rule: every failure in that task goes to the pipeline's `failure()`, which logs an
event with key-values (route template, ids, exception type; never headers, bodies or raw paths)
and counts `shadowproxy_shadow_failures_total{stage}`. Nothing from here can reach the client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace

import aiohttp
import orjson
from aiohttp import web
from multidict import CIMultiDict

from shadowproxy.contracts.inspect import Inspector
from shadowproxy.correlation import CorrelationMap
from shadowproxy.diff.config import SAFE_METHODS
from shadowproxy.errors import StoreUnavailable
from shadowproxy.http.desync import Desync
from shadowproxy.http.exchange import side_headers
from shadowproxy.http.flows import Flows
from shadowproxy.http.headers import replayable
from shadowproxy.http.noise import NoiseSampler
from shadowproxy.http.upstream import Body, Upstream, decoded_body, observe
from shadowproxy.metrics import ProxyMetrics
from shadowproxy.publish import Pipeline
from shadowproxy.rollback.sampling import SampleRates
from shadowproxy.settings import Settings
from shadowproxy.tasks import Spawn
from shadowproxy.types import (
    Comparator,
    Exchange,
    Observation,
    Outcome,
    Role,
    RouteMatch,
    RouteSpec,
    SentRequest,
    Side,
    SkipReason,
)


@dataclass(frozen=True, slots=True)
class Captured:
    """The authoritative side's answer as the shadow task receives it."""

    observation: Observation
    overflowed: bool  # the body outgrew SHADOWPROXY_MAX_DIFF_BYTES: not comparable


AuthoritativeFuture = asyncio.Future[Captured | None]  # None: the client went away first
Sent = asyncio.Future[None]  # done once a shadow call was answered (or will never be sent)


@dataclass(frozen=True, slots=True)
class ShadowRequest:
    exchange: Exchange
    match: RouteMatch
    headers: CIMultiDict[str]
    body: Body


class _Aborted(Exception):
    """A stage failed and was already reported; the exchange's comparison ends here."""


class ShadowDispatcher:
    def __init__(
        self,
        *,
        settings: Settings,
        upstreams: Mapping[Side, Upstream],
        correlation: CorrelationMap,
        engine: Comparator,
        pipeline: Pipeline,
        metrics: ProxyMetrics,
        spawn: Spawn,
        inspector: Inspector,
        rates: SampleRates,
        noise: NoiseSampler | None = None,
    ) -> None:
        self._settings = settings
        self._noise = noise
        self._rates = rates
        self._inspector = inspector
        self._upstreams = upstreams
        self._correlation = correlation
        self._engine = engine
        self._pipeline = pipeline
        self._metrics = metrics
        self._spawn = spawn
        self._timeout = aiohttp.ClientTimeout(total=settings.shadow_timeout_s)
        self._inflight = 0
        self._ws_open = 0
        # Shadows that finish together (a slow shadow side answering a burst) would otherwise
        # run all their diffs in one event-loop turn, and client requests would wait for all;
        # under this lock they take turns, one comparison per turn of the loop.
        self._cpu = asyncio.Lock()
        self.desync = Desync()
        self.flows = Flows(correlation, rates, self.desync)  # sampling decided once per flow
        self._last_write: Sent | None = None
        self._reads_since_write: list[Sent] = []

    def dispatch(
        self,
        client: web.Request,
        exchange: Exchange,
        match: RouteMatch,
        body: Body,
        *,
        body_too_large: bool,
    ) -> AuthoritativeFuture | None:
        """Start the shadow now (concurrently with the authoritative call) or record why not.

        Returns the future the caller must resolve with the authoritative answer, or None. The
        shadow's headers are built only once it is decided that there is a shadow.
        """
        if self._noise is not None and _changes_state(exchange.method, match.spec):
            self._noise.changed_state()
        reason = self.skip_reason(exchange, match, body_too_large=body_too_large)
        if reason is not None:
            self._pipeline.skip(exchange, reason)
            if reason in _DESYNCING and _changes_state(exchange.method, match.spec):
                out = reason is SkipReason.SAMPLED_OUT
                return self._desynchronized(exchange, match, sampled_out=out)
            return None
        spec = match.spec
        request = ShadowRequest(exchange, match, side_headers(client, exchange, shadow=True), body)
        future: AuthoritativeFuture = asyncio.get_running_loop().create_future()
        creating = self._correlation.begin_create() if spec.creates_id else None
        sent, after = self._order(exchange.method)
        self._inflight += 1
        self._metrics.shadow_inflight.inc()
        self._spawn(
            self._run(request, future, creating, sent, after),
            name=f"shadow {exchange.comparison_id}",
        )
        return future

    def _order(self, method: str) -> tuple[Sent, tuple[Sent, ...]]:
        """This shadow call's `sent` future, and the earlier ones it must not overtake."""
        sent: Sent = asyncio.get_running_loop().create_future()
        last = () if self._last_write is None else (self._last_write,)
        if method in SAFE_METHODS:
            self._reads_since_write = [f for f in self._reads_since_write if not f.done()]
            self._reads_since_write.append(sent)
            return sent, last
        after = (*last, *self._reads_since_write)
        self._last_write, self._reads_since_write = sent, []
        return sent, after

    def skip_reason(
        self,
        exchange: Exchange,
        match: RouteMatch,
        *,
        body_too_large: bool = False,
        websocket: bool = False,
    ) -> SkipReason | None:
        """Why this request gets no shadow, or None. Websocket shadows have their own bound."""
        settings = self._settings
        if not settings.shadow_enabled:
            return SkipReason.SHADOW_OFF
        if not match.spec.mirror:
            return SkipReason.SIDE_EFFECT_POLICY
        if not self.flows.sampled(exchange, match):
            return SkipReason.SAMPLED_OUT
        if body_too_large:
            return SkipReason.BODY_TOO_LARGE
        if websocket:
            full = self._ws_open >= settings.max_ws_shadows
        elif _changes_state(exchange.method, match.spec):
            if self._inflight >= 2 * settings.max_inflight_shadows:  # the write reserve too
                return SkipReason.WRITE_NOT_SHADOWED
            return None
        else:
            full = self._inflight >= settings.max_inflight_shadows
        return SkipReason.QUEUE_FULL if full else None

    def _desynchronized(
        self, exchange: Exchange, match: RouteMatch, *, sampled_out: bool
    ) -> AuthoritativeFuture | None:
        """Remember the flow a write the shadow did not get belongs to: the id it names now, the
        id the authoritative side mints for it once the client has the answer. A sampled-out
        flow is remembered as such too: its later requests are sampled out with it."""
        named = self._correlation.key(match, exchange.path)
        if named is not None:
            self._remember(named, sampled_out=sampled_out)
        minted = match.spec.creates_id
        if minted is None:
            return None
        future: AuthoritativeFuture = asyncio.get_running_loop().create_future()
        learn = self._learn_desync(future, minted, sampled_out=sampled_out)
        self._spawn(learn, name=f"desync {exchange.comparison_id}")
        return future

    def _remember(self, flow: str, *, sampled_out: bool) -> None:
        self.desync.add(flow)
        if sampled_out:
            self._correlation.mark_sampled_out(flow)

    async def _learn_desync(
        self, authoritative: AuthoritativeFuture, key: str, *, sampled_out: bool
    ) -> None:
        captured = await authoritative
        if captured is None or captured.observation.failed:
            return
        observation = _decoded(captured.observation, self._settings.max_diff_bytes)
        try:
            flow = None if observation is None else _minted_id(observation.body, key)
        except orjson.JSONDecodeError:
            return  # no id minted: nothing was created that could be missing on the shadow
        if flow is not None:
            self._remember(flow, sampled_out=sampled_out)

    def ws_opened(self) -> None:
        """A shadow websocket started; `ws_closed` must follow once it ended, however it ended."""
        self._ws_open += 1

    def ws_closed(self) -> None:
        self._ws_open -= 1

    # ------------------------------------------------------------------ background

    async def _run(
        self,
        request: ShadowRequest,
        authoritative: AuthoritativeFuture,
        creating: asyncio.Future[None] | None,
        sent: Sent,
        after: tuple[Sent, ...],
    ) -> None:
        try:
            await self._compare(request, authoritative, sent, after)
        except _Aborted:
            pass
        except Exception as exc:  # a bug outside the named stages still must not escape
            self._pipeline.failure("dispatch", exc, request.exchange)
        finally:
            if not sent.done():
                sent.set_result(None)
            if creating is not None:
                self._correlation.end_create(creating)
            self._inflight -= 1
            self._metrics.shadow_inflight.dec()

    async def _compare(
        self,
        request: ShadowRequest,
        authoritative: AuthoritativeFuture,
        sent: Sent,
        after: tuple[Sent, ...],
    ) -> None:
        exchange = request.exchange
        target = exchange.authoritative.other
        with self._stage("correlation", exchange):
            try:
                path = await self._correlation.shadow_target(
                    request.match, exchange.path, target, timeout_s=self._settings.shadow_timeout_s
                )
            except StoreUnavailable:
                self._pipeline.skip(exchange, SkipReason.STORE_UNAVAILABLE)
                return
        if path is None:
            self._pipeline.skip(exchange, self.flows.unresolved(exchange, request.match))
            return

        if after:
            await asyncio.wait(after, timeout=self._settings.shadow_timeout_s)
        noise, legacy_path = self._noise, path if target is Side.LEGACY else exchange.path
        secondary = noise and noise.ask_secondary(
            exchange, legacy_path, request.headers, request.body
        )
        with self._stage("send", exchange):
            shadow, overflowed = await self._observe(request, target, path)
        sent.set_result(None)
        self._metrics.upstream(target, Role.SHADOW, exchange.route_group, shadow.latency_s)

        captured = await authoritative
        if captured is None:
            self._pipeline.skip(exchange, SkipReason.CLIENT_DISCONNECTED)
            return
        if overflowed or captured.overflowed:
            self._pipeline.skip(exchange, SkipReason.BODY_TOO_LARGE)
            return

        async with self._cpu:
            await asyncio.sleep(0)  # the loop polls client I/O before each comparison's CPU work
            legacy = self._finish(request, shadow, captured)
        if noise and secondary and legacy:  # an A/A sample: the secondary's answer too
            with self._stage("noise", exchange):
                ids = self._correlation.aliases
                await noise.secondary_answered(exchange, legacy, secondary, ids, self._cpu)

    def _finish(
        self, request: ShadowRequest, shadow: Observation, captured: Captured
    ) -> Observation | None:
        """Normalize, learn ids, diff and publish: the CPU-bound part, run under `_cpu`.

        Returns the legacy side's decoded answer (for an A/A sample), None if not compared."""
        exchange, spec, target = (
            request.exchange,
            request.match.spec,
            request.exchange.authoritative.other,
        )
        limit = self._settings.max_diff_bytes
        with self._stage("normalize", exchange):
            shadow_view = _decoded(shadow, limit)
            authoritative_view = _decoded(captured.observation, limit)
        if shadow_view is None or authoritative_view is None:
            self._pipeline.skip(exchange, SkipReason.NOT_COMPARABLE)
            return None
        legacy, app = (
            (shadow_view, authoritative_view)
            if target is Side.LEGACY
            else (authoritative_view, shadow_view)
        )
        if spec.creates_id:
            with self._stage("correlation", exchange):
                self._learn(spec.creates_id, legacy, app)
        with self._stage("diff", exchange):
            comparison = self._engine(exchange, legacy, app, self._correlation.aliases)
        client = None
        if self._inspector.wants(exchange.method, exchange.route):
            with self._stage("client", exchange):
                client = self._inspector.observations(
                    exchange.method, exchange.route, exchange.authoritative, legacy, app
                )
        body = request.body if isinstance(request.body, bytes) else None
        sent = SentRequest(replayable(request.headers), body)
        if (
            comparison.outcome is Outcome.MISMATCH
            and self.desync
            and self.desync.explains(comparison.differences)
        ):  # what differs is what the proxy itself left apart: no backend's mismatch
            reason = SkipReason.STATE_DIVERGED.value
            comparison = replace(comparison, outcome=Outcome.SKIPPED, reason=reason)
        self._pipeline.publish(replace(comparison, client=client, request=sent))
        if self._noise is not None:
            with self._stage("noise", exchange):
                self._noise.read(comparison, authoritative_view, self._correlation.aliases)
        return legacy

    async def _observe(
        self, request: ShadowRequest, target: Side, path: str
    ) -> tuple[Observation, bool]:
        return await observe(
            self._upstreams[target],
            request.exchange.method,
            path,
            request.headers,
            request.body,
            client_timeout=self._timeout,
            limit=self._settings.max_diff_bytes,
        )

    def _learn(self, key: str, legacy: Observation, app: Observation) -> None:
        """Pair the ids both sides minted; only when both really created something."""
        if legacy.failed or app.failed or legacy.status != app.status:
            return
        legacy_id, app_id = _minted_id(legacy.body, key), _minted_id(app.body, key)
        if legacy_id is not None and app_id is not None:
            self._correlation.learn(legacy_id, app_id)

    # ------------------------------------------------------------------ failures

    @contextmanager
    def _stage(self, stage: str, exchange: Exchange) -> Iterator[None]:
        try:
            yield
        except Exception as exc:
            self._pipeline.failure(stage, exc, exchange)
            raise _Aborted(stage) from exc


def _decoded(observation: Observation, limit: int) -> Observation | None:
    body = decoded_body(observation, limit)
    if body is None:
        return None
    return observation if body is observation.body else replace(observation, body=body)


def _minted_id(body: bytes, key: str) -> str | None:
    document = orjson.loads(body)
    for part in key.split("."):
        if not isinstance(document, dict):
            return None
        document = document.get(part)
    return document if isinstance(document, str) and document else None


# skips that leave the sides' state apart when the request changes state (shadowing off and
# the side-effect policy are the operator's decisions: nothing is compared as if in step)
_DESYNCING = frozenset(
    {SkipReason.WRITE_NOT_SHADOWED, SkipReason.BODY_TOO_LARGE, SkipReason.SAMPLED_OUT}
)


def _changes_state(method: str, spec: RouteSpec) -> bool:
    return method not in SAFE_METHODS or spec.creates_id is not None
