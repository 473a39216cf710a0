"""Opening a websocket to one side: headers, the handshake bound, and its three endings.

The handshake either upgrades (101), gets an HTTP answer instead (`Refused`, with the status the
client must see), or fails in transport (the proxy's `UpstreamError`, via `map_client_errors`).
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from shadowproxy.errors import ShadowproxyError, map_client_errors
from shadowproxy.http.context import ProxyContext
from shadowproxy.http.headers import upstream_headers
from shadowproxy.types import Observation, Side

# the handshake fields aiohttp writes itself for each upstream connection
_HANDSHAKE = (
    "Sec-WebSocket-Key",
    "Sec-WebSocket-Version",
    "Sec-WebSocket-Extensions",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Accept",
)
CLOSE_TIMEOUT_S = 5.0  # how long a close waits for the peer's close frame


class Refused(ShadowproxyError):
    """The side answered the upgrade with an HTTP status instead of 101."""

    def __init__(self, side: Side, status: int) -> None:
        super().__init__(f"{side} refused the websocket upgrade with HTTP {status}")
        self.status = status


def requested_protocols(request: web.Request) -> tuple[str, ...]:
    """The subprotocols the client offered, in its order of preference."""
    offered = ",".join(request.headers.getall("Sec-WebSocket-Protocol", ()))
    return tuple(name.strip() for name in offered.split(",") if name.strip())


def side_headers(request: web.Request, request_id: str, *, shadow: bool) -> CIMultiDict[str]:
    headers = upstream_headers(
        request.headers,
        request_id=request_id,
        peer=request.remote,
        scheme=request.scheme,
        shadow=shadow,
    )
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
) -> tuple[aiohttp.ClientWebSocketResponse, Observation]:
    """Connect, or raise `Refused` / `UpstreamError`; the observation records the handshake."""
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
                    compress=0,
                    max_msg_size=ctx.settings.ws_max_frame_bytes,
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=CLOSE_TIMEOUT_S),
                )
        except aiohttp.WSServerHandshakeError as exc:
            raise Refused(side, exc.status) from exc
    return ws, Observation(side=side, status=101, latency_s=time.perf_counter() - started)


def sendable(code: int | None, fallback: int = aiohttp.WSCloseCode.OK) -> int:
    """A close code that may go on the wire (1005, 1006 and 1015 are only ever reported)."""
    if code is not None and (1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999):
        return code
    return fallback
