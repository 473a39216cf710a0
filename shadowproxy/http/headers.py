"""Header rewriting both ways, so neither the client nor the backends see a transport artefact.

RFC 9110 §7.6.1: a proxy removes the hop-by-hop fields (and every field the Connection header
names) before forwarding; it adds Via (§7.6.3). Content-Length of a request is dropped because
the proxy re-frames the body; a response's Content-Length is kept because the body bytes pass
through unchanged (no decompression). Repeated fields such as Set-Cookie stay repeated because
everything is a multidict end to end.
"""

from __future__ import annotations

import re
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
VIA = "1.1 shadowproxy"  # an HTTP/1.1 hop; `via(version)` names the hop's own version
REQUEST_ID = "X-Request-ID"
SHADOW_MARK = "X-Shadow-Request"
AUTHORITATIVE_MARK = "X-Shadowproxy-Authoritative"
# re-framed or re-decided per side: the body is already read, so no 100-continue either
_REFRAMED = frozenset({"host", "content-length", "expect", SHADOW_MARK.lower(), REQUEST_ID.lower()})

# added or rewritten per hop by upstream_headers / side_headers
_PER_HOP = frozenset(
    {
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
        "via",
        "max-forwards",
        "traceparent",
        REQUEST_ID.lower(),
        SHADOW_MARK.lower(),
    }
)

AnyHeaders = CIMultiDict[str] | CIMultiDictProxy[str]
Version = tuple[int, int]

# RFC 9112 §3.2 / RFC 3986 §3.2.2: Host = uri-host [ ":" port ]; uri-host is an IP-literal in
# brackets, or a reg-name (unreserved, pct-encoded, sub-delims) that covers IPv4 addresses too.
_HOST = re.compile(
    r"(?:\[(?:[0-9A-Fa-f:.]+|v[0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+)\]"
    r"|(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*)"
    r"(?::[0-9]*)?"
)


def via(version: Version) -> str:
    """This hop's Via entry: the protocol version of the message received (RFC 9110 §7.6.3)."""
    return f"{version[0]}.{version[1]} shadowproxy"


def host_problem(headers: AnyHeaders, version: Version) -> str | None:
    """Why the request's Host field is unacceptable (RFC 9112 §3.2), or None when it is fine."""
    hosts = headers.getall("Host", ())
    if len(hosts) > 1:
        return "more than one Host header"
    if not hosts:
        return "missing Host header" if version >= (1, 1) else None
    if _HOST.fullmatch(hosts[0]) is None:
        return "invalid Host header"
    return None


def tokens(headers: AnyHeaders, name: str) -> set[str]:
    """The lower-cased comma-separated tokens of every `name` field."""
    found: set[str] = set()
    for value in headers.getall(name, ()):
        found.update(token.strip().lower() for token in value.split(",") if token.strip())
    return found


def upgrades_connection(headers: AnyHeaders) -> bool:
    """Connection names `upgrade` and an Upgrade field is present: a request to switch protocols
    (aiohttp's parser treats what follows it on the connection as another protocol's bytes)."""
    return "upgrade" in tokens(headers, "Connection") and "Upgrade" in headers


def is_websocket_upgrade(headers: AnyHeaders) -> bool:
    """An upgrade whose Upgrade field offers websocket (tokens, any case; RFC 6455)."""
    offered = {protocol.partition("/")[0].strip() for protocol in tokens(headers, "Upgrade")}
    return upgrades_connection(headers) and "websocket" in offered


def end_to_end(headers: AnyHeaders, *, drop: Iterable[str] = ()) -> CIMultiDict[str]:
    """A copy without hop-by-hop fields, the fields Connection names, and `drop`.

    A repeated field is spelled as its first occurrence: aiohttp's client tells repeats from
    replacements by the exact spelling, so `X-Dup` then `x-dup` would otherwise keep one value.
    """
    removed = HOP_BY_HOP | tokens(headers, "Connection") | {name.lower() for name in drop}
    spelling: dict[str, str] = {}
    kept: CIMultiDict[str] = CIMultiDict()
    for name, value in headers.items():
        lower = name.lower()
        if lower not in removed:
            kept.add(spelling.setdefault(lower, name), value)
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
    version: Version = (1, 1),
) -> CIMultiDict[str]:
    """Headers for one side's request; both sides get the same X-Request-ID."""
    headers = end_to_end(client, drop=_REFRAMED)
    if peer:
        _append(headers, "X-Forwarded-For", peer)
    headers.setdefault("X-Forwarded-Proto", scheme)
    host = client.get("Host")
    if host:
        headers.setdefault("X-Forwarded-Host", host)
    _append(headers, "Via", via(version))
    headers[REQUEST_ID] = request_id
    if shadow:
        headers[SHADOW_MARK] = "1"
    return headers


def client_headers(
    upstream: AnyHeaders,
    *,
    authoritative: Side,
    request_id: str | None = None,
    version: Version = (1, 1),
) -> CIMultiDict[str]:
    """Headers for the client's response, marked with the side that answered (and the request's
    id); `version` is the protocol version of the backend's answer."""
    headers = end_to_end(upstream)
    _append(headers, "Via", via(version))
    if request_id is not None:
        headers[REQUEST_ID] = request_id
    headers[AUTHORITATIVE_MARK] = authoritative.value
    return headers


def replayable(headers: AnyHeaders) -> Headers:
    """A side's request headers without the ones this hop added or rewrote: what a replay of
    the request sends (through a proxy, which adds its own)."""
    return tuple((name, value) for name, value in headers.items() if name.lower() not in _PER_HOP)


def as_tuple(headers: AnyHeaders) -> Headers:
    return tuple(headers.items())
