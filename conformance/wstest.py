"""One `wstest -m fuzzingclient` run against one websocket URL, and what it reported.

The spec names a single server (the agent), the cases and the excluded cases; wstest writes its
HTML and JSON reports into the agent's folder and stops by itself after the last case. The run
is still bounded twice: wstest logs a line per case, so a log silent for `STALL_S` is a hung
case, and the whole run may take `timeout_s`; either way wstest is killed and the run fails.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.py27 import py2_environ

# The slowest case measured (13.7.18, 1000 deflated 128 KiB messages) takes 28 s direct and a
# few times that through the proxy; the reports at the end take well under a minute.
STALL_S = 300.0
_POLL_S = 5.0


@dataclass(frozen=True, slots=True)
class CaseResult:
    """One case as wstest judged it: `behavior` is the case's verdict (OK, NON-STRICT,
    INFORMATIONAL, UNIMPLEMENTED, FAILED), `behavior_close` that of its closing handshake;
    `result`/`result_close` are wstest's words for them."""

    behavior: str
    behavior_close: str
    remote_close_code: int | None
    result: str
    result_close: str

    @property
    def verdicts(self) -> tuple[str, str]:
        return self.behavior, self.behavior_close


@dataclass(frozen=True, slots=True)
class AgentRun:
    agent: str
    url: str
    elapsed_s: float
    index: dict[str, Any]  # wstest's index.json entry for the agent, as written
    cases: dict[str, CaseResult]


async def run_fuzzingclient(
    wstest: Path,
    *,
    agent: str,
    url: str,
    cases: Sequence[str],
    exclude: Sequence[str],
    outdir: Path,
    timeout_s: float,
    environ: Mapping[str, str],
) -> AgentRun:
    spec_file = _write_spec(outdir, agent, url, cases, exclude)
    log_file = outdir / "wstest.log"
    started = time.monotonic()
    with log_file.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            str(wstest),
            "-m",
            "fuzzingclient",
            "-s",
            str(spec_file),
            cwd=outdir,
            env=py2_environ(environ),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
    try:
        code = await _wait(process, log_file, timeout_s)
    except TimeoutError as exc:
        raise RuntimeError(f"wstest against {agent}: {exc} (see {log_file})") from None
    finally:
        if process.returncode is None:  # timed out, stalled, or the harness was interrupted
            process.kill()
            await process.wait()
    elapsed = time.monotonic() - started
    if code != 0:
        raise RuntimeError(f"wstest against {agent} exited {code} (see {log_file})")
    index = _read_index(outdir, agent)
    return AgentRun(
        agent=agent,
        url=url,
        elapsed_s=elapsed,
        index=index,
        cases={case: _read_case(outdir, entry) for case, entry in index.items()},
    )


async def _wait(process: asyncio.subprocess.Process, log_file: Path, timeout_s: float) -> int:
    """wstest's exit code; TimeoutError when its log stalls or the run is over time."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    size, grew_at = -1, loop.time()
    while True:
        try:
            return await asyncio.wait_for(process.wait(), _POLL_S)
        except TimeoutError:
            pass
        now = loop.time()
        if now > deadline:
            raise TimeoutError(f"still running after {timeout_s:.0f} s")
        current = _size(log_file)
        if current != size:
            size, grew_at = current, now
        elif now - grew_at > STALL_S:
            raise TimeoutError(f"no progress for {STALL_S:.0f} s")


def _size(path: Path) -> int:
    return path.stat().st_size


def _write_spec(
    outdir: Path, agent: str, url: str, cases: Sequence[str], exclude: Sequence[str]
) -> Path:
    outdir.mkdir(parents=True, exist_ok=True)
    spec = {
        "outdir": str(outdir),
        "servers": [{"agent": agent, "url": url}],
        "cases": list(cases),
        "exclude-cases": list(exclude),
        "exclude-agent-cases": {},
    }
    spec_file = outdir / "fuzzingclient.json"
    spec_file.write_text(json.dumps(spec, indent=2) + "\n")
    return spec_file


def _read_index(outdir: Path, agent: str) -> dict[str, Any]:
    index_file = outdir / "index.json"
    if not index_file.is_file():
        raise RuntimeError(f"wstest wrote no index.json (see {outdir}/wstest.log)")
    index: dict[str, Any] = json.loads(index_file.read_text()).get(agent, {})
    return index


def _read_case(outdir: Path, entry: Mapping[str, Any]) -> CaseResult:
    detail = json.loads((outdir / entry["reportfile"]).read_text())
    return CaseResult(
        behavior=entry["behavior"],
        behavior_close=entry["behaviorClose"],
        remote_close_code=entry["remoteCloseCode"],
        result=detail.get("result", ""),
        result_close=detail.get("resultClose", ""),
    )
