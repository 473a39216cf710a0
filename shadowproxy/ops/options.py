"""What the commands share: option types, `--json`, and printing a command's result.

`bounded_int` parses a whole number in a range (argparse reports it as a usage error, exit 2);
`json_option` adds `--json`; `emit` prints a command's result as one JSON document on stdout
under `--json`, else its text (progress and errors go to stderr either way).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

import orjson


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


def emit(args: argparse.Namespace, document: Any, text: str) -> None:
    """A command's result: `document` as one JSON document under `--json`, else `text`."""
    if args.json:
        sys.stdout.write(orjson.dumps(document).decode() + "\n")
    else:
        print(text)
