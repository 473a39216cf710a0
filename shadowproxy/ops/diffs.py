"""`shadowproxy diffs`: review a diff-log folder from a terminal.

`register(subparsers)` builds the `diffs` parser and its subcommands, each setting `func`
(`args.func(args) -> int`), and returns the subcommands' action so that more of them can be
registered beside these. Without a subcommand, `diffs [OPTIONS]` is `diffs summary [OPTIONS]`
(what `diffs` did before it had subcommands: the parser's `implied` subcommand, which the CLI's
parser class, `arguments._Parser`, supports).

- `summary`: per route group and route, the records by outcome, skip reason and consumer break,
  the top differing fields and, apart from them, the noisy fields with the rate measured;
  `--fail-on-mismatch` exits 3 on an unaccepted mismatch (noise is never one).
- `signatures`: mismatches grouped by signature (difflog/signatures.py).
- `show ID`: one record in full; a unique prefix of a comparison id will do.
- `tail [-n N] [--follow]`: the last records one line each, then (`--follow`) new ones as they
  are written, across rotation, until Ctrl-C; across several folders, in `ts` order.
- `export --format csv|jsonl`: the selected records, streamed.

`report` (ops/diffs_report.py), `fixtures` and `accept` (ops/diffs_accept.py) register themselves
beside these; what they all share is ops/diffs_reading.py.

Every subcommand takes the same filters (difflog/filters.py) and `--dir`, which may name several
folders (repeated, or a glob: one per replica) read together in `ts` order; `--json` prints one
JSON document (`tail` and `export`: one record per line). Tables fit the terminal (stdout's
width, or `COLUMNS`; piped, lines are kept whole) and only a terminal gets colour. Lines the
reader skips are counted and named in one `N lines skipped: ...` line, never a traceback; a
folder that is missing or cannot be listed is exit 1 (`UnreadableFile`).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import TypeVar

import orjson

from shadowproxy.difflog.export import write_csv, write_jsonl
from shadowproxy.difflog.filters import Tally
from shadowproxy.difflog.follow import Follower, last_records, new_records
from shadowproxy.difflog.read import Record, Skips
from shadowproxy.difflog.show import full, line
from shadowproxy.difflog.signatures import Signatures
from shadowproxy.difflog.summary import Summary
from shadowproxy.errors import GateFailed, RunError, UnreadableFile, UsageError
from shadowproxy.ops.diffs_reading import (
    Report,
    files_of,
    filter_options,
    folders,
    selection,
    stdout_gone,
    streams,
    style,
    warn,
    where,
    width,
)
from shadowproxy.ops.options import bounded_int, emit, json_option

POLL_S = 0.5  # how often `tail --follow` looks for new records
SHOWN_MATCHES = 5  # comparison ids named when a prefix is ambiguous
Parser = TypeVar("Parser", bound=argparse.ArgumentParser)


def register(
    subparsers: argparse._SubParsersAction[Parser],
) -> argparse._SubParsersAction[Parser]:
    """The `diffs` command and its subcommands; returns the subcommands' action."""
    diffs = subparsers.add_parser(
        "diffs",
        help="review a diff-log folder: summary, signatures, show, tail, export, report,"
        " fixtures, accept",
        description="Review a diff-log folder (its schema: diff_logs/README.md). Without a "
        "subcommand, `diffs [OPTIONS]` is `diffs summary [OPTIONS]`.",
        implied="summary",  # the parser class (arguments._Parser) prepends it when none is named
    )
    commands = diffs.add_subparsers(dest="diffs_command", required=True, metavar="SUBCOMMAND")

    summary = commands.add_parser(
        "summary",
        help="per route group and route: outcomes, skips, breaks, top fields, noisy fields",
    )
    _top(summary, "differing fields shown")
    summary.add_argument(
        "--fail-on-mismatch",
        action="store_true",
        help="exit 3 when the selected records hold a mismatch not accepted (noise is none)",
    )
    summary.set_defaults(func=_summary)

    signatures = commands.add_parser(
        "signatures", help="mismatches grouped by signature: one row per divergence"
    )
    _top(signatures, "signatures shown")
    signatures.add_argument(
        "--recent",
        type=bounded_int(1, 100_000),
        default=10,
        metavar="MIN",
        help="still occurring: seen in the last MIN minutes before the newest record",
    )
    signatures.set_defaults(func=_signatures)

    show = commands.add_parser("show", help="one record in full")
    show.add_argument("id", metavar="ID", help="a comparison id, or a unique prefix of one")
    show.set_defaults(func=_show)

    tail = commands.add_parser("tail", help="the last records, one line each")
    tail.add_argument(
        "-n",
        "--lines",
        type=bounded_int(0, 100_000),
        default=10,
        metavar="N",
        help="how many of the last records",
    )
    tail.add_argument(
        "--follow", action="store_true", help="then print new records as written, until Ctrl-C"
    )
    tail.set_defaults(func=_tail)

    export = commands.add_parser("export", help="the selected records, streamed")
    export.add_argument(
        "--format",
        choices=("csv", "jsonl"),
        default="jsonl",
        help="jsonl: the records as written; csv: the columns in diff_logs/README.md",
    )
    export.set_defaults(func=_export)

    streams = "print one JSON record per line (as written) instead of the text"
    for name, sub in commands.choices.items():
        filter_options(sub)
        json_option(sub, help=streams if name in ("tail", "export") else None)
    return commands


