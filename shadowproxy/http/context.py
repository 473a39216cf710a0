"""Everything a request handler needs, built once per proxy app and stored under a typed AppKey.

The websocket relay receives the same `ProxyContext`, so it shares the per-side keep-alive
pools, the flags, the correlation map, the engine, the comparison pipeline, the metrics and the
task set.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

from shadowproxy.contracts.inspect import Inspector
from shadowproxy.correlation import CorrelationMap
from shadowproxy.cutover.readiness import Readiness
from shadowproxy.diff.engine import DiffEngine
from shadowproxy.diff.noise import NoiseTable
from shadowproxy.difflog.watch import Watches
from shadowproxy.http.cluster import Cluster
from shadowproxy.http.shadow import ShadowDispatcher
from shadowproxy.http.upstream import Upstream
from shadowproxy.metrics import ProxyMetrics
from shadowproxy.publish import Pipeline
from shadowproxy.rollback.accepted import Acceptances
from shadowproxy.rollback.flags import Flags
from shadowproxy.rollback.sampling import SampleRates
from shadowproxy.routing import RouteTable
from shadowproxy.settings import Settings
from shadowproxy.tasks import BackgroundTasks
from shadowproxy.types import RouteMatch, Side

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ProxyContext:
    settings: Settings
    routes: RouteTable
    upstreams: Mapping[Side, Upstream]  # one ClientSession (keep-alive pool) per side
    flags: Flags
    correlation: CorrelationMap
    engine: DiffEngine  # a Comparator; the websocket relay also uses compare_values
    pipeline: Pipeline  # every comparison goes out through it: metrics, diff log, guard
    metrics: ProxyMetrics
    shadow: ShadowDispatcher  # the bounded background dispatcher (limiter + failure handler)
    tasks: BackgroundTasks
    inspector: Inspector  # consumer contracts and drift, run on both answers in the background
    upstream_timeout: aiohttp.ClientTimeout  # the authoritative call's, from the settings

    def session(self, side: Side) -> aiohttp.ClientSession:
        return self.upstreams[side].session

    def spawn(self, coro: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
        return self.tasks.spawn(coro, name=name)


WsHandler = Callable[[web.Request, RouteMatch, ProxyContext], Awaitable[web.StreamResponse]]

CONTEXT = web.AppKey("shadowproxy.http.context", ProxyContext)
SETTINGS = web.AppKey("shadowproxy.settings", Settings)
FLAGS = web.AppKey("shadowproxy.rollback.flags", Flags)
METRICS = web.AppKey("shadowproxy.metrics", ProxyMetrics)
ROUTES = web.AppKey("shadowproxy.routing", RouteTable)
READINESS = web.AppKey("shadowproxy.cutover.readiness", Readiness)
INSPECTOR = web.AppKey("shadowproxy.contracts.inspect", Inspector)
ACCEPTANCES = web.AppKey("shadowproxy.rollback.accepted", Acceptances)
WATCHES = web.AppKey("shadowproxy.difflog.watch", Watches)
SAMPLING = web.AppKey("shadowproxy.rollback.sampling", SampleRates)
NOISE = web.AppKey("shadowproxy.diff.noise", NoiseTable)  # measured or not (http/noise.py)
CLUSTER = web.AppKey("shadowproxy.http.cluster", Cluster)  # only with SHADOWPROXY_STORE=redis
