"""What every `shadowproxy` command does the same way (shadowproxy/ops/cli.py's docstring):
`--version`, defaults and variables in `--help`, `--json`, exit codes 0/1/2/3, a progress bar
that fits the terminal (plain lines when piped), and a warning for an unknown variable.

The commands run in subprocesses; the ones that need an admin API get a real proxy on port 0
(`running`, or `serve` from the contract tests when the cutover verdicts matter).
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import pty
import re
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import orjson
import pytest

from shadowproxy.ops.arguments import build_parser
from shadowproxy.ops.cli import COMMANDS
from shadowproxy.ops.progress import ProgressBar
from shadowproxy.types import Side

from ..contracts.shapes import ShapeBackend, app_status, legacy_status, read, serve
from ..factories import ListSink, ServerFactory, proxy_process, proxy_settings, running
from .commands import cli

STATUS = "/api/analysis/status/{task_id}"
NOWHERE = "http://127.0.0.1:9"  # nothing listens there


def write_diff_log(folder: Path, *outcomes: str) -> Path:
    """One diff-log segment per outcome, one record each, in `folder`."""
    folder.mkdir(exist_ok=True)
    for n, outcome in enumerate(outcomes, start=1):
        record = {
            "ts": f"2026-04-13T12:00:{n:02d}.000Z",
            "comparison_id": f"cmp-{n}",
            "route_group": "analysis",
            "route": STATUS,
            "outcome": outcome,
            "legacy": {"status": 200},
            "app": {"status": 200},
            "differences": [{"field": "decision", "kind": "changed"}]
            if outcome == "mismatch"
            else [],
        }
        (folder / f"diff-2026-04-13.{n}.jsonl").write_bytes(orjson.dumps(record) + b"\n")
    return folder


# ---------------------------------------------------------------- --version and --help


async def test_version_names_the_package_python_and_aiohttp(tmp_path: Path) -> None:
    code, out, err = await cli("--version", cwd=tmp_path)
    assert (code, err) == (0, "")
    python, aiohttp = platform.python_version(), version("aiohttp")
    assert out == f"shadowproxy {version('shadowproxy')} (Python {python}, aiohttp {aiohttp})\n"


def parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from parsers(sub)


def test_every_help_shows_each_default_and_the_variable_that_sets_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    environ = {"SHADOWPROXY_LOG_LEVEL": "warning", "DASHBOARD_API_KEY": "key-from-the-env"}
    helps = {}
    defaults = 0
    for parser in parsers(build_parser(environ)):
        text = helps[parser.prog] = " ".join(parser.format_help().split())
        for action in parser._actions:
            if not action.option_strings or action.default in (None, argparse.SUPPRESS):
                continue
            if action.default is not False:  # a switch's default goes without saying
                assert f"default: {action.default}" in text, (parser.prog, action.dest)
                defaults += 1
    # shadowproxy, its 7 commands, the 6 actions of flags and the 8 subcommands of diffs
    assert len(helps) == 22
    assert {f"shadowproxy {name}" for name in COMMANDS} <= set(helps)  # each one runs
    assert defaults >= 20
    for command in ("run", "up", "demo"):
        level = "(default: warning; env SHADOWPROXY_LOG_LEVEL)"
        assert level in helps[f"shadowproxy {command}"]
    assert "the dashboard's key (env DASHBOARD_API_KEY)" in helps["shadowproxy demo"]
    assert "key-from-the-env" not in "".join(helps.values())  # a secret is no default to show
    assert "(default: 127.0.0.1:8000)" in helps["shadowproxy run"]


# ---------------------------------------------------------------- --json on each command


async def test_diffs_json_is_one_document(tmp_path: Path) -> None:
    folder = write_diff_log(tmp_path / "diff_logs", "mismatch", "match")
    code, out, _ = await cli("diffs", "--dir", str(folder), "--json", cwd=tmp_path)
    assert code == 0
    summary = orjson.loads(out)
    assert (summary["records"], summary["counts"]["analysis"]["mismatch"]) == (2, 1)
    assert summary["fields"][0]["field"] == "decision"


FLAGS_JSON = [
    pytest.param([], "authoritative", id="show"),
    pytest.param(["set", "reports", "app", "--reason", "r"], "overrides", id="set"),
    pytest.param(["rollback", "--reason", "r"], "authoritative", id="rollback"),
    pytest.param(["clear"], "authoritative", id="clear"),
    pytest.param(["phase", "shadow", "--reason", "r"], "phase", id="phase"),
    pytest.param(["history", "--limit", "5"], "events", id="history"),
    pytest.param(["parity", "--window", "1m"], "groups", id="parity"),
]


@pytest.mark.parametrize(("action", "key"), FLAGS_JSON)
async def test_flags_json_is_one_document_after_the_action_or_before_it(
    tmp_path: Path, action: list[str], key: str
) -> None:
    settings = proxy_settings(NOWHERE, NOWHERE, tmp_path)
    async with running(settings, ListSink()) as (_, admin):
        base = ["flags", "--admin", admin]
        after = await cli(*base, *action, "--json", cwd=tmp_path)
        before = await cli(*base, "--json", *action, cwd=tmp_path)
        text = await cli(*base, *action, cwd=tmp_path)
    for code, out, err in (after, before):
        assert code == 0, err
        document = orjson.loads(out)
        assert isinstance(document, dict)
        assert key in document
    assert text[0] == 0
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(text[1])  # without --json: the table, as before


async def test_cutover_json_without_traffic_is_a_failed_gate(tmp_path: Path) -> None:
    settings = proxy_settings(NOWHERE, NOWHERE, tmp_path)
    async with running(settings, ListSink()) as (_, admin):
        code, out, err = await cli("cutover", "--admin", admin, "--json", cwd=tmp_path)
    assert code == 3, err
    report = orjson.loads(out)
    verdicts = {
        row["verdict"] for g in report["groups"].values() for row in g["consumers"].values()
    }
    assert verdicts == {"not_enough_traffic"}
    assert err == ""


# ---------------------------------------------------------------- exit codes


async def test_cutover_verdicts_and_a_refused_flip_exit_3_and_ready_exits_0(
    tmp_path: Path, aiohttp_server: ServerFactory
) -> None:
    """The legacy-era dashboard breaks on the app's status document, the v1alpha1 one does not
    (tests/shadowproxy/ops/test_admin_cutover.py): analysis is blocked for the first, ready
    for the second."""
    codes: dict[str, int] = {}
    for consumers in ("", "v1alpha1-dashboard"):
        legacy, app = ShapeBackend(Side.LEGACY), ShapeBackend(Side.APP)  # task ids from 1 again
        legacy.documents[("GET", STATUS)] = legacy_status()
        app.documents[("GET", STATUS)] = app_status()
        root = tmp_path / (consumers or "every")
        root.mkdir()
        env = {"SHADOWPROXY_CUTOVER_MIN_COMPARISONS": "1", "SHADOWPROXY_CONSUMERS": consumers}
        async with serve(root, aiohttp_server, legacy, app, env) as served:
            await read(served, "GET", "/api/analysis/status/legacy-1", start=True)
            base = ("--admin", served.admin)
            for name, args in {
                "analysis": ("cutover", *base, "--group", "analysis"),
                "all": ("cutover", *base),
                "flip": ("flags", *base, "set", "analysis", "app", "--reason", "canary"),
            }.items():
                code, out, err = await cli(*args, cwd=root)
                codes[f"{consumers or 'every'} {name}"] = code
                if code == 3 and name == "flip":
                    assert out == ""
                    assert err.startswith("shadowproxy: error: the cutover of analysis")
    assert codes == {
        "every analysis": 3,  # blocked for legacy-dashboard
        "every all": 3,
        "every flip": 3,  # the admin API refuses it (409)
        "v1alpha1-dashboard analysis": 0,
        "v1alpha1-dashboard all": 3,  # reports and portfolio: not enough traffic
        "v1alpha1-dashboard flip": 0,
    }


@pytest.mark.parametrize(
    ("args", "env", "code"),
    [
        pytest.param(["nosuch"], {}, 2, id="usage-command"),
        pytest.param(["cutover", "--group", "nosuch"], {}, 2, id="usage-choice"),
        pytest.param(["diffs", "--top", "0"], {}, 2, id="usage-value"),
        pytest.param(["diffs"], {"SHADOWPROXY_LOG_LEVEL": "loud"}, 2, id="usage-variable"),
        pytest.param(["cutover", "--admin", NOWHERE], {}, 1, id="runtime-admin"),
        pytest.param(["flags", "--admin", NOWHERE, "clear"], {}, 1, id="runtime-flags"),
        pytest.param(["diffs", "--dir", "gone"], {}, 1, id="runtime-folder"),
        pytest.param(["diffs", "--fail-on-mismatch"], {}, 3, id="gate-mismatch"),
        pytest.param(["diffs", "--fail-on-mismatch", "--outcome", "match"], {}, 0, id="gate-ok"),
        pytest.param(["diffs", "--json"], {}, 0, id="ok"),
    ],
)
async def test_exit_codes(tmp_path: Path, args: list[str], env: dict[str, str], code: int) -> None:
    write_diff_log(tmp_path / "diff_logs", "mismatch", "match")
    returncode, out, err = await cli(*args, cwd=tmp_path, **env)
    assert returncode == code, err
    assert "Traceback" not in err
    if code in (1, 2):
        assert out == ""
        assert err.splitlines()[-1].startswith(("shadowproxy: error: ", "shadowproxy ")), err


# ---------------------------------------------------------------- progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def screen_lines(text: str) -> list[str]:
    """What a terminal shows of `text`, line by line: a `\\r` starts the line over."""
    return re.split(r"[\r\n]", text)


def test_on_a_narrow_terminal_the_bar_is_one_line_that_fits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    screen = Terminal()
    bar = ProgressBar(3, stream=screen)
    bar.advance("GET /api/portfolio/positions/export?account=demo-123456")
    bar.note("analysis AAPL: running analysts 40, and the shadow's twin is still running")
    bar.advance("analysis AAPL: completed")
    bar.advance("done")
    bar.finish()
    text = screen.getvalue()
    assert text.count("\n") == 1  # rewritten in place, ended once
    assert all(len(line) <= 40 for line in screen_lines(text)), screen_lines(text)
    assert "[#########] 3/3 done" in text  # a quarter of the 39 columns it may use


def test_piped_the_bar_is_one_plain_line_per_step(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    piped = io.StringIO()
    bar = ProgressBar(2, stream=piped)
    bar.advance("one")
    bar.note("waiting for the shadow")  # a terminal's detail: left out of a log
    bar.advance("two")
    bar.finish()
    assert piped.getvalue() == "[#####-----] 1/2 one\n[##########] 2/2 two\n"


def test_diffs_progress_on_a_real_terminal_fits_it(tmp_path: Path) -> None:
    folder = write_diff_log(tmp_path / "diff_logs", "mismatch", "match", "accepted")
    leader, follower = pty.openpty()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "shadowproxy", "diffs", "--dir", str(folder)],
            stdout=subprocess.PIPE,
            stderr=follower,
            env={**os.environ, "COLUMNS": "40"},
            timeout=60,
            check=False,
        )
    finally:
        os.close(follower)
    screen = b""
    try:
        while chunk := os.read(leader, 4096):
            screen += chunk
    except OSError:  # EIO: the terminal's other end is closed
        pass
    finally:
        os.close(leader)
    assert result.returncode == 0
    shown = screen.decode()
    assert "3/3 reading diff-2026-04-13" in shown
    assert all(len(line) <= 40 for line in screen_lines(shown)), screen_lines(shown)
    assert b"3 records in 3 files" in result.stdout  # the report itself is on stdout


# ---------------------------------------------------------------- unknown variables


async def test_an_unknown_variable_is_a_warning_naming_the_closest_known_one(
    tmp_path: Path,
) -> None:
    write_diff_log(tmp_path / "diff_logs", "match")
    env = {
        "SHADOWPROXY_SAMPEL_RATE": "0.5",  # a typo
        "SHADOWPROXY_XYZZY": "1",  # like nothing known
        "TA_STAGE_DELAY_MS": "0",  # the kernel's: known
        "SHADOWPROXYISH": "1",  # not the prefix
    }
    code, out, err = await cli("diffs", "--json", cwd=tmp_path, **env)
    assert code == 0
    assert orjson.loads(out)["records"] == 1  # stdout stays one document
    warnings = [line for line in err.splitlines() if line.startswith("shadowproxy: warning: ")]
    assert (
        "shadowproxy: warning: SHADOWPROXY_SAMPEL_RATE is no known variable;"
        " did you mean SHADOWPROXY_SAMPLE_RATE?"
    ) in warnings
    assert "shadowproxy: warning: SHADOWPROXY_XYZZY is no known variable" in warnings
    assert not any("TA_STAGE_DELAY_MS" in line or "SHADOWPROXYISH" in line for line in warnings)


async def test_run_logs_the_unknown_variable_warning(tmp_path: Path) -> None:
    env = {"TA_APP_SERVICE_ENABLE": "1", "TA_AUTHORITATIVE_REPORT": "app"}
    async with proxy_process(NOWHERE, NOWHERE, tmp_path, env) as proxy:
        pass  # the warnings come before the listening line; the log is complete once it stopped
    found: dict[str, Any] = {
        event["variable"]: event for event in proxy.events("unknown_environment_variable")
    }
    assert found["TA_APP_SERVICE_ENABLE"]["did_you_mean"] == "TA_APP_SERVICE_ENABLED"
    assert found["TA_AUTHORITATIVE_REPORT"]["did_you_mean"] == "TA_AUTHORITATIVE_REPORTS"
    assert {event["level"] for event in found.values()} == {"warning"}
