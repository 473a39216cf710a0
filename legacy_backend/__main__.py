"""`python -m legacy_backend`: the only place that reads `os.environ` and configures logging.

The ready line on stdout (`legacy_backend listening on http://HOST:PORT`) carries the real port,
so `--port 0` works for the proxy's `up` command and for tests; logs go to stderr as JSON lines
with `"service": "legacy_backend"` (the shape is `backend_common.logging`, shared by all three).

Environment read once at start-up: DASHBOARD_API_KEY (falling back to ANTHROPIC_API_KEY, the
LEGACY rule), CORS_ORIGINS, TRADINGAGENTS_LLM_PROVIDER and the provider key variables,
ANTHROPIC_API_KEY / MINIMAX_API_KEY for `/api/config/check`, LEGACY_STDOUT_SILENCE_SECS (default
300) and LEGACY_RETRY_DELAY_SECS (default 1). Everything else is passed through to the kernel
(the analysis subprocess and the in-process orchestrator), minus PYTHON*/CONDA*/VIRTUAL* keys.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import sys
from pathlib import Path

from aiohttp import web

from backend_common import logging as common_logging
from legacy_backend.app import create_app
from legacy_backend.settings import Settings

SERVICE = "legacy_backend"
SHUTDOWN_TIMEOUT_SECS = 5.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m legacy_backend",
        description="The LEGACY route-local TradingAgents dashboard backend.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8001, help="TCP port; 0 picks a free one")
    parser.add_argument("--data-dir", default="var/legacy", help="task states, results, portfolio")
    return parser


def configure_logging() -> None:
    """JSON lines on stderr in the shape all three services share (`backend_common.logging`)."""
    common_logging.configure_logging(SERVICE)


async def _serve(app: web.Application, host: str, port: int) -> None:
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT_SECS)
    await runner.setup()
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.create_server((host, port), family=family)
        site = web.SockSite(runner, sock)
        await site.start()
        bound_port = sock.getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        print(f"legacy_backend listening on http://{shown}:{bound_port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging()
    try:
        settings = Settings.from_environ(
            os.environ, data_dir=Path(args.data_dir), host=args.host, port=args.port
        )
        app = create_app(settings)
    except ValueError as exc:
        print(f"legacy_backend: configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        import uvloop
    except ImportError:  # uvloop is optional (not on every platform)
        runner = asyncio.run
    else:
        runner = uvloop.run
    try:
        runner(_serve(app, settings.host, settings.port))
    except OSError as exc:
        print(
            f"legacy_backend: cannot listen on {settings.host}:{settings.port}: {exc}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
