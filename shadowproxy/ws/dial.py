"""Opening a websocket to one side: headers, the handshake bound, and its three endings.

The handshake either upgrades (101), gets an HTTP answer instead (`UpstreamRefused`, with the
status the client must see), or fails in transport or with a broken 101 (another
`UpstreamError`: 502/504, through `map_client_errors`).
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from shadowproxy.errors import UpstreamRefused, UpstreamUnavailable
from shadowproxy.http.context import ProxyContext
from shadowproxy.http.exchange import side_headers as http_side_headers
from shadowproxy.http.upstream import map_client_errors
from shadowproxy.types import Exchange, Observation, Side

# the handshake fields aiohttp writes itself for each upstream connection
_HANDSHAKE = (
    "Sec-WebSocket-Key",
    "Sec-WebSocket-Version",
    "Sec-WebSocket-Extensions",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Accept",
)
CLOSE_TIMEOUT_S = 5.0  # how long a close waits for the peer's close frame


def requested_protocols(request: web.Request) -> tuple[str, ...]:
    """The subprotocols the client offered, in its order of preference."""
    offered = ",".join(request.headers.getall("Sec-WebSocket-Protocol", ()))
    return tuple(name.strip() for name in offered.split(",") if name.strip())


def offers_deflate(request: web.Request) -> bool:
    """Whether the client offered permessage-deflate (RFC 7692) in its handshake."""
    offered = ",".join(request.headers.getall("Sec-WebSocket-Extensions", ()))
    return any(
        part.split(";", 1)[0].strip().lower() == "permessage-deflate" for part in offered.split(",")
    )


def side_headers(request: web.Request, exchange: Exchange, *, shadow: bool) -> CIMultiDict[str]:
    """The HTTP path's headers, less the handshake fields aiohttp writes for each connection."""
    headers = http_side_headers(request, exchange, shadow=shadow)
    for name in _HANDSHAKE:
        headers.popall(name, None)
    return headers


async def dial(
    ctx: ProxyContext,
    side: Side,
    path: str,
    headers: CIMultiDict[str],
    *,
    protocols: tuple[str, ...],
    autoping: bool,
    timeout_s: float,
    deflate: bool,
) -> tuple[aiohttp.ClientWebSocketResponse, Observation]:
    """Connect, or raise an `UpstreamError`; the observation records the handshake.
    `deflate`: offer permessage-deflate (the side may decline it)."""
    started = time.perf_counter()
    with map_client_errors(side):
        try:
            async with asyncio.timeout(timeout_s):
                ws = await ctx.session(side).ws_connect(
                    ctx.upstreams[side].url(path),
                    protocols=protocols,
                    headers=headers,
                    autoclose=False,
                    autoping=autoping,
                    compress=15 if deflate else 0,
                    max_msg_size=max_msg_size(ctx.settings.ws_max_frame_bytes),
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=CLOSE_TIMEOUT_S),
                )
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status == 101:  # a 101 whose handshake is broken (bad Accept, no Upgrade)
                detail = f"broken websocket handshake: {exc.message}"
                raise UpstreamUnavailable(side, detail) from exc
            raise UpstreamRefused(side, exc.status) from exc
    return ws, Observation(side=side, status=101, latency_s=time.perf_counter() - started)


def max_msg_size(max_frame_bytes: int) -> int:
    """aiohttp's `max_msg_size` for SHADOWPROXY_WS_MAX_FRAME_BYTES: aiohttp refuses a (whole,
    reassembled) message of `max_msg_size` bytes or more, the setting is the largest allowed."""
    return max_frame_bytes + 1


def valid_close_code(code: int) -> bool:
    """A close code an endpoint may send (RFC 6455 §7.4): 1005, 1006 and 1015 are only ever
    reported, 1004 and 1016-2999 are reserved, nothing outside 1000-4999 exists."""
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


def sendable(code: int | None, fallback: int = aiohttp.WSCloseCode.OK) -> int:
    """A close code that may go on the wire (1005, 1006 and 1015 are only ever reported)."""
    if code is not None and valid_close_code(code):
        return code
    return fallback
