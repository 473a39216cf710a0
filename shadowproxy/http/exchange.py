"""Shaping a client request once: its `Exchange` and the headers each side is sent.

HTTP requests and websocket upgrades are shaped by the same two functions, so both paths agree on
the request id (the client's `X-Request-ID`, or a fresh one), the comparison id, the route label
and the authoritative side, and send the same forwarding headers.
"""

from __future__ import annotations

import uuid

from aiohttp import web
from multidict import CIMultiDict

from shadowproxy.http.headers import REQUEST_ID, upstream_headers
from shadowproxy.types import Exchange, ExchangeKind, RouteMatch, Side


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
        request_id=request.headers.get(REQUEST_ID) or uuid.uuid4().hex,
        kind=kind,
        route_group=spec.group,
        route=spec.template,
        method=request.method,
        path=request.raw_path,
        authoritative=authoritative,
        profile=spec.profile,
        flags_version=flags_version,
    )


def side_headers(request: web.Request, exchange: Exchange, *, shadow: bool) -> CIMultiDict[str]:
    """The client's headers as one side gets them (hop-by-hop removed, forwarding added)."""
    return upstream_headers(
        request.headers,
        request_id=exchange.request_id,
        peer=request.remote,
        scheme=request.scheme,
        shadow=shadow,
    )


def new_comparison_id() -> str:
    return uuid.uuid4().hex
