"""The admin API, on its own port so it is never exposed where the dashboard traffic is.

`/metrics` for Prometheus, `/healthz` (alive) and `/readyz` (every side that is authoritative for
some route group answers `GET /health`; a shadow-only side that is down is reported, not fatal,
because the clients never depend on it),
the flag endpoints (`ops/control.py`: flip one group, move to a phase, roll back in one step,
clear runtime overrides, the Alertmanager webhook), and what an operator reads: `/phase`,
`/events` (the audit trail), `/parity` (per route group over a window), `/cutover` (readiness per
route group and consumer) and `/drift` (the shapes learned from legacy's answers); the known
differences, listed, accepted from a diff-log signature and withdrawn (`ops/known_api.py`), and
the watches a replay waits on for its requests' verdicts (`ops/watch_api.py`), the sample
rates per route group (`ops/sampling_api.py`) and the measured noise (`ops/noise_api.py`).
Who may call what is `ops/admin_access.py`. Bad input is a 400 with a FastAPI-style
`{"detail": ...}` body.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.aiohttp import make_aiohttp_handler

from shadowproxy.errors import StoreUnavailable, UpstreamError
from shadowproxy.http.context import INSPECTOR
from shadowproxy.http.upstream import map_client_errors
from shadowproxy.ops import control, known_api, noise_api, sampling_api, watch_api
from shadowproxy.ops.admin_access import (
    PROXY,
    REGISTRY,
    authorize,
    bounded_query,
    cluster,
    detail,
    flags,
    flags_body,
    readiness,
    settings,
)
from shadowproxy.ops.control import SEEN_FINGERPRINTS
from shadowproxy.rollback.phases import PHASES
from shadowproxy.settings import parse_seconds_text
from shadowproxy.types import Side

PROBE_TIMEOUT_S = 2.0
MAX_EVENTS = 1000

_PROBE = web.AppKey("shadowproxy.ops.admin.probe", aiohttp.ClientSession)


def create_admin_app(proxy: web.Application, *, registry: CollectorRegistry) -> web.Application:
    """The admin app for a proxy app made by `create_app` (it shares that app's flags)."""
    app = web.Application(middlewares=[authorize])
    app[REGISTRY] = registry
    app[PROXY] = proxy
    app[SEEN_FINGERPRINTS] = OrderedDict()
    app.cleanup_ctx.append(_probe_session)
    # prometheus-client's own handler: the text or OpenMetrics format as the scraper asks,
    # gzip when it accepts it, `name[]=` to select families
    app.router.add_get("/metrics", make_aiohttp_handler(registry))
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/flags", _get_flags)
    app.router.add_put("/flags/{group}", control.put_flag)
    app.router.add_delete("/flags", control.delete_flags)
    app.router.add_post("/rollback", control.rollback)
    app.router.add_get("/phase", _get_phase)
    app.router.add_post("/phase/{name}", control.post_phase)
    app.router.add_post("/alertmanager", control.alertmanager)
    app.router.add_get("/events", _events)
    app.router.add_get("/parity", _parity)
    app.router.add_get("/cutover", _cutover)
    app.router.add_get("/drift", _drift)
    app.router.add_get("/known", known_api.list_known)
    app.router.add_post("/known", known_api.accept)
    app.router.add_delete("/known/{signature}", known_api.withdraw)
    app.router.add_get("/noise", noise_api.get_noise)
    app.router.add_get("/sampling", sampling_api.get_sampling)
    app.router.add_put("/sampling/{group}", sampling_api.put_sampling)
    app.router.add_delete("/sampling", sampling_api.delete_sampling)
    app.router.add_post("/watch", watch_api.expect)
    app.router.add_get("/watch/{request_id}", watch_api.result)
    return app


async def _probe_session(app: web.Application) -> AsyncIterator[None]:
    """Readiness probes use their own small pool: they must not queue behind client traffic."""
    timeout = aiohttp.ClientTimeout(total=PROBE_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout, trust_env=False) as session:
        app[_PROBE] = session
        yield


async def _healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _readyz(request: web.Request) -> web.Response:
    config, session = settings(request), request.app[_PROBE]
    serving = set(flags(request).snapshot().values())
    results = await asyncio.gather(
        *(_probe(session, side, config.upstream_url(side)) for side in Side)
    )
    failing = {side: problem for side, problem in zip(Side, results, strict=True) if problem}
    down = {side.value: problem for side, problem in failing.items() if side in serving}
    shadow_down = {side.value: problem for side, problem in failing.items() if side not in serving}
    if down:
        names = " and ".join(down)
        body = {"detail": f"{names} not ready", "failing": down, "shadow_failing": shadow_down}
        return web.json_response(body, status=503)
    shared = cluster(request)
    if shared is not None and not shared.available:  # clients do not depend on the store
        return web.json_response(
            {"status": "degraded", **shared.describe(), "shadow_failing": shadow_down}
        )
    return web.json_response({"status": "ready", "shadow_failing": shadow_down})


async def _probe(session: aiohttp.ClientSession, side: Side, base_url: str) -> str | None:
    """None when the side answers GET /health with a 2xx, else a short reason."""
    try:
        with map_client_errors(side):
            async with session.get(base_url + "/health") as response:
                if response.status >= 300:
                    return f"GET /health answered {response.status}"
                return None
    except UpstreamError as exc:
        return exc.detail


async def _get_flags(request: web.Request) -> web.Response:
    shared = cluster(request)
    extra = shared.describe() if shared is not None else {}
    return web.json_response({**flags_body(flags(request)), **extra})


async def _get_phase(request: web.Request) -> web.Response:
    presets = {
        name: {g.value: side.value for g, side in sides.items()} for name, sides in PHASES.items()
    }
    return web.json_response({"phase": flags(request).phase, "phases": presets})


async def _events(request: web.Request) -> web.Response:
    since = request.query.get("since") or None
    try:
        bounds = (1, MAX_EVENTS)
        limit = int(bounded_query(request, "limit", "100", int, bounds, "a whole number"))
    except ValueError as exc:
        return detail(400, str(exc))
    shared, source = cluster(request), "local"
    if shared is not None:
        try:
            events = await shared.events.read(since=since, limit=limit)
            source = "store"
        except StoreUnavailable:
            pass
    if source == "local":
        events = flags(request).events.read(since=since, limit=limit)
    body = {"events": events, "flags_version": flags(request).version}
    if shared is not None:
        body["source"] = source  # "local": this replica's trail only, the store did not answer
    return web.json_response(body)


async def _parity(request: web.Request) -> web.Response:
    try:
        window_s = parse_seconds_text(request.query.get("window", "5m"))
    except ValueError as exc:
        return detail(400, f"'window': {exc}")
    report = readiness(request).parity(window_s, flags(request).snapshot())
    return web.json_response(report)


async def _cutover(request: web.Request) -> web.Response:
    return web.json_response(readiness(request).report())


async def _drift(request: web.Request) -> web.Response:
    learner = request.app[PROXY][INSPECTOR].learner
    if learner is None:
        return web.json_response({"enabled": False, "routes": {}})
    return web.json_response({"enabled": True, "routes": learner.report()})
