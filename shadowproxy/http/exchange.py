"""Shaping a client request once: its `Exchange` and the headers each side is sent.

HTTP requests and websocket upgrades are shaped by the same two functions, so both paths agree on
the request id (the client's `X-Request-ID`, or a fresh one), the comparison id, the route label
and the authoritative side, and send the same forwarding headers.
"""

from __future__ import annotations

import re
import secrets
import uuid

from aiohttp import web
from multidict import CIMultiDict

from shadowproxy.http.headers import REQUEST_ID, upstream_headers
from shadowproxy.types import Exchange, ExchangeKind, RouteMatch, Side, Trace

_REQUEST_ID = web.RequestKey("shadowproxy_request_id", str)
MAX_FORWARDS_METHODS = frozenset({"OPTIONS", "TRACE"})  # RFC 9110 §7.6.2


def request_id(request: web.Request) -> str:
    """The client's X-Request-ID, or one minted once per request (every caller gets the same)."""
    found = request.get(_REQUEST_ID)
    if found is None:
        found = request[_REQUEST_ID] = request.headers.get(REQUEST_ID) or uuid.uuid4().hex
    return found


def origin_form(request: web.Request) -> str:
    """The raw path and query as the backends get them (RFC 9112 §3.2): an absolute-form target
    (`http://host/p?q`) loses its scheme and authority, and an empty path is `/`."""
    raw = request.raw_path
    if raw.startswith("/") or "://" not in raw:
        return raw
    rest = raw.partition("://")[2]
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    tail = rest[cut:].partition("#")[0]
    return tail if tail.startswith("/") else "/" + tail


_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16


def trace_of(request: web.Request) -> Trace:
    """The client's trace (a valid version-00 `traceparent`), or a new one; a fresh child span
    for each side, so the two calls are told apart in any tracing backend."""
    found = _TRACEPARENT.fullmatch(request.headers.get("traceparent", "").strip())
    valid = found is not None and found[1] != _ZERO_TRACE and found[2] != _ZERO_SPAN
    trace_id = found[1] if found is not None and valid else secrets.token_hex(16)
    flags = found[3] if found is not None and valid else "01"
    return Trace(trace_id, flags, secrets.token_hex(8), secrets.token_hex(8))


def max_forwards(request: web.Request) -> int | None:
    """Max-Forwards of an OPTIONS or TRACE request, None when absent, unusable or not applicable."""
    value = request.headers.get("Max-Forwards", "").strip()
    if request.method not in MAX_FORWARDS_METHODS or not value.isdigit():
        return None
    return int(value)


def shape(
    request: web.Request,
    match: RouteMatch,
    authoritative: Side,
    kind: ExchangeKind,
    *,
    flags_version: int = 0,
) -> Exchange:
    spec = match.spec
    return Exchange(
        comparison_id=new_comparison_id(),
        request_id=request_id(request),
        kind=kind,
        route_group=spec.group,
        route=spec.template,
        method=request.method,
        path=origin_form(request),
        authoritative=authoritative,
        profile=spec.profile,
        flags_version=flags_version,
        trace=trace_of(request),
    )


def side_headers(request: web.Request, exchange: Exchange, *, shadow: bool) -> CIMultiDict[str]:
    """The client's headers as one side gets them (hop-by-hop removed, forwarding added, and
    Max-Forwards counted down: this proxy is one hop)."""
    headers = upstream_headers(
        request.headers,
        request_id=exchange.request_id,
        peer=request.remote,
        scheme=request.scheme,
        shadow=shadow,
        version=(request.version.major, request.version.minor),
    )
    hops = max_forwards(request)
    if hops is not None and hops > 0:
        headers["Max-Forwards"] = str(hops - 1)
    if exchange.trace is not None:
        side = exchange.authoritative.other if shadow else exchange.authoritative
        headers["traceparent"] = exchange.trace.traceparent(side)
    return headers


def new_comparison_id() -> str:
    return uuid.uuid4().hex
