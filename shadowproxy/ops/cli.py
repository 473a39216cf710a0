"""The `shadowproxy` command: `run`, `up`, `demo`, `diffs`, `flags`, `cutover`.

This is the one module that reads `os.environ` and configures logging; everything below it takes
an injected mapping or value. What every command does the same way:

- exit codes (README, "Exit codes"): 0 ok, 1 a failure while running, 2 a usage error, 3 a gate
  failed. A command returns `Exit.OK` or `Exit.GATE` and raises from the exception tree
  (`shadowproxy.errors`) otherwise; `main` maps each exception to its code in one place and
  prints it as one `shadowproxy: error: ...` line on stderr, never a traceback. A command whose
  parser is built by its own module (`diffs`: `ops/diffs.py`) sets `func`, `args.func(args)`.
- `--json` prints one JSON document on stdout instead of the text (`options.emit`); progress
  and errors go to stderr either way.
- `--help` shows each option's default and the environment variable that also sets it
  (`arguments.build_parser`, which knows the options; this module runs the command named).
- a `SHADOWPROXY_*` or `TA_*` variable that nothing reads is a warning at start (a log line for
  the commands that log, a stderr line for the others) naming the closest known variable.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
from collections.abc import Callable, Coroutine, Mapping, Sequence
from enum import IntEnum
from typing import Any, TypeVar
from urllib.parse import quote

import structlog

from shadowproxy.cutover.render import ready as cutover_ready
from shadowproxy.cutover.render import render as render_cutover
from shadowproxy.difflog.sink import STDOUT, JsonlDiffSink
from shadowproxy.errors import GateFailed, RunError, UsageError
from shadowproxy.ops.admin_client import (
    admin_call,
    admin_token,
    render_flags,
    render_history,
    render_parity,
)
from shadowproxy.ops.arguments import OPTION_VARIABLES, build_parser
from shadowproxy.ops.demo import DemoOptions, run_demo
from shadowproxy.ops.logging import configure_logging
from shadowproxy.ops.memory import pin_malloc_thresholds
from shadowproxy.ops.options import emit
from shadowproxy.ops.server import serve
from shadowproxy.ops.stack import StackOptions, run_stack
from shadowproxy.settings import load_settings
from shadowproxy.variables import unknown_variables, variable

T = TypeVar("T")
log = structlog.get_logger(__name__)


class Exit(IntEnum):
    """The exit codes, as README's "Exit codes" lists them."""

    OK = 0
    RUNTIME = 1  # a failure while running: unreachable, an admin API error, an unreadable file
    USAGE = 2  # the command line or a setting is wrong (argparse's own errors exit 2 too)
    GATE = 3  # a gate failed: demo mismatches, cutover not ready, a refused flip
    INTERRUPTED = 130


