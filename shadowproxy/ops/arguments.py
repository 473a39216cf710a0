"""The command line: every command's options, with their defaults and the variables that set them.

`build_parser` knows the options only; `cli` runs the command named (`args.command`). Every parser
formats its help with `HelpFormatter`, so each option's help ends with its default (the one the
option holds, never a copy) and, when an environment variable also sets it (`OPTION_VARIABLES`),
that variable's name. The defaults come from the options of what the command runs
(`StackOptions`, `DemoOptions`) where there is one.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from shadowproxy.build import build_info
from shadowproxy.errors import UsageError
from shadowproxy.ops.demo import DemoOptions
from shadowproxy.ops.diffs import register as register_diffs
from shadowproxy.ops.diffs_accept import register as register_accept
from shadowproxy.ops.diffs_report import register as register_report
from shadowproxy.ops.logging import LEVELS
from shadowproxy.ops.options import admin_options, bounded_int, json_option
from shadowproxy.ops.replay import register as register_replay
from shadowproxy.ops.stack import StackOptions
from shadowproxy.types import RouteGroup
from shadowproxy.variables import variable

# The options an environment variable also sets (its value is then the default).
OPTION_VARIABLES = {"log_level": "SHADOWPROXY_LOG_LEVEL", "api_key": "DASHBOARD_API_KEY"}


_port = bounded_int(0, 65535)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, got {text!r}")
    return value


class HelpFormatter(argparse.HelpFormatter):
    """Each option's help ends with `(default: ...; env NAME)`: the default argparse itself holds
    (`%(default)s`, never a copy), and the variable that also sets the option, if one does."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        notes = []
        default = action.default
        if (
            action.option_strings
            and default not in (None, argparse.SUPPRESS)
            and default is not False
        ):
            notes.append("default: %(default)s")
        if action.dest in OPTION_VARIABLES:
            notes.append(f"env {OPTION_VARIABLES[action.dest]}")
        if not notes:
            return action.help
        return f"{action.help or ''} ({'; '.join(notes)})".lstrip()


class _Parser(argparse.ArgumentParser):
    """Every parser and subparser formats its help with `HelpFormatter`.

    `implied` (an `add_parser` keyword) names the subcommand that runs when none is given:
    `diffs [OPTIONS]` is `diffs summary [OPTIONS]`, as before `diffs` had subcommands.
    """

    def __init__(self, *args: Any, implied: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)
        self.implied = implied

    def parse_known_args(  # type: ignore[override]  # one signature for typeshed's overloads
        self, args: Sequence[str] | None = None, namespace: Any = None
    ) -> tuple[Any, list[str]]:
        if self.implied is not None:
            given = list(sys.argv[1:] if args is None else args)
            if not given or (given[0].startswith("-") and given[0] not in ("-h", "--help")):
                args = [self.implied, *given]
        return super().parse_known_args(args, namespace)


def _version_text() -> str:
    info = build_info()
    return f"shadowproxy {info['version']} (Python {info['python']}, aiohttp {info['aiohttp']})"


SETTINGS_EPILOG = (
    "The proxy's settings are environment variables (SHADOWPROXY_*, TA_AUTHORITATIVE_*, "
    "TA_APP_SERVICE_ENABLED), read once at start; README.md, 'Settings', lists each with its "
    "default."
)


