"""The proxy's one exception tree, and the edge where aiohttp's errors are translated into it.

Handlers never catch `aiohttp.ClientError` themselves: `map_client_errors()` wraps every upstream
call so the rest of the code reasons about two failures only (unreachable, timed out), each with
the side it came from and the HTTP status the client gets for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp

from shadowproxy.types import Side


class ShadowproxyError(Exception):
    """Root of every error the proxy raises on purpose."""


class UpstreamError(ShadowproxyError):
    """A side gave no HTTP answer; `status` is what the client gets if it was authoritative."""

    status = 502
    kind = "unavailable"

    def __init__(self, side: Side, detail: str) -> None:
        super().__init__(f"{side} upstream {detail}")
        self.side = side
        self.detail = detail


class UpstreamUnavailable(UpstreamError):
    """Connection refused, reset, or a broken response: a 502 Bad Gateway."""


class UpstreamTimeout(UpstreamError):
    """No answer within the configured time: a 504 Gateway Timeout."""

    status = 504
    kind = "timeout"


@contextmanager
def map_client_errors(side: Side) -> Iterator[None]:
    """Translate aiohttp/asyncio transport failures of one side into the proxy's tree.

    Timeouts are checked first because aiohttp's `ServerTimeoutError` is both a `ClientError`
    and an `asyncio.TimeoutError`. Client errors carry no secrets in their text (they name the
    host and port only), but we still keep just the exception type and message, never headers.
    """
    try:
        yield
    except TimeoutError as exc:
        raise UpstreamTimeout(side, "timed out") from exc
    except aiohttp.ClientConnectorError as exc:
        raise UpstreamUnavailable(
            side, f"refused the connection ({exc.os_error.strerror})"
        ) from exc
    except (aiohttp.ClientError, ConnectionError) as exc:
        raise UpstreamUnavailable(side, f"failed: {type(exc).__name__}") from exc
