"""The admin API, on its own port so it is never exposed where the dashboard traffic is.

`/metrics` for Prometheus, `/healthz` (alive) and `/readyz` (every side that is authoritative for
some route group answers `GET /health`; a shadow-only side that is down is reported, not fatal,
because the clients never depend on it),
the flag endpoints: read, flip one group, roll every group back to legacy in one step,
clear runtime overrides; and what the client would see: `/cutover` (readiness per route group and
consumer) and `/drift` (the shapes learned from legacy's answers). A flip to the app is refused
(409) while the cutover verdict of a configured consumer is `blocked`, unless the body says
`"force": true` (the reason is then kept with the override, saying what it overrode).
Bad input is a 400 with a FastAPI-style `{"detail": ...}` body.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from shadowproxy.cutover.readiness import Readiness
from shadowproxy.errors import UpstreamError
from shadowproxy.http.context import FLAGS, INSPECTOR, READINESS, SETTINGS
from shadowproxy.http.upstream import map_client_errors
from shadowproxy.rollback.flags import Flags
from shadowproxy.settings import Settings
from shadowproxy.types import RouteGroup, Side

PROBE_TIMEOUT_S = 2.0

_REGISTRY = web.AppKey("shadowproxy.ops.admin.registry", CollectorRegistry)
_PROXY = web.AppKey("shadowproxy.ops.admin.proxy", web.Application)
_PROBE = web.AppKey("shadowproxy.ops.admin.probe", aiohttp.ClientSession)


def create_admin_app(proxy: web.Application, *, registry: CollectorRegistry) -> web.Application:
    """The admin app for a proxy app made by `create_app` (it shares that app's flags)."""
    app = web.Application()
    app[_REGISTRY] = registry
    app[_PROXY] = proxy
    app.cleanup_ctx.append(_probe_session)
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/flags", _get_flags)
    app.router.add_put("/flags/{group}", _put_flag)
    app.router.add_delete("/flags", _delete_flags)
    app.router.add_post("/rollback", _rollback)
    app.router.add_get("/cutover", _cutover)
    app.router.add_get("/drift", _drift)
    return app


async def _probe_session(app: web.Application) -> AsyncIterator[None]:
    """Readiness probes use their own small pool: they must not queue behind client traffic."""
    timeout = aiohttp.ClientTimeout(total=PROBE_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout, trust_env=False) as session:
        app[_PROBE] = session
        yield


def _flags(request: web.Request) -> Flags:
    return request.app[_PROXY][FLAGS]


def _readiness(request: web.Request) -> Readiness:
    return request.app[_PROXY][READINESS]


def _settings(request: web.Request) -> Settings:
    return request.app[_PROXY][SETTINGS]


def _detail(status: int, detail: str) -> web.Response:
    return web.json_response({"detail": detail}, status=status)


async def _metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[_REGISTRY])
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


async def _healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _readyz(request: web.Request) -> web.Response:
    settings, session = _settings(request), request.app[_PROBE]
    serving = set(_flags(request).snapshot().values())
    results = await asyncio.gather(
        *(_probe(session, side, settings.upstream_url(side)) for side in Side)
    )
    failing = {side: problem for side, problem in zip(Side, results, strict=True) if problem}
    down = {side.value: problem for side, problem in failing.items() if side in serving}
    shadow_down = {side.value: problem for side, problem in failing.items() if side not in serving}
    if down:
        names = " and ".join(down)
        body = {"detail": f"{names} not ready", "failing": down, "shadow_failing": shadow_down}
        return web.json_response(body, status=503)
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


def _flags_body(flags: Flags) -> dict[str, Any]:
    return {
        "authoritative": {group.value: side.value for group, side in flags.snapshot().items()},
        "overrides": {
            group.value: {"side": o.side.value, "reason": o.reason, "at": o.at}
            for group, o in flags.overrides().items()
        },
    }


async def _get_flags(request: web.Request) -> web.Response:
    return web.json_response(_flags_body(_flags(request)))


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ValueError("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def _reason(body: dict[str, Any]) -> str:
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError("'reason' is required: say why the flag changes (it is logged and kept)")
    return reason.strip()


async def _put_flag(request: web.Request) -> web.Response:
    name = request.match_info["group"]
    try:
        group = RouteGroup(name)
    except ValueError:
        known = ", ".join(g.value for g in RouteGroup)
        return _detail(400, f"unknown route group {name!r}; known groups: {known}")
    try:
        body = await _json_object(request)
        side = Side.parse(str(body.get("side", "")), name="'side'")
        reason = _reason(body)
        force = body.get("force", False)
        if not isinstance(force, bool):
            raise ValueError("'force' must be true or false")
    except ValueError as exc:
        return _detail(400, str(exc))
    blocking = _readiness(request).blocking(group) if side is Side.APP else []
    if blocking:
        verdicts = "; ".join(f"{v.consumer}: {v.summary}" for v in blocking)
        if not force:
            return _detail(
                409,
                f"the cutover of {group.value} to the app is blocked — {verdicts}. See"
                " `shadowproxy cutover`; to flip anyway pass force (--force) with a reason.",
            )
        reason = f"{reason} [forced past cutover readiness: {verdicts}]"
    return _change(request, lambda flags: flags.set_authoritative(group, side, reason=reason))


async def _cutover(request: web.Request) -> web.Response:
    return web.json_response(_readiness(request).report())


async def _drift(request: web.Request) -> web.Response:
    learner = request.app[_PROXY][INSPECTOR].learner
    if learner is None:
        return web.json_response({"enabled": False, "routes": {}})
    return web.json_response({"enabled": True, "routes": learner.report()})


async def _rollback(request: web.Request) -> web.Response:
    try:
        reason = _reason(await _json_object(request))
    except ValueError as exc:
        return _detail(400, str(exc))
    return _change(request, lambda flags: flags.rollback(reason=reason))


async def _delete_flags(request: web.Request) -> web.Response:
    return _change(
        request, lambda flags: flags.clear(reason="runtime overrides cleared through the admin API")
    )


def _change(request: web.Request, change: Callable[[Flags], None]) -> web.Response:
    """Apply a flag change; if it cannot be persisted nothing changed, and the caller is told."""
    flags = _flags(request)
    try:
        change(flags)
    except OSError as exc:
        return _detail(500, f"flag state could not be saved, nothing changed: {exc.strerror}")
    return web.json_response(_flags_body(flags))
