"""The `shadowproxy` command: `run`, `up`, `demo`, `diffs`, `flags`, `cutover`.

This is the one module that reads `os.environ` and configures logging; everything below it takes
an injected mapping or value. Every error a user can cause ends as one `shadowproxy: error: ...`
line on stderr and exit code 2; a failure while running is exit code 1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import orjson

from shadowproxy.cutover.render import render as render_cutover
from shadowproxy.difflog.sink import JsonlDiffSink
from shadowproxy.difflog.summary import DiffFilter, as_json, parse_outcome, parse_since, render
from shadowproxy.difflog.summary import summarize as summarize_diffs
from shadowproxy.errors import ConfigError, SettingsError
from shadowproxy.ops.admin_client import (
    AdminError,
    admin_call,
    admin_token,
    render_flags,
    render_history,
    render_parity,
)
from shadowproxy.ops.demo import DemoOptions, run_demo
from shadowproxy.ops.logging import LEVELS, configure_logging
from shadowproxy.ops.server import serve
from shadowproxy.ops.stack import StackOptions, run_stack
from shadowproxy.settings import load_settings

T = TypeVar("T")
USAGE_ERROR = 2
INTERRUPTED = 130


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """uvloop when available: the proxy's hot path is socket-bound."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - non-Linux platforms
        return asyncio.run(coro)
    return uvloop.run(coro)


def fail(message: str, code: int = USAGE_ERROR) -> int:
    print(f"shadowproxy: error: {message}", file=sys.stderr, flush=True)
    return code


def _cmd_run(args: argparse.Namespace) -> int:
    configure_logging(level=args.log_level)
    try:
        settings = load_settings(
            os.environ,
            legacy_url=args.legacy,
            app_url=args.app,
            listen=args.listen,
            admin=args.admin,
            config_path=args.config,
            diff_log_dir=args.diff_log_dir,
            state_dir=args.state_dir,
        )
        sink = JsonlDiffSink(
            settings.diff_log_dir,
            log_matches=settings.log_matches,
            redact_json_paths=settings.config.redact_json_paths,
            known_differences=settings.config.known_differences,
            keep_days=args.diff_log_keep_days,
        )
    except (SettingsError, ConfigError) as exc:
        return fail(str(exc))
    except OSError as exc:
        return fail(f"cannot create the diff-log folder {args.diff_log_dir}: {exc.strerror}")

    def on_ready(proxy_url: str, admin_url: str) -> None:
        print(f"shadowproxy listening on {proxy_url} (admin {admin_url})", flush=True)

    try:
        run_async(serve(settings, sink=sink, on_ready=on_ready))
    except OSError as exc:  # the listen or admin address is taken or not ours
        return fail(f"cannot start the proxy: {exc.strerror or exc}", code=1)
    except KeyboardInterrupt:  # Ctrl-C before serve() installed its own handlers
        return INTERRUPTED
    return 0


def _cmd_up(args: argparse.Namespace) -> int:
    configure_logging(level=args.log_level)
    options = StackOptions(
        listen=args.listen,
        admin=args.admin,
        legacy_port=args.legacy_port,
        app_port=args.app_port,
        var_dir=args.var_dir,
        diff_log_dir=args.diff_log_dir,
        config_path=args.config,
        diff_log_keep_days=args.diff_log_keep_days,
        python=sys.executable,
    )
    try:
        return run_async(run_stack(options, environ=dict(os.environ)))
    except KeyboardInterrupt:
        return INTERRUPTED


def _cmd_demo(args: argparse.Namespace) -> int:
    configure_logging(level=args.log_level)
    options = DemoOptions(
        proxy_url=args.proxy.rstrip("/"),
        admin_url=args.admin.rstrip("/"),
        tickers=args.tickers,
        api_key=args.api_key if args.api_key is not None else os.environ.get("DASHBOARD_API_KEY"),
        timeout_s=args.timeout,
        diff_log_dir=args.diff_log_dir,
    )
    try:
        return run_async(run_demo(options))
    except KeyboardInterrupt:
        return INTERRUPTED


