"""`shadowproxy diffs report --html OUT.html`: the diff log as one self-contained HTML page.

`register(subparsers)` adds the `report` subcommand with its filters and sets `func`, so
`args.func(args)` runs it: the selected records are read once, in a stream (`_records`, the one
place this command reads the folder), aggregated with bounded memory
(`shadowproxy.difflog.report_data`) and rendered (`shadowproxy.difflog.report_html`); the page is
written beside OUT and renamed over it, so a reader never sees half of it. Returns 0; a bad
option value raises `UsageError` (exit 2), a folder that cannot be read or a page that cannot be
written `RunError` (exit 1), the way `shadowproxy.ops.cli` maps them. Lines the reader skipped
are named on the page and on stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from shadowproxy.difflog.filters import Selection, Tally, parse_moment, selected
from shadowproxy.difflog.read import Record, Skips
from shadowproxy.difflog.report_data import aggregate
from shadowproxy.difflog.report_html import render
from shadowproxy.difflog.segments import segment_files
from shadowproxy.errors import RunError, UnreadableFile, UsageError
from shadowproxy.ops.progress import ProgressBar
from shadowproxy.types import RouteGroup

Parser = TypeVar("Parser", bound=argparse.ArgumentParser)


def register(subparsers: argparse._SubParsersAction[Parser]) -> Parser:
    """Add `report` to `subparsers` (what `ArgumentParser.add_subparsers()` returned)."""
    report = subparsers.add_parser(
        "report",
        help="write a self-contained HTML parity report of the diff log",
        description="One HTML file with no external resource: parity per route group, records,"
        " mismatches and each side's latency over time, top fields, mismatch signatures,"
        " consumer-contract breaks, cutover readiness and the latest mismatches.",
    )
    report.add_argument(
        "--html", type=Path, required=True, metavar="OUT.html", help="the page to write"
    )
    report.add_argument(
        "--dir", type=Path, default=Path("diff_logs"), metavar="D", help="the diff-log folder"
    )
    report.add_argument(
        "--since", metavar="WHEN", help="only records at or after this: 1h, 2d, or ISO (UTC)"
    )
    report.add_argument("--until", metavar="WHEN", help="only records before this: 1h, 2d, or ISO")
    report.add_argument(
        "--group",
        choices=[group.value for group in RouteGroup],
        metavar="GROUP",
        help="only this route group",
    )
    report.add_argument("--route", metavar="T", help="only this route template")
    report.set_defaults(func=run)
    return report


def run(args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    since, until = _moment(args.since, "--since", now), _moment(args.until, "--until", now)
    if since is not None and until is not None and until <= since:
        raise UsageError("--until must be later than --since")
    selection = Selection(since=since, until=until, group=args.group, route=args.route)
    if not args.dir.is_dir():
        raise UnreadableFile(f"diff-log folder {args.dir} does not exist (set it with --dir)")
    skips = Skips()
    bar = ProgressBar(0, stream=sys.stderr)  # on a terminal only: piped, a line per file is noise
    try:
        data = aggregate(_records(args.dir, selection, skips, bar))
    except OSError as exc:
        raise UnreadableFile(f"cannot read {args.dir}: {exc.strerror or exc}") from None
    finally:
        bar.finish()
    filters = _filters(selection)
    page = render(
        data, source=str(args.dir), filters=filters, generated=now, skipped=skips.message()
    ).encode()
    partial = args.html.with_name(args.html.name + ".partial")
    try:
        partial.write_bytes(page)
        os.replace(partial, args.html)
    except OSError as exc:
        with suppress(OSError):  # a full disk gets the space of a half-written page back
            partial.unlink()
        raise RunError(f"cannot write {args.html}: {exc.strerror or exc}") from None
    if skips:
        print(f"shadowproxy: warning: {skips.message()}", file=sys.stderr)
    print(f"wrote {args.html}: {data.records} records, {len(page) / 1024:.0f} KiB")
    return 0


def _records(
    directory: Path, selection: Selection, skips: Skips, bar: ProgressBar
) -> Iterator[Record]:
    """The selected records in write order, streamed; what could not be read goes to `skips`."""

    def progress(index: int, total: int, path: Path) -> None:
        bar.update(index, total, f"reading {path.name}")

    files = segment_files(directory)  # OSError for a folder that cannot be listed
    return selected(files, selection, skips, Tally(), progress=progress if bar.tty else None)


def _moment(text: str | None, option: str, now: datetime) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_moment(text, now=now)
    except ValueError as exc:
        raise UsageError(f"{option} {exc}") from None


def _filters(selection: Selection) -> str:
    """What the page's header says was selected, times resolved (`--since 1h`) in UTC."""
    chosen = [
        f"{name} {moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
        for name, moment in (("since", selection.since), ("until", selection.until))
        if moment is not None
    ]
    chosen += [
        f"{name} {value}"
        for name, value in (("group", selection.group), ("route", selection.route))
        if value is not None
    ]
    return "records " + "; ".join(chosen) if chosen else "every record"
