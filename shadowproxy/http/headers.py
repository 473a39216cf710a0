"""Header rewriting both ways, so neither the client nor the backends see a transport artefact.

RFC 9110 §7.6.1: a proxy removes the hop-by-hop fields (and every field the Connection header
names) before forwarding; it adds Via (§7.6.3). Content-Length of a request is dropped because
the proxy re-frames the body; a response's Content-Length is kept because the body bytes pass
through unchanged (no decompression). Repeated fields such as Set-Cookie stay repeated because
everything is a multidict end to end.
"""

from __future__ import annotations

from collections.abc import Iterable

from multidict import CIMultiDict, CIMultiDictProxy

from shadowproxy.types import Headers, Side

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
VIA = "1.1 shadowproxy"
REQUEST_ID = "X-Request-ID"
SHADOW_MARK = "X-Shadow-Request"
AUTHORITATIVE_MARK = "X-Shadowproxy-Authoritative"
# re-framed or re-decided per side: the body is already read, so no 100-continue either
_REFRAMED = frozenset({"host", "content-length", "expect", SHADOW_MARK.lower(), REQUEST_ID.lower()})

AnyHeaders = CIMultiDict[str] | CIMultiDictProxy[str]


def _connection_named(headers: AnyHeaders) -> set[str]:
    names: set[str] = set()
    for value in headers.getall("Connection", ()):
        names.update(token.strip().lower() for token in value.split(",") if token.strip())
    return names


def end_to_end(headers: AnyHeaders, *, drop: Iterable[str] = ()) -> CIMultiDict[str]:
    """A copy without hop-by-hop fields, the fields Connection names, and `drop`."""
    removed = HOP_BY_HOP | _connection_named(headers) | {name.lower() for name in drop}
    kept: CIMultiDict[str] = CIMultiDict()
    for name, value in headers.items():
        if name.lower() not in removed:
            kept.add(name, value)
    return kept


def _append(headers: CIMultiDict[str], name: str, value: str) -> None:
    existing = headers.getall(name, ())
    headers.popall(name, None)
    headers[name] = ", ".join([*existing, value])


def upstream_headers(
    client: AnyHeaders,
    *,
    request_id: str,
    peer: str | None,
    scheme: str,
    shadow: bool,
) -> CIMultiDict[str]:
    """Headers for one side's request; both sides get the same X-Request-ID."""
    headers = end_to_end(client, drop=_REFRAMED)
    if peer:
        _append(headers, "X-Forwarded-For", peer)
    headers.setdefault("X-Forwarded-Proto", scheme)
    host = client.get("Host")
    if host:
        headers.setdefault("X-Forwarded-Host", host)
    _append(headers, "Via", VIA)
    headers[REQUEST_ID] = request_id
    if shadow:
        headers[SHADOW_MARK] = "1"
    return headers


def client_headers(upstream: AnyHeaders, *, authoritative: Side) -> CIMultiDict[str]:
    """Headers for the client's response, marked with the side that answered."""
    headers = end_to_end(upstream)
    _append(headers, "Via", VIA)
    headers[AUTHORITATIVE_MARK] = authoritative.value
    return headers


def as_tuple(headers: AnyHeaders) -> Headers:
    return tuple(headers.items())