def _cmd_diffs(args: argparse.Namespace) -> int:
    try:
        selection = DiffFilter(
            since=parse_since(args.since) if args.since else None,
            outcome=parse_outcome(args.outcome) if args.outcome else None,
            route=args.route,
        )
    except ValueError as exc:
        return fail(str(exc))
    if not args.dir.is_dir():
        return fail(f"diff-log folder {args.dir} does not exist (set it with --dir)")
    show_progress = sys.stderr.isatty() and not args.json

    def progress(index: int, total: int, path: Path) -> None:
        end = "\n" if index == total else ""
        print(f"\rreading {index}/{total} {path.name:<40}", end=end, file=sys.stderr)

    try:
        summary = summarize_diffs(args.dir, selection, progress=progress if show_progress else None)
    except OSError as exc:
        return fail(f"cannot read {args.dir}: {exc.strerror or exc}", code=1)
    if args.json:
        sys.stdout.write(orjson.dumps(as_json(summary, top=args.top)).decode() + "\n")
    else:
        print(render(summary, args.dir, top=args.top))
    return 0


def _cmd_flags(args: argparse.Namespace) -> int:
    call: tuple[str, str, Any] = ("GET", "/flags", None)
    if args.action == "set":
        group = quote(args.group, safe="")
        body = {"side": args.side, "reason": args.reason, "force": args.force}
        call = ("PUT", f"/flags/{group}", body)
    elif args.action == "phase":
        body = {"reason": args.reason, "force": args.force}
        call = ("POST", f"/phase/{quote(args.name, safe='')}", body)
    elif args.action == "rollback":
        call = ("POST", "/rollback", {"reason": args.reason})
    elif args.action == "clear":
        call = ("DELETE", "/flags", None)
    elif args.action == "history":
        query = f"?limit={args.limit}" + (f"&since={quote(args.since)}" if args.since else "")
        call = ("GET", f"/events{query}", None)
    elif args.action == "parity":
        call = ("GET", f"/parity?window={quote(args.window)}", None)
    try:
        answer = _admin(args, *call)
    except AdminError as exc:
        return fail(str(exc), code=exc.code)
    if getattr(args, "json", False):
        sys.stdout.write(orjson.dumps(answer).decode() + "\n")
    elif args.action == "history":
        print(render_history(answer.get("events", [])))
    elif args.action == "parity":
        print(render_parity(answer))
    else:
        print(render_flags(answer))
    return 0


def _admin(args: argparse.Namespace, method: str, path: str, body: Any = None) -> dict[str, Any]:
    token = admin_token(args.token_file, os.environ)
    return run_async(admin_call(args.admin.rstrip("/"), method, path, body, token=token))


def _cmd_cutover(args: argparse.Namespace) -> int:
    try:
        report = _admin(args, "GET", "/cutover")
    except AdminError as exc:
        return fail(str(exc), code=exc.code)
    if args.json:
        sys.stdout.write(orjson.dumps(report).decode() + "\n")
    else:
        print(render_cutover(report))
    return 0