def build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    log_level = variable(environ, OPTION_VARIABLES["log_level"]).lower() or "info"
    if log_level not in LEVELS:
        raise UsageError(f"SHADOWPROXY_LOG_LEVEL must be one of {', '.join(LEVELS)}")
    stack, demo_defaults = StackOptions(), DemoOptions()
    parser = _Parser(
        prog="shadowproxy",
        description="Shadow every dashboard request to the legacy backend and the app service, "
        "answer from the authoritative side, and diff the answers.",
    )
    parser.add_argument("--version", action="version", version=_version_text())
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run", help="run the proxy in front of two backends", epilog=SETTINGS_EPILOG
    )
    run.add_argument("--legacy", required=True, metavar="URL", help="legacy backend base URL")
    run.add_argument("--app", required=True, metavar="URL", help="app service base URL")
    run.add_argument(
        "--legacy-secondary",
        metavar="URL",
        help="a second legacy instance sharing the legacy data: a sample of reads also go to it"
        " (never a write) and what it differs on with the legacy side is measured as noise",
    )
    run.add_argument(
        "--state-dir",
        type=Path,
        default=Path("var/shadowproxy"),
        metavar="DIR",
        help="the proxy's state: runtime flags, id map, learned shapes",
    )

    up = commands.add_parser(
        "up",
        help="start legacy backend, app service and proxy together (--with-secondary: and a"
        " second legacy backend, to measure noise)",
        epilog=SETTINGS_EPILOG,
    )
    up.add_argument(
        "--legacy-port",
        type=_port,
        default=stack.legacy_port,
        metavar="PORT",
        help="the legacy backend's port",
    )
    up.add_argument(
        "--app-port",
        type=_port,
        default=stack.app_port,
        metavar="PORT",
        help="the app service's port",
    )
    up.add_argument(
        "--with-secondary",
        action="store_true",
        help="also start a second legacy backend on the legacy data and pass it to the proxy as"
        " --legacy-secondary: a sample of reads (SHADOWPROXY_NOISE_SAMPLE_RATE) also go to it,"
        " never a write, and what it differs on with the legacy side is measured as noise"
        " (GET /noise on the admin API)",
    )
    up.add_argument(
        "--legacy-secondary-port",
        type=_port,
        default=stack.legacy_secondary_port,
        metavar="PORT",
        help="the second legacy backend's port, with --with-secondary",
    )
    up.add_argument(
        "--var-dir",
        type=Path,
        default=stack.var_dir,
        metavar="DIR",
        help="both backends' data and the proxy's state",
    )
    for sub in (run, up):
        sub.add_argument(
            "--listen", default=stack.listen, metavar="HOST:PORT", help="the proxy's address"
        )
        sub.add_argument(
            "--admin", default=stack.admin, metavar="HOST:PORT", help="the admin API's address"
        )
        sub.add_argument("--config", type=Path, metavar="FILE.toml", help="diff config (TOML)")
        sub.add_argument(
            "--diff-log-dir",
            type=Path,
            default=stack.diff_log_dir,
            metavar="DIR",
            help="where the diff logs go",
        )
        sub.add_argument(
            "--diff-log-keep-days",
            type=bounded_int(1, 36500),
            metavar="N",
            help="delete rotated diff logs older than N days (default: keep everything)",
        )

    demo = commands.add_parser("demo", help="drive a dashboard session and report parity")
    demo.add_argument(
        "--proxy", default=demo_defaults.proxy_url, metavar="URL", help="the proxy to drive"
    )
    demo.add_argument(
        "--tickers",
        type=bounded_int(1, 8),
        default=demo_defaults.tickers,
        metavar="N",
        help="analyses to start, 1-8",
    )
    demo.add_argument("--api-key", metavar="K", help="the dashboard's key")
    demo.add_argument(
        "--timeout",
        type=_seconds,
        default=demo_defaults.timeout_s,
        metavar="S",
        help="seconds per analysis",
    )
    demo.add_argument(
        "--diff-log-dir",
        type=Path,
        default=demo_defaults.diff_log_dir,
        metavar="DIR",
        help="the proxy's diff logs: tells settled-state mismatches from in-flight ones",
    )

    # `diffs report`, `accept` and `fixtures`, beside the reading commands; then `replay`
    register_accept(register_report(register_diffs(commands)))
    register_replay(commands)

    flags = commands.add_parser("flags", help="show or flip which side is authoritative")
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
    history.add_argument(
        "--limit", type=bounded_int(1, 1000), default=50, metavar="N", help="events shown"
    )
    parity = actions.add_parser("parity", help="per group: mismatch and error ratios, top fields")
    parity.add_argument("--window", default="5m", metavar="D", help="e.g. 5m, 1h")
    for sub in actions.choices.values():  # `flags ACTION --json` as well as `flags --json ACTION`
        json_option(sub, default=argparse.SUPPRESS)

    cutover = commands.add_parser(
        "cutover", help="is the app ready to answer each route group, for each dashboard?"
    )
    cutover.add_argument(
        "--group",
        action="append",
        choices=[group.value for group in RouteGroup],
        metavar="GROUP",
        help="judge only this route group (repeatable); exit 3 unless each is ready",
    )

    admin_options(demo, token=False)
    for sub in (flags, cutover):
        admin_options(sub)
    for sub in (demo, flags, cutover):
        json_option(sub)
    for sub in (run, up, demo):
        sub.add_argument(
            "--log-level", choices=LEVELS, default=log_level, help="the least level logged"
        )
    return parser
