"""What the admin endpoints share: the keys to the proxy's state, who is calling, bodies.

Auth (docs/operations.md "Admin API"): with `SHADOWPROXY_ADMIN_TOKEN` (or `_TOKEN_FILE`) set,
every endpoint but `/metrics`, `/healthz`, `/readyz` and `GET /flags` needs
`Authorization: Bearer <token>`, compared in constant time. Without a token the mutating ones
are served only on a loopback admin address (settings refuse to start otherwise). A refused call
is a 401 with a `detail`, counted in `shadowproxy_admin_denied_total{endpoint}`, logged and kept
in the audit trail; the token itself is never logged.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry

from shadowproxy.cutover.readiness import Readiness
from shadowproxy.http.cluster import Cluster
from shadowproxy.http.context import CLUSTER, FLAGS, METRICS, READINESS, SETTINGS
from shadowproxy.metrics import ProxyMetrics
from shadowproxy.rollback.flags import Flags
from shadowproxy.settings import Settings
from shadowproxy.types import RouteGroup

REGISTRY = web.AppKey("shadowproxy.ops.admin.registry", CollectorRegistry)
PROXY = web.AppKey("shadowproxy.ops.admin.proxy", web.Application)
OPEN = frozenset({("GET", "/metrics"), ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/flags")})
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CLIENT_HEADER = "X-Shadowproxy-Client"  # `cli` from `shadowproxy flags`: the audit trail's actor

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def flags(request: web.Request) -> Flags:
    return request.app[PROXY][FLAGS]


def cluster(request: web.Request) -> Cluster | None:
    """The scale-out wiring, with SHADOWPROXY_STORE=redis (None with the local store)."""
    return request.app[PROXY].get(CLUSTER)


def readiness(request: web.Request) -> Readiness:
    return request.app[PROXY][READINESS]


def settings(request: web.Request) -> Settings:
    return request.app[PROXY][SETTINGS]


def metrics(request: web.Request) -> ProxyMetrics:
    return request.app[PROXY][METRICS]


def detail(status: int, text: str, **extra: Any) -> web.Response:
    return web.json_response({"detail": text, **extra}, status=status)


def actor(request: web.Request) -> str:
    """Who made an authorized change, for the audit trail."""
    if request.headers.get(CLIENT_HEADER) == "cli":
        return "cli"
    return "admin-token" if settings(request).admin_token else "loopback"


@web.middleware
async def authorize(request: web.Request, handler: Handler) -> web.StreamResponse:
    endpoint = (
        request.match_info.route.resource.canonical
        if request.match_info.route.resource
        else request.path
    )
    if (request.method, endpoint) in OPEN or request.method == "HEAD":
        return await handler(request)
    token = settings(request).admin_token
    if token is None:
        if request.method in MUTATING and not settings(request).admin_loopback:
            return _deny(request, endpoint, "mutating admin calls need SHADOWPROXY_ADMIN_TOKEN")
        return await handler(request)
    given = request.headers.get("Authorization", "")
    scheme, _, credentials = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        credentials.strip().encode(), token.encode()
    ):
        problem = "a bearer token is required" if not given else "the bearer token is wrong"
        return _deny(request, endpoint, problem)
    return await handler(request)


def _deny(request: web.Request, endpoint: str, problem: str) -> web.Response:
    metrics(request).admin_denied.labels(endpoint).inc()
    log.warning(
        "admin_denied",
        endpoint=endpoint,
        method=request.method,
        remote=request.remote,
        problem=problem,
    )
    if request.method in MUTATING:
        flags(request).refused(
            {}, reason=f"{request.method} {endpoint}", actor="unauthenticated", why=problem
        )
    return detail(401, f"{problem} (Authorization: Bearer <token>)")


async def json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ValueError("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def route_group_of(request: web.Request) -> RouteGroup:
    """The `{group}` of the path; ValueError naming the known groups."""
    name = request.match_info["group"]
    try:
        return RouteGroup(name)
    except ValueError:
        known = ", ".join(g.value for g in RouteGroup)
        raise ValueError(f"unknown route group {name!r}; known groups: {known}") from None


def bounded_query(
    request: web.Request,
    name: str,
    default: str,
    parse: Callable[[str], float],
    bounds: tuple[float, float],
    unit: str,
) -> float:
    """A numeric query parameter within `bounds`; ValueError whose sentence names it and them."""
    low, high = bounds
    try:
        value = parse(request.query.get(name, default))
        if not low <= value <= high:  # a NaN is in no range
            raise ValueError
    except ValueError:
        raise ValueError(f"{name!r} must be {unit} {low:g}-{high:g}") from None
    return value


def reason_of(body: dict[str, Any], what: str = "the flag changes") -> str:
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError(f"'reason' is required: say why {what} (it is logged and kept)")
    return reason.strip()


def force_of(body: dict[str, Any]) -> bool:
    force = body.get("force", False)
    if not isinstance(force, bool):
        raise ValueError("'force' must be true or false")
    return force


def flags_body(state: Flags) -> dict[str, Any]:
    return {
        "authoritative": {group.value: side.value for group, side in state.snapshot().items()},
        "overrides": {
            group.value: {"side": o.side.value, "reason": o.reason, "at": o.at}
            for group, o in state.overrides().items()
        },
        "flags_version": state.version,
        "phase": state.phase,
    }
