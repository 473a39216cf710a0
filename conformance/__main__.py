"""`python -m conformance [--cases 1.*,9.*] [--exclude-cases 12.*]`: Autobahn|Testsuite's
fuzzing client against an aiohttp echo backend, directly and through shadowproxy.

Two targets, one after the other, the same cases: `direct`, the echo backend itself, and
`proxy`, a `python -m shadowproxy run` subprocess on its default settings whose legacy
(authoritative) and app (shadow) sides are two echo backends. Everything listens on 127.0.0.1,
port 0. Prints the verdicts per case group for both and every case that differs, and writes
them with wstest's index.json to benchmarks/results/conformance-<date>.md. wstest is Python 2
software: it runs from var/conformance/py27-venv, built on first use (conformance/py27.py).
By default every case of groups 1-13 runs except the large-message deflate ones (LARGE_DEFLATE);
`EXCLUDE_CASES=none` adds them, and naming cases (`CASES=...`) excludes nothing unless told.
Exits 0 once the report is written, whatever it says; 1 when the run itself failed; 130 on
Ctrl-C and 143 on SIGTERM, after stopping wstest and the proxy.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from conformance import report
from conformance.echo import serve_echo
from conformance.proxy import run_proxy
from conformance.py27 import PINS, SetupError, ensure_venv
from conformance.wstest import AgentRun, run_fuzzingclient
from shadowproxy.routing import TRADINGAGENTS_ROUTES, UNMATCHED, RouteTable

ROOT = Path(__file__).resolve().parents[1]
VAR = ROOT / "var" / "conformance"
RESULTS = ROOT / "benchmarks" / "results"
# No route of the TradingAgents table matches it, so the proxy relays it generically: the
# fallback spec (group `system`, mirrored as a GET) and the generic frame-by-frame stream.
ECHO_PATH = "/conformance/echo"
# Groups 12 and 13 (permessage-deflate) send 1000 messages a case. Those with messages of 32 KiB
# and more (subcases 8-10 and 13-18 of each 12.x and 13.x) took 30 of the 44 minutes of a full
# run here (8 direct, 22 through the proxy); the rest takes about 14. Left out unless cases are
# named (or EXCLUDE_CASES=none).
LARGE_DEFLATE = tuple(f"{g}.*.{n}" for g in (12, 13) for n in (8, 9, 10, 13, 14, 15, 16, 17, 18))
RUN_TIMEOUT_S = 5400.0  # per target, on top of wstest.STALL_S for a hung case


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m conformance",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--cases",
        metavar="LIST",
        help="comma-separated wstest case patterns, e.g. '1.*,9.*' (default $CASES, else all "
        "of groups 1-13 less the large-message deflate cases)",
    )
    parser.add_argument(
        "--exclude-cases",
        metavar="LIST",
        help="comma-separated case patterns left out, `none` for none (default $EXCLUDE_CASES, "
        "else the large-message deflate cases when no cases are named)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="FILE.md",
        help="default: benchmarks/results/conformance-DATE.md",
    )
    parser.add_argument(
        "--timeout", type=float, default=RUN_TIMEOUT_S, metavar="S", help="per target"
    )
    args = parser.parse_args(argv)
    cases, exclude = _selection(args.cases, args.exclude_cases)
    if not cases:
        parser.error("--cases names no case")
    if RouteTable(TRADINGAGENTS_ROUTES).match("GET", ECHO_PATH).spec.template != UNMATCHED:
        parser.error(
            f"{ECHO_PATH} is a declared route now: pick a path the proxy relays generically"
        )
    started = time.monotonic()
    try:
        wstest = ensure_venv(VAR, os.environ)
    except SetupError as exc:
        print(f"conformance: {exc}", file=sys.stderr)
        return 1
    setup_s = time.monotonic() - started
    date = datetime.now(UTC).date().isoformat()
    out = args.out or RESULTS / f"conformance-{date}.md"
    workdir = VAR / "last-run"  # wstest's HTML reports and every log of the run stay here
    shutil.rmtree(workdir, ignore_errors=True)
    (workdir / "proxy").mkdir(parents=True)
    # the echo backends' own log (aiohttp's errors, e.g. an abandoned shadow handshake)
    logging.basicConfig(filename=workdir / "echo.log", level=logging.WARNING)
    try:
        direct, proxy, comparisons = asyncio.run(
            _run(wstest, cases, exclude, args.timeout, workdir)
        )
    except RuntimeError as exc:
        print(f"conformance: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # wstest and the proxy are stopped by now
        print("conformance: interrupted", file=sys.stderr)
        return 130
    except asyncio.CancelledError:  # SIGTERM, the same
        print("conformance: terminated", file=sys.stderr)
        return 143
    meta = report.Meta(
        date=date,
        revision=_revision(),
        cases=cases,
        exclude=exclude,
        echo_path=ECHO_PATH,
        wstest=_wstest_version(),
        comparisons=comparisons,
        total_s=time.monotonic() - started - setup_s,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report.markdown(direct, proxy, meta))
    found = report.differences(direct, proxy)
    failing = report.regressions(found)
    print(report.group_table(direct, proxy))
    print(f"\npasses direct, not through the proxy: {', '.join(failing) or 'none'}\n")
    print(report.differences_table(found))
    print(
        f"\n{direct.agent} {direct.elapsed_s:.0f} s, {proxy.agent} {proxy.elapsed_s:.0f} s, "
        f"total {meta.total_s:.0f} s (setup {setup_s:.0f} s); report: {out}"
    )
    return 0


async def _run(
    wstest: Path, cases: list[str], exclude: list[str], timeout_s: float, workdir: Path
) -> tuple[AgentRun, AgentRun, dict[str, int] | None]:
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)

    async def fuzz(agent: str, base_url: str) -> AgentRun:
        url = "ws" + base_url.removeprefix("http") + ECHO_PATH
        print(f"conformance: wstest against {agent} at {url}", flush=True)
        return await run_fuzzingclient(
            wstest,
            agent=agent,
            url=url,
            cases=cases,
            exclude=exclude,
            outdir=workdir / agent,
            timeout_s=timeout_s,
            environ=os.environ,
        )

    async with serve_echo(2) as (authoritative, shadow):
        direct = await fuzz("direct", authoritative)
        async with run_proxy(authoritative, shadow, workdir / "proxy") as proxy:
            through = await fuzz("proxy", proxy.url)
            comparisons = await proxy.ws_comparisons()
    return direct, through, comparisons


def _selection(cases: str | None, exclude: str | None) -> tuple[list[str], list[str]]:
    """The case and exclude patterns: the options, else $CASES and $EXCLUDE_CASES, else every
    case less LARGE_DEFLATE (named cases exclude nothing unless told)."""
    named = cases or os.environ.get("CASES")
    excluded = exclude or os.environ.get("EXCLUDE_CASES")
    if excluded is None:
        left_out = [] if named else list(LARGE_DEFLATE)
    else:
        left_out = [] if excluded.strip() == "none" else _patterns(excluded)
    return (_patterns(named) if named else ["*"]), left_out


def _patterns(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _wstest_version() -> str:
    pins = dict(line.split("==", 1) for line in PINS.read_text().splitlines() if "==" in line)
    return f"autobahntestsuite {pins['autobahntestsuite']} (autobahn {pins['autobahn']})"


def _revision() -> str:
    """The commit, and whether the proxy's code differs from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", "shadowproxy"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    return f"{head}, with uncommitted changes in shadowproxy/" if changed else head


if __name__ == "__main__":
    sys.exit(main())
