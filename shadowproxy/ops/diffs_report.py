"""`shadowproxy diffs report --html OUT.html`: the diff log as one self-contained HTML page.

`register(subparsers)` adds the `report` subcommand with its filters and sets `func`, so
`args.func(args)` runs it: the selected records (the filters every `diffs` subcommand takes) are
read once, in a stream, aggregated with bounded memory
(`shadowproxy.difflog.report_data`) and rendered (`shadowproxy.difflog.report_html`); the page is
written beside OUT and renamed over it, so a reader never sees half of it. Returns 0; a bad
option value raises `UsageError` (exit 2), a folder that cannot be read or a page that cannot be
written `RunError` (exit 1), the way `shadowproxy.ops.cli` maps them. Lines the reader skipped
are named on the page and on stderr.
"""

from __future__ import annotations

import argparse
import os
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from shadowproxy.difflog.filters import Selection
from shadowproxy.difflog.report_data import aggregate
from shadowproxy.difflog.report_html import render
from shadowproxy.errors import RunError
from shadowproxy.ops.diffs_reading import Report, filter_options, warn

Parser = TypeVar("Parser", bound=argparse.ArgumentParser)


def register(
    subparsers: argparse._SubParsersAction[Parser],
) -> argparse._SubParsersAction[Parser]:
    """Add `report` to `subparsers` (what `ArgumentParser.add_subparsers()` returned); returns
    them, for more subcommands."""
    report = subparsers.add_parser(
        "report",
        help="write a self-contained HTML parity report of the diff log",
        description="One HTML file with no external resource: parity per route group, records,"
        " mismatches, noise and each side's latency over time, top fields, noisy fields, mismatch"
        " signatures, consumer-contract breaks, cutover readiness and the latest mismatches.",
    )
    report.add_argument(
        "--html", type=Path, required=True, metavar="OUT.html", help="the page to write"
    )
    filter_options(report)
    report.set_defaults(func=run)
    return subparsers


def run(args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    reading = Report(args, now=now)
    data = aggregate(reading.records())
    page = render(
        data,
        source=reading.where,
        filters=_filters(reading.choice),
        generated=now,
        skipped=reading.skips.message(),
    ).encode()
    partial = args.html.with_name(args.html.name + ".partial")
    try:
        partial.write_bytes(page)
        os.replace(partial, args.html)
    except OSError as exc:
        with suppress(OSError):  # a full disk gets the space of a half-written page back
            partial.unlink()
        raise RunError(f"cannot write {args.html}: {exc.strerror or exc}") from None
    warn(reading.skips)
    print(f"wrote {args.html}: {data.records} records, {len(page) / 1024:.0f} KiB")
    return 0


def _filters(selection: Selection) -> str:
    """What the page's header says was selected, times resolved (`--since 1h`) in UTC."""
    chosen = [
        f"{name} {moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
        for name, moment in (("since", selection.since), ("until", selection.until))
        if moment is not None
    ]
    chosen += [
        f"{name} {value}"
        for name, value in (
            ("group", selection.group),
            ("route", selection.route),
            ("outcome", selection.outcome),
            ("field", selection.field),
            ("consumer", selection.consumer),
            ("replica", ", ".join(sorted(selection.replicas)) or None),
        )
        if value is not None
    ]
    return "records " + "; ".join(chosen) if chosen else "every record"