def _bounded_int(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be a whole number {low}-{high}, got {text!r}")
        return value

    return parse


_port = _bounded_int(0, 65535)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, got {text!r}")
    return value


def build_parser(environ: dict[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shadowproxy",
        description="Shadow every dashboard request to the legacy backend and the app service, "
        "answer from the authoritative side, and diff the answers.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    log_level = environ.get("SHADOWPROXY_LOG_LEVEL", "info").lower()

    run = commands.add_parser("run", help="run the proxy in front of two backends")
    run.add_argument("--legacy", required=True, metavar="URL", help="legacy backend base URL")
    run.add_argument("--app", required=True, metavar="URL", help="app service base URL")
    run.add_argument("--listen", default="127.0.0.1:8000", metavar="HOST:PORT")
    run.add_argument("--admin", default="127.0.0.1:9100", metavar="HOST:PORT")
    run.add_argument("--config", type=Path, metavar="FILE.toml", help="diff config (TOML)")
    run.add_argument("--diff-log-dir", type=Path, default=Path("diff_logs"), metavar="DIR")
    run.add_argument("--state-dir", type=Path, default=Path("var/shadowproxy"), metavar="DIR")
    run.set_defaults(handler=_cmd_run)

    up = commands.add_parser("up", help="start legacy backend, app service and proxy together")
    up.add_argument("--listen", default="127.0.0.1:8000", metavar="HOST:PORT")
    up.add_argument("--admin", default="127.0.0.1:9100", metavar="HOST:PORT")
    up.add_argument("--legacy-port", type=_port, default=8001, metavar="PORT")
    up.add_argument("--app-port", type=_port, default=8002, metavar="PORT")
    up.add_argument("--var-dir", type=Path, default=Path("var"), metavar="DIR")
    up.add_argument("--diff-log-dir", type=Path, default=Path("diff_logs"), metavar="DIR")
    up.add_argument("--config", type=Path, metavar="FILE.toml", help="diff config (TOML)")
    up.set_defaults(handler=_cmd_up)

    demo = commands.add_parser("demo", help="drive a dashboard session and report parity")
    demo.add_argument("--proxy", default="http://127.0.0.1:8000", metavar="URL")
    demo.add_argument("--admin", default="http://127.0.0.1:9100", metavar="URL")
    demo.add_argument("--tickers", type=_bounded_int(1, 8), default=3, metavar="N")
    demo.add_argument("--api-key", metavar="K", help="dashboard key (default $DASHBOARD_API_KEY)")
    demo.add_argument("--timeout", type=_seconds, default=180.0, metavar="S", help="per analysis")
    demo.add_argument(
        "--diff-log-dir",
        type=Path,
        default=Path("diff_logs"),
        metavar="DIR",
        help="the proxy's diff logs: tells settled-state mismatches from in-flight ones",
    )
    demo.set_defaults(handler=_cmd_demo)

    diffs = commands.add_parser("diffs", help="summarise a diff-log folder")
    diffs.add_argument("--dir", type=Path, default=Path("diff_logs"), metavar="D")
    diffs.add_argument("--since", metavar="ISO", help="only records at or after this time (UTC)")
    diffs.add_argument("--outcome", metavar="X", help="only this outcome, e.g. mismatch")
    diffs.add_argument("--route", metavar="T", help="only this route template")
    diffs.add_argument("--top", type=_bounded_int(1, 1000), default=10, metavar="N")
    diffs.add_argument("--json", action="store_true", help="machine-readable output")
    diffs.set_defaults(handler=_cmd_diffs)

    flags = commands.add_parser("flags", help="show or flip which side is authoritative")
    flags.add_argument("--admin", default="http://127.0.0.1:9100", metavar="URL")
    actions = flags.add_subparsers(dest="action", metavar="ACTION")
    flip = actions.add_parser("set", help="make SIDE authoritative for GROUP")
    flip.add_argument("group", metavar="GROUP", help="e.g. analysis, reports, portfolio")
    flip.add_argument("side", choices=("legacy", "app"))
    flip.add_argument("--reason", required=True, help="why (logged and kept)")
    flip.add_argument(
        "--force",
        action="store_true",
        help="flip to the app even while the cutover verdict is blocked (recorded in the reason)",
    )
    back = actions.add_parser("rollback", help="every group back to legacy, in one step")
    back.add_argument("--reason", required=True, help="why (logged and kept)")
    actions.add_parser("clear", help="drop runtime overrides: the environment decides again")
    phase = actions.add_parser("phase", help="move every group to a phase of the migration plan")
    phase.add_argument("name", choices=("shadow", "reads", "websockets", "full"))
    phase.add_argument("--reason", required=True, help="why (logged and kept)")
    phase.add_argument("--force", action="store_true", help="past a blocked cutover or a cooldown")
    history = actions.add_parser("history", help="the audit trail: who changed what, when, why")
    history.add_argument("--since", metavar="ISO", help="only events at or after this time")
    history.add_argument("--limit", type=_bounded_int(1, 1000), default=50, metavar="N")
    parity = actions.add_parser("parity", help="per group: mismatch and error ratios, top fields")
    parity.add_argument("--window", default="5m", metavar="D", help="e.g. 5m, 1h (default 5m)")
    for sub in actions.choices.values():
        sub.add_argument("--json", action="store_true", help="machine-readable output")
    flags.set_defaults(handler=_cmd_flags)

    cutover = commands.add_parser(
        "cutover", help="is the app ready to answer each route group, for each dashboard?"
    )
    cutover.add_argument("--admin", default="http://127.0.0.1:9100", metavar="URL")
    cutover.add_argument("--json", action="store_true", help="machine-readable output")
    cutover.set_defaults(handler=_cmd_cutover)
    for sub in (flags, cutover):
        sub.add_argument(
            "--token-file",
            type=Path,
            metavar="FILE",
            help="the admin token (default: $SHADOWPROXY_ADMIN_TOKEN)",
        )

    for sub in (run, up, demo):
        sub.add_argument("--log-level", choices=LEVELS, default=log_level)
    for sub in (run, up):
        sub.add_argument(
            "--diff-log-keep-days",
            type=_bounded_int(1, 36500),
            metavar="N",
            help="delete rotated diff logs older than N days (default: keep everything)",
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    environ = dict(os.environ)
    if environ.get("SHADOWPROXY_LOG_LEVEL", "info").lower() not in LEVELS:
        return fail(f"SHADOWPROXY_LOG_LEVEL must be one of {', '.join(LEVELS)}")
    args = build_parser(environ).parse_args(argv)
    code: int = args.handler(args)
    return code
