"""`python -m app_service --host H --port P --data-dir D`: the only reader of os.environ.

Settings (flags included) are built once here; a bad flag is a clear one-line error and exit 2,
never a traceback. The listening line is printed only once the socket is bound, with the real
port, so `--port 0` works for tests and for `shadowproxy up`. Logs are JSON lines on stderr with
`"service": "app_service"` (the shape is `backend_common.logging`, shared by all three).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

from aiohttp import web

from app_service.app import create_app
from app_service.settings import Settings
from backend_common import logging as common_logging

SERVICE = "app_service"


def configure_logging() -> None:
    """JSON lines on stderr in the shape all three services share (`backend_common.logging`)."""
    common_logging.configure_logging(SERVICE)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m app_service", description="The application-service backend (v1alpha1)."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8002, help="0 picks a free port")
    parser.add_argument("--data-dir", type=Path, default=Path("var/app"))
    return parser.parse_args(argv)


async def serve(settings: Settings) -> None:
    runner = web.AppRunner(create_app(settings), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        host, port = runner.addresses[0][:2]
        print(f"app_service listening on http://{host}:{port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = Settings.from_environ(
            os.environ, host=args.host, port=args.port, data_dir=args.data_dir
        )
    except ValueError as exc:
        print(f"app_service: {exc}", file=sys.stderr)
        return 2
    configure_logging()
    asyncio.run(serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