Handler = Callable[[argparse.Namespace, Mapping[str, str]], Exit]


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """uvloop when available: the proxy's hot path is socket-bound."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - non-Linux platforms
        return asyncio.run(coro)
    return uvloop.run(coro)


def fail(message: str, code: Exit) -> int:
    print(f"shadowproxy: error: {message}", file=sys.stderr, flush=True)
    return int(code)


def _cmd_run(args: argparse.Namespace, environ: Mapping[str, str]) -> Exit:
    settings = load_settings(
        environ,
        legacy_url=args.legacy,
        app_url=args.app,
        listen=args.listen,
        admin=args.admin,
        config_path=args.config,
        diff_log_dir=args.diff_log_dir,
        state_dir=args.state_dir,
        replica=socket.gethostname() or "proxy",
        legacy_secondary_url=args.legacy_secondary,
    )
    output = settings.diff_log_output  # SHADOWPROXY_DIFF_LOG: file, stdout or both
    try:
        sink = JsonlDiffSink(
            None if output == "stdout" else settings.diff_log_dir,
            log_matches=settings.log_matches,
            redact_json_paths=settings.config.redact_json_paths,
            replica=settings.replica,
            stream=None if output == "file" else STDOUT,
            keep_days=args.diff_log_keep_days,
        )
    except OSError as exc:
        raise RunError(
            f"cannot create the diff-log folder {args.diff_log_dir}: {exc.strerror}"
        ) from None
    banner = sys.stdout if output == "file" else sys.stderr  # records have stdout to themselves

    def on_ready(proxy_url: str, admin_url: str) -> None:
        print(f"shadowproxy listening on {proxy_url} (admin {admin_url})", file=banner, flush=True)

    pin_malloc_thresholds(environ)  # a long-running process: RSS stays flat (ops/memory.py)
    try:
        run_async(serve(settings, sink=sink, on_ready=on_ready))
    except OSError as exc:  # the listen or admin address is taken or not ours
        raise RunError(f"cannot start the proxy: {exc.strerror or exc}") from None
    return Exit.OK


def _cmd_up(args: argparse.Namespace, environ: Mapping[str, str]) -> Exit:
    options = StackOptions(
        listen=args.listen,
        admin=args.admin,
        legacy_port=args.legacy_port,
        app_port=args.app_port,
        legacy_secondary_port=args.legacy_secondary_port,
        with_secondary=args.with_secondary,
        var_dir=args.var_dir,
        diff_log_dir=args.diff_log_dir,
        config_path=args.config,
        diff_log_keep_days=args.diff_log_keep_days,
        python=sys.executable,
    )
    return Exit(run_async(run_stack(options, environ=dict(environ))))


def _cmd_demo(args: argparse.Namespace, environ: Mapping[str, str]) -> Exit:
    options = DemoOptions(
        proxy_url=args.proxy.rstrip("/"),
        admin_url=args.admin.rstrip("/"),
        tickers=args.tickers,
        api_key=args.api_key or variable(environ, OPTION_VARIABLES["api_key"]) or None,
        timeout_s=args.timeout,
        diff_log_dir=args.diff_log_dir,
    )
    report = run_async(run_demo(options))
    emit(args, report.document(), report.text())
    return Exit.OK if report.passed else Exit.GATE


def _cmd_flags(args: argparse.Namespace, environ: Mapping[str, str]) -> Exit:
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
    answer = _admin(args, environ, *call)
    if args.action == "history":
        text = render_history(answer.get("events", []))
    elif args.action == "parity":
        text = render_parity(answer)
    else:
        text = render_flags(answer)
    emit(args, answer, text)
    return Exit.OK


def _cmd_cutover(args: argparse.Namespace, environ: Mapping[str, str]) -> Exit:
    report = _admin(args, environ, "GET", "/cutover")
    emit(args, report, render_cutover(report))
    return Exit.OK if cutover_ready(report, args.group or ()) else Exit.GATE


def _admin(
    args: argparse.Namespace,
    environ: Mapping[str, str],
    method: str,
    path: str,
    body: Any = None,
) -> dict[str, Any]:
    token = admin_token(args.token_file, environ)
    return run_async(admin_call(args.admin.rstrip("/"), method, path, body, token=token))


COMMANDS: dict[str, Handler] = {
    "run": _cmd_run,
    "up": _cmd_up,
    "demo": _cmd_demo,
    "flags": _cmd_flags,
    "cutover": _cmd_cutover,
}


def _warn_unknown_variables(environ: Mapping[str, str], *, logged: bool) -> None:
    for name, closest in unknown_variables(environ):
        if logged:
            log.warning("unknown_environment_variable", variable=name, did_you_mean=closest)
        else:
            hint = f"; did you mean {closest}?" if closest else ""
            print(f"shadowproxy: warning: {name} is no known variable{hint}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    environ = dict(os.environ)
    try:
        args = build_parser(environ).parse_args(argv)
        level = getattr(args, "log_level", None)
        if level is not None:
            configure_logging(level=level)
        _warn_unknown_variables(environ, logged=level is not None)
        if hasattr(args, "func"):  # a command registered with its own parser (`diffs`)
            return int(args.func(args))
        return int(COMMANDS[args.command](args, environ))
    except UsageError as exc:
        return fail(str(exc), Exit.USAGE)
    except RunError as exc:
        return fail(str(exc), Exit.RUNTIME)
    except GateFailed as exc:
        return fail(str(exc), Exit.GATE)
    except KeyboardInterrupt:  # Ctrl-C before a command installed its own handlers
        return int(Exit.INTERRUPTED)