def _top(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--top", type=bounded_int(1, 1000), default=10, metavar="N", help=f"the most {what}"
    )


def _summary(args: argparse.Namespace) -> int:
    report, summary = Report(args), Summary()
    for record in report.records():
        summary.add(record)
    tables = summary.render(top=args.top, width=width())
    text = report.header() + (f"\n\n{tables}" if tables else "")
    emit(args, {**report.document(), **summary.document(top=args.top)}, text)
    if args.fail_on_mismatch and summary.mismatches:
        raise GateFailed(f"{summary.mismatches} mismatches not accepted in the selected records")
    return 0


def _signatures(args: argparse.Namespace) -> int:
    report, signatures = Report(args), Signatures()
    for record in report.records():
        signatures.add(record)
    newest, recent = report.tally.newest, args.recent
    document = signatures.document(top=args.top, newest=newest, recent_minutes=recent)
    table = signatures.render(top=args.top, newest=newest, recent_minutes=recent, width=width())
    emit(args, {**report.document(), **document}, f"{report.header()}\n\n{table}")
    return 0


def _show(args: argparse.Namespace) -> int:
    report = Report(args)
    wanted: str = args.id.strip()
    if not wanted:
        raise UsageError("give a comparison id, or the first characters of one")
    exact = first = None
    others: dict[str, None] = {}  # other comparison ids the prefix matches, a few
    for record in report.records():
        comparison = record["comparison_id"]
        if comparison == wanted:
            exact = record
            break
        if comparison.startswith(wanted):
            if first is None:
                first = record
            elif comparison != first["comparison_id"] and len(others) < SHOWN_MATCHES:
                others[comparison] = None
    warn(report.skips)
    found = exact or first
    if found is None:
        raise RunError(
            f"no comparison {wanted} among the {report.tally.selected} records selected"
            f" under {report.where}"
        )
    if exact is None and others:
        ids = ", ".join([found["comparison_id"], *others])
        raise UsageError(f"{wanted} starts more than one comparison id ({ids}): give more of it")
    emit(args, found, full(found, width=width(), style=style()))
    return 0


def _tail(args: argparse.Namespace) -> int:
    choice, skips = selection(args), Skips()
    directories = folders(args.dir)
    found = streams(directories)
    for stream in found:
        files_of(stream)  # a folder that is missing or cannot be listed: exit 1
    write = _writer(args)
    try:
        with ExitStack() as stack:
            followers = [stack.enter_context(Follower(stream, skips)) for stream in found]
            try:
                recent = last_records(args.lines, choice, skips, followers)
            except OSError as exc:
                raise UnreadableFile(
                    f"cannot read {where(directories)}: {exc.strerror or exc}"
                ) from None
            for record in recent:
                write(record)
            tally = Tally()
            while args.follow:  # until Ctrl-C (exit 130)
                time.sleep(POLL_S)
                for record in new_records(followers, choice, tally):
                    write(record)
    except BrokenPipeError:
        stdout_gone()
    finally:
        warn(skips)
    return 0


def _export(args: argparse.Namespace) -> int:
    if args.json and args.format == "csv":
        raise UsageError("--json is --format jsonl; it cannot go with --format csv")
    report = Report(args)
    try:
        if args.json or args.format == "jsonl":
            write_jsonl(report.records(), sys.stdout.buffer)
        else:
            write_csv(report.records(), sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:
        stdout_gone()
    warn(report.skips)
    return 0


def _writer(args: argparse.Namespace) -> Callable[[Record], None]:
    if args.json:

        def write_json(record: Record) -> None:
            sys.stdout.buffer.write(orjson.dumps(record) + b"\n")
            sys.stdout.buffer.flush()

        return write_json
    fit, paint = width(), style()

    def write_line(record: Record) -> None:
        print(line(record, width=fit, style=paint), flush=True)

    return write_line
