"""Starting and watching the analysis subprocess, LEGACY-style.

The analysis runs out of process (`python -m orchestrator analyze TICKER DATE`), and the route
layer owns it, as upstream's `main.py` did: it registers the process under the task id so cancel
can kill it, turns each `STAGE:` line into a stage transition and a websocket snapshot the moment
it arrives (upstream's 5 s poller raced `communicate()` and lost lines), and maps the exit to the
LEGACY terminal state. A silent stdout only stops the reading (LEGACY); cancel and shutdown kill.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from datetime import datetime

import structlog

from legacy_backend.lifecycle import (
    apply_stage,
    complete_analysis,
    fail,
    failure_text,
    parse_markers,
    stage_name,
)
from legacy_backend.state import Runtime

log = structlog.get_logger("legacy_backend.runner")


async def _launch(runtime: Runtime, key: str, ticker: str, date: str) -> asyncio.subprocess.Process:
    settings = runtime.settings
    process = await asyncio.create_subprocess_exec(
        *settings.analysis_command,
        ticker,
        date,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=settings.subprocess_env(),
    )
    # Registered the moment it exists, so cancel and the shutdown sweep can always find it.
    runtime.processes[key] = process
    log.info("analysis_subprocess_started", task_id=key, ticker=ticker, date=date, pid=process.pid)
    return process


async def start_process(
    runtime: Runtime, key: str, ticker: str, date: str
) -> asyncio.subprocess.Process:
    launch = runtime.spawner.spawn(_launch(runtime, key, ticker, date), name=f"launch:{key}")
    try:
        return await asyncio.shield(launch)
    except asyncio.CancelledError:
        # Cancelled mid-launch (a cancel right after start): the child may appear after the
        # canceller looked for it, so finish the launch, then kill and reap it before giving up.
        with contextlib.suppress(Exception):
            await runtime.reap(key, await launch)
        raise


async def _read_all(stream: asyncio.StreamReader | None) -> str:
    if stream is None:
        return ""
    return (await stream.read()).decode("utf-8", errors="replace")


async def _follow_stdout(
    runtime: Runtime, task_id: str, process: asyncio.subprocess.Process
) -> list[str]:
    """Apply each STAGE line as it arrives; stop at EOF or after a silent spell."""
    state = runtime.task_results[task_id]
    lines: list[str] = []
    stdout = process.stdout
    assert stdout is not None  # started with stdout=PIPE
    while True:
        try:
            raw = await asyncio.wait_for(
                stdout.readline(), timeout=runtime.settings.stdout_silence_secs
            )
        except TimeoutError:
            log.warning(
                "analysis_stdout_silent", task_id=task_id, secs=runtime.settings.stdout_silence_secs
            )
            return lines
        if not raw:
            return lines
        line = raw.decode("utf-8", errors="replace")
        lines.append(line)
        name = stage_name(line)
        if name is not None and apply_stage(state, name, datetime.now()):
            await runtime.broadcast(task_id)


async def persist_and_broadcast(runtime: Runtime, task_id: str) -> None:
    state = runtime.task_results.get(task_id)
    if state is None:
        return
    await asyncio.to_thread(runtime.store.save, copy.deepcopy(state))
    await runtime.broadcast(task_id)


async def run_analysis(runtime: Runtime, task_id: str, ticker: str, date: str) -> None:
    """The background job of one analysis task; cancellation leaves the state to the canceller."""
    state = runtime.task_results[task_id]
    process: asyncio.subprocess.Process | None = None
    try:
        process = await start_process(runtime, task_id, ticker, date)
        lines, stderr = await asyncio.gather(
            _follow_stdout(runtime, task_id, process), _read_all(process.stderr)
        )
        returncode = await process.wait()
        if returncode == 0:
            complete_analysis(state, parse_markers(lines), datetime.now())
        else:
            fail(state, failure_text(stderr))
        log.info(
            "analysis_finished", task_id=task_id, returncode=returncode, status=state["status"]
        )
    except Exception as exc:  # CancelledError is a BaseException: the canceller owns the state
        log.exception("analysis_crashed", task_id=task_id)
        fail(state, str(exc))
    finally:
        if process is not None:
            await runtime.reap(task_id, process)
    await persist_and_broadcast(runtime, task_id)


async def run_to_completion(
    runtime: Runtime, key: str, ticker: str, date: str
) -> tuple[int, str, str]:
    """One portfolio ticker: LEGACY used `communicate()` there, with no stage parsing."""
    process = await start_process(runtime, key, ticker, date)
    try:
        stdout, stderr = await process.communicate()
    finally:
        await runtime.reap(key, process)
    assert process.returncode is not None  # communicate() waits for exit
    return (
        process.returncode,
        stdout.decode("utf-8", errors="replace"),
        stderr.decode("utf-8", errors="replace"),
    )
