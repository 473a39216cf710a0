"""Run the proxy and its admin API until told to stop, then shut down in order.

Order matters for "never lose the client's answer": stop accepting, let in-flight client
requests finish (aiohttp's runner shutdown, bounded by the grace period) while open websockets
get the same grace and are then closed with 1001 (going away), then drain or cancel the
background shadows (the proxy app's cleanup), and only then close the diff sink, so the last
comparisons still reach it.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry

from shadowproxy.http.app import create_app
from shadowproxy.http.context import METRICS, WsHandler
from shadowproxy.ops.admin import create_admin_app
from shadowproxy.ops.limits import PARSER_LIMITS, GuardedSite, Limits
from shadowproxy.settings import Settings
from shadowproxy.types import DiffSink
from shadowproxy.ws.relay import WsRelay

log = structlog.get_logger(__name__)


async def serve(
    settings: Settings,
    *,
    sink: DiffSink,
    on_ready: Callable[[str, str], None] | None = None,
    stop: asyncio.Event | None = None,
    ws_handler: WsHandler | None = None,
    registry: CollectorRegistry | None = None,
) -> None:
    stop = stop if stop is not None else asyncio.Event()
    registry = registry if registry is not None else CollectorRegistry()
    ws_handler = ws_handler if ws_handler is not None else WsRelay()
    try:
        proxy = create_app(settings, sink=sink, registry=registry, ws_handler=ws_handler)
        if isinstance(ws_handler, WsRelay):
            proxy.on_shutdown.append(_websockets_closer(ws_handler, settings.shutdown_grace_s))
        proxy_runner = web.AppRunner(
            proxy,
            handler_cancellation=True,
            shutdown_timeout=settings.shutdown_grace_s,
            access_log=None,
            keepalive_timeout=settings.keepalive_s,
            **PARSER_LIMITS,
        )
        admin_runner = web.AppRunner(
            create_admin_app(proxy, registry=registry),
            handler_cancellation=True,
            shutdown_timeout=1.0,
            access_log=None,
        )
        await proxy_runner.setup()
        await admin_runner.setup()
        try:
            closed = proxy[METRICS].connections_closed
            limits = Limits(
                header_timeout_s=settings.header_timeout_s,
                max_connections=settings.max_client_connections,
                closed=lambda reason: closed.labels(reason).inc(),
            )
            site = GuardedSite(
                proxy_runner, settings.listen_host, settings.listen_port, limits=limits
            )
            proxy_url = await _bind(proxy_runner, site)
            admin_site = web.TCPSite(admin_runner, settings.admin_host, settings.admin_port)
            admin_url = await _bind(admin_runner, admin_site)
            log.info("shadowproxy_listening", proxy=proxy_url, admin=admin_url)
            if on_ready is not None:
                on_ready(proxy_url, admin_url)
            with _stop_on_signals(stop):
                await stop.wait()
            log.info("shadowproxy_stopping", grace_s=settings.shutdown_grace_s)
        finally:
            await admin_runner.cleanup()
            await proxy_runner.cleanup()
    finally:
        await sink.aclose()
    log.info("shadowproxy_stopped")


def _websockets_closer(
    relay: WsRelay, grace_s: float
) -> Callable[[web.Application], Awaitable[None]]:
    """At shutdown, give open websockets the grace to end (an analysis may still send its last
    frame), then close the rest with 1001 (going away) and let their comparisons publish."""

    async def close(_: web.Application) -> None:
        await relay.wait_closed(grace_s)
        closed = await relay.close_all(1001, b"server shutdown")
        if closed:
            log.info("websockets_closed_at_shutdown", count=closed, code=1001)

    return close


async def _bind(runner: web.AppRunner, site: web.TCPSite) -> str:
    """Start one site and return its real URL (port 0 means the OS picked one)."""
    await site.start()
    bound_host, bound_port = runner.addresses[-1][:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    return f"http://{shown}:{bound_port}"


@contextmanager
def _stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """SIGINT/SIGTERM set `stop`; handlers are removed on exit so a second Ctrl-C interrupts."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
