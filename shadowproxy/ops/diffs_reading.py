"""What the `diffs` subcommands share: `--dir` and the filters, reading the selected records
(`Report`), the terminal's width and colour, and the warning line for skipped input.

`--dir` may be given more than once, and a value may be a glob (`--dir 'logs/replica-*'`, quoted
so that the shell leaves it alone): the records of every folder are read together, merged by
`ts` (difflog/read.py, `merged`), each folder's segments and its other `*.jsonl[.gz]` files
(records captured from stdout) as streams of their own (difflog/sources.py). A folder named twice
is read once.

Every subcommand reading diff logs takes the same filters (difflog/filters.py); a bad `--since`
or `--until`, and a glob that matches no folder, are usage errors (exit 2); a folder that is
missing or cannot be listed is exit 1 (`UnreadableFile`).
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shadowproxy.difflog.filters import Selection, Tally, parse_moment, select
from shadowproxy.difflog.read import Record, Skips, merged
from shadowproxy.difflog.sources import Stream, streams_of
from shadowproxy.difflog.table import Style, prose
from shadowproxy.errors import UnreadableFile, UsageError
from shadowproxy.ops.progress import ProgressBar
from shadowproxy.types import Outcome, RouteGroup

DEFAULT_DIR = "diff_logs"
GLOB = frozenset("*?[")


def filter_options(parser: argparse.ArgumentParser) -> None:
    """`--dir` and the filters every `diffs` subcommand takes."""
    parser.add_argument(
        "--dir",
        action="append",
        metavar="DIR",
        help="a diff-log folder, or a glob of them ('logs/replica-*'); repeat for more, read"
        f" together in time order (default: {DEFAULT_DIR})",
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
    parser.add_argument(
        "--replica",
        action="append",
        metavar="NAME",
        help="records written by this proxy replica (repeat for several)",
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
        replicas=frozenset(args.replica or ()),
    )


def _moment(args: argparse.Namespace, name: str, now: datetime) -> datetime | None:
    text = getattr(args, name)
    try:
        return None if text is None else parse_moment(text, now=now)
    except ValueError as exc:
        raise UsageError(f"--{name} {exc}") from None


def folders(values: Sequence[str] | None) -> list[Path]:
    """The folders `--dir` names (globs expanded, each folder once, in the order given); a glob
    matching no folder is a usage error, a folder that does not exist UnreadableFile."""
    found: dict[Path, Path] = {}
    for value in values or [DEFAULT_DIR]:
        if GLOB.isdisjoint(value):
            paths = [Path(value)]
        else:
            paths = [Path(name) for name in sorted(glob.glob(value)) if Path(name).is_dir()]
            if not paths:
                raise UsageError(f"--dir {value} matches no folder")
        for path in paths:
            if not path.is_dir():
                why = "is not a folder" if path.exists() else "does not exist"
                raise UnreadableFile(f"diff-log folder {path} {why} (set it with --dir)")
            found.setdefault(path.resolve(), path)
    return list(found.values())


def streams(directories: Sequence[Path]) -> list[Stream]:
    """Every stream of the folders; UnreadableFile when one cannot be listed."""
    found = []
    for directory in directories:
        try:
            found += streams_of(directory)
        except OSError as exc:
            raise UnreadableFile(f"cannot read {directory}: {exc.strerror or exc}") from None
    return found


def files_of(stream: Stream) -> list[Path]:
    """A stream's files; UnreadableFile when its folder cannot be listed."""
    try:
        return stream.files()
    except OSError as exc:
        raise UnreadableFile(f"cannot read {stream.folder}: {exc.strerror or exc}") from None


def where(directories: Sequence[Path]) -> str:
    """The folders read, as the header and the error messages name them."""
    return ", ".join(str(directory) for directory in directories)


def width() -> int | None:
    """Stdout's terminal width, or `COLUMNS`; None (lines kept whole) when piped."""
    return shutil.get_terminal_size((0, 0)).columns or None


def style() -> Style:
    return Style(colour=sys.stdout.isatty())


class Report:
    """One full read of the selected records (`records()`, once), and what the report's header
    and JSON document say about it: the folders, their files, records read and selected, skips.
    """

    def __init__(self, args: argparse.Namespace, *, now: datetime | None = None) -> None:
        self.choice = selection(args, now)
        self.directories = folders(args.dir)
        self.where = where(self.directories)
        self.streams = [files_of(stream) for stream in streams(self.directories)]
        self.files = [path for files in self.streams for path in files]
        self.skips = Skips()
        self.tally = Tally()

    def records(self) -> Iterator[Record]:
        """The selected records, with a progress bar on a terminal's stderr."""
        bar = ProgressBar(0, stream=sys.stderr)

        def progress(index: int, total: int, path: Path) -> None:
            bar.update(index, total, f"reading {path.name}")

        try:
            records = merged(
                self.streams,
                self.skips,
                first_day=self.choice.first_day,
                last_day=self.choice.last_day,
                progress=progress if bar.tty else None,
            )
            yield from select(records, self.choice, self.tally)
        finally:
            bar.finish()

    def document(self) -> dict[str, Any]:
        return {
            "dir": self.where,
            "dirs": [str(directory) for directory in self.directories],
            "files": len(self.files),
            "read": self.tally.read,
            "records": self.tally.selected,
            "skipped": self.skips.document(),
        }

    def header(self) -> str:
        count = f"{self.tally.selected} records"
        if self.tally.selected != self.tally.read:
            count += f" selected of {self.tally.read}"
        lines = [f"{count} in {len(self.files)} files under {self.where}"]
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
