"""What the `diffs` subcommands share: `--dir` and the filters, reading the selected records
(`Report`), the terminal's width and colour, and the warning line for skipped input.

Every subcommand reading a diff-log folder takes the same filters (difflog/filters.py); a bad
`--since` or `--until` is a usage error (exit 2), a folder that is missing or cannot be listed
exit 1 (`UnreadableFile`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shadowproxy.difflog.filters import Selection, Tally, parse_moment, selected
from shadowproxy.difflog.read import Record, Skips
from shadowproxy.difflog.segments import segment_files
from shadowproxy.difflog.table import Style, prose
from shadowproxy.errors import UnreadableFile, UsageError
from shadowproxy.ops.progress import ProgressBar
from shadowproxy.types import Outcome, RouteGroup


def filter_options(parser: argparse.ArgumentParser) -> None:
    """`--dir` and the filters every `diffs` subcommand takes."""
    parser.add_argument(
        "--dir", type=Path, default=Path("diff_logs"), metavar="DIR", help="the diff-log folder"
    )
    moment = "an age (30m, 1h, 2d) or an ISO date or date-time, UTC unless it says otherwise"
    parser.add_argument("--since", metavar="WHEN", help=f"from then on: {moment}")
    parser.add_argument("--until", metavar="WHEN", help=f"before then: {moment}")
    parser.add_argument(
        "--group", choices=[g.value for g in RouteGroup], metavar="GROUP", help="one route group"
    )
    parser.add_argument("--route", metavar="TEMPLATE", help="one route template")
    parser.add_argument(
        "--outcome",
        type=str.lower,
        choices=[o.value for o in Outcome],
        metavar="OUTCOME",
        help="one outcome, e.g. mismatch",
    )
    parser.add_argument(
        "--field",
        metavar="FIELD",
        help="records where this field differs, or a field of this family (tasks[].decision)",
    )
    parser.add_argument(
        "--consumer",
        metavar="NAME",
        help="records whose answer breaks this dashboard consumer, e.g. legacy-dashboard",
    )


def selection(args: argparse.Namespace, now: datetime | None = None) -> Selection:
    """The filters given; a bad `--since` or `--until` is a usage error (exit 2)."""
    now = now or datetime.now(UTC)  # both ages count back from the same moment
    since, until = (_moment(args, name, now) for name in ("since", "until"))
    if since is not None and until is not None and until <= since:
        raise UsageError("--until must be later than --since")
    return Selection(
        since=since,
        until=until,
        group=args.group,
        route=args.route,
        outcome=args.outcome,
        field=args.field,
        consumer=args.consumer,
    )


def _moment(args: argparse.Namespace, name: str, now: datetime) -> datetime | None:
    text = getattr(args, name)
    try:
        return None if text is None else parse_moment(text, now=now)
    except ValueError as exc:
        raise UsageError(f"--{name} {exc}") from None


def segments(directory: Path) -> list[Path]:
    """The folder's segments; UnreadableFile when it is missing or cannot be listed."""
    if not directory.is_dir():
        raise UnreadableFile(f"diff-log folder {directory} does not exist (set it with --dir)")
    try:
        return segment_files(directory)
    except OSError as exc:
        raise UnreadableFile(f"cannot read {directory}: {exc.strerror or exc}") from None


def width() -> int | None:
    """Stdout's terminal width, or `COLUMNS`; None (lines kept whole) when piped."""
    return shutil.get_terminal_size((0, 0)).columns or None


def style() -> Style:
    return Style(colour=sys.stdout.isatty())


class Report:
    """One full read of the selected records (`records()`, once), and what the report's header
    and JSON document say about it: the folder, its segments, records read and selected, skips.
    """

    def __init__(self, args: argparse.Namespace, *, now: datetime | None = None) -> None:
        self.directory: Path = args.dir
        self.choice = selection(args, now)
        self.files = segments(self.directory)
        self.skips = Skips()
        self.tally = Tally()

    def records(self) -> Iterator[Record]:
        """The selected records, with a progress bar on a terminal's stderr."""
        bar = ProgressBar(0, stream=sys.stderr)

        def progress(index: int, total: int, path: Path) -> None:
            bar.update(index, total, f"reading {path.name}")

        try:
            yield from selected(
                self.files,
                self.choice,
                self.skips,
                self.tally,
                progress=progress if bar.tty else None,
            )
        finally:
            bar.finish()

    def document(self) -> dict[str, Any]:
        return {
            "dir": str(self.directory),
            "files": len(self.files),
            "read": self.tally.read,
            "records": self.tally.selected,
            "skipped": self.skips.document(),
        }

    def header(self) -> str:
        count = f"{self.tally.selected} records"
        if self.tally.selected != self.tally.read:
            count += f" selected of {self.tally.read}"
        lines = [f"{count} in {len(self.files)} files under {self.directory}"]
        if self.skips:
            lines.append(self.skips.message())
        fit = width()
        return "\n".join(prose(text, fit) for text in lines)


def warn(skips: Skips) -> None:
    if skips:
        print(f"shadowproxy: warning: {skips.message()}", file=sys.stderr, flush=True)


def stdout_gone() -> None:
    """The reader of stdout went away (`| head`): stop writing, quietly."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
