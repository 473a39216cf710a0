"""What the commands share: option types, `--json`, the admin API's options, printing a result.

`bounded_int` parses a whole number in a range (argparse reports it as a usage error, exit 2);
`json_option` adds `--json`; `admin_options` adds `--admin` and `--token-file`; `emit` prints a
command's result as one JSON document on stdout under `--json`, else its text (progress and
errors go to stderr either way).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

ADMIN_URL = "http://127.0.0.1:9100"  # the admin API's default address (settings: ADMIN_ADDR)


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be a whole number {low}-{high}, got {text!r}")
        return value

    return parse


def json_option(
    parser: argparse.ArgumentParser, default: Any = False, help: str | None = None
) -> None:
    parser.add_argument(
        "--json",
        action="store_true",
        default=default,
        help=help or "print one JSON document on stdout instead of the text",
    )


def admin_options(parser: argparse.ArgumentParser, *, token: bool = True) -> None:
    """`--admin URL` and (`token`) `--token-file FILE`: how a command reaches the admin API."""
    parser.add_argument("--admin", default=ADMIN_URL, metavar="URL", help="the admin API")
    if token:
        parser.add_argument(
            "--token-file",
            type=Path,
            metavar="FILE",
            help="a file holding the admin token (without it: env SHADOWPROXY_ADMIN_TOKEN)",
        )


def emit(args: argparse.Namespace, document: Any, text: str) -> None:
    """A command's result: `document` as one JSON document under `--json`, else `text`."""
    if args.json:
        sys.stdout.write(orjson.dumps(document).decode() + "\n")
    else:
        print(text)
