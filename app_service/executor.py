"""Runs one analysis in the kernel's subprocess and enforces the NEW marker protocol
(docs/upstream-contract.md §2.3).

The kernel speaks a line protocol on stdout/stderr (STAGE:, SIGNAL_DETAIL:, RESULT_META:,
ANALYSIS_COMPLETE:, ANALYSIS_ERROR:). Unlike LEGACY, a run only counts as a success when every
required marker is present, and a silent process is killed instead of being left behind.
Stage names are passed through untouched; what a stage means is the job service's business.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from app_service.contracts import AnalysisOutcome, TaskError
from app_service.providers import provider_needs_key, resolve_provider_key

StageCallback = Callable[[str], Awaitable[None]]
REQUIRED_SUCCESS_MARKERS = ("SIGNAL_DETAIL", "RESULT_META", "ANALYSIS_COMPLETE")
_MARKERS = (*REQUIRED_SUCCESS_MARKERS, "ANALYSIS_ERROR")
_STDERR_TAIL = 1000


class AnalysisExecutorError(Exception):
    """A failed run, already classified into the structured task error."""

    def __init__(self, error: TaskError) -> None:
        super().__init__(error.message)
        self.error = error


def _protocol_error(message: str) -> AnalysisExecutorError:
    return AnalysisExecutorError(
        TaskError(code="analysis_protocol_failed", message=message, retryable=False)
    )


class AnalysisExecutor(Protocol):
    async def run(
        self, *, run_id: str, ticker: str, date: str, on_stage: StageCallback
    ) -> AnalysisOutcome: ...

    async def kill(self, run_id: str) -> None: ...

    async def kill_all(self) -> None: ...


@dataclass(slots=True)
class _Markers:
    """The last payload of each marker seen on either stream."""

    found: dict[str, str] = field(default_factory=dict)

    def feed(self, line: str) -> None:
        for marker in _MARKERS:
            prefix = marker + ":"
            if line.startswith(prefix):
                self.found[marker] = line[len(prefix) :].strip()

    def json(self, marker: str) -> dict[str, Any]:
        try:
            value = json.loads(self.found[marker])
        except ValueError:
            raise _protocol_error(f"failed to parse {marker} payload") from None
        if not isinstance(value, dict):
            raise _protocol_error(f"failed to parse {marker} payload")
        return value


def _meta_error(meta: Mapping[str, Any], message: str) -> TaskError:
    codes = meta.get("degrade_reason_codes") or []
    return TaskError(
        code="analysis_failed",
        message=message,
        retryable=False,
        reason_codes=tuple(str(c) for c in codes),
        data_quality=meta.get("data_quality") or None,
        source_diagnostics=dict(meta.get("source_diagnostics") or {}),
    )


def interpret_exit(
    *, returncode: int, markers: _Markers, stderr_text: str, ticker: str, date: str
) -> AnalysisOutcome:
    """Turn a finished process into an outcome or a classified `AnalysisExecutorError`."""
    if returncode != 0:
        if "RESULT_META" not in markers.found:
            raise _protocol_error(
                "analysis subprocess failed without required markers: RESULT_META"
            )
        meta = markers.json("RESULT_META")
        message = (
            markers.found.get("ANALYSIS_ERROR")
            or stderr_text.strip()[-_STDERR_TAIL:]
            or f"exit {returncode}"
        )
        raise AnalysisExecutorError(_meta_error(meta, message))
    missing = [m for m in REQUIRED_SUCCESS_MARKERS if m not in markers.found]
    if missing:
        raise _protocol_error(
            f"analysis subprocess completed without required markers: {', '.join(missing)}"
        )
    detail = markers.json("SIGNAL_DETAIL")
    meta = markers.json("RESULT_META")
    confidence = detail.get("confidence")
    return AnalysisOutcome(
        decision=markers.found["ANALYSIS_COMPLETE"],
        quant_signal=detail.get("quant_signal"),
        llm_signal=detail.get("llm_signal"),
        confidence=float(confidence) if isinstance(confidence, int | float) else None,
        report_path=f"results/{ticker}/{date}/complete_report.md",
        degrade_reason_codes=tuple(str(c) for c in meta.get("degrade_reason_codes") or []),
        data_quality=meta.get("data_quality") or None,
        source_diagnostics=meta.get("source_diagnostics") or None,
    )


class SubprocessAnalysisExecutor:
    """`python -m orchestrator analyze TICKER DATE`, one process per run id."""

    def __init__(
        self,
        *,
        command: Sequence[str],
        environ: Mapping[str, str],
        provider: str,
        config_path: Path,
        stdout_timeout_s: float,
    ) -> None:
        self._command = tuple(command)
        self._environ = dict(environ)
        self._provider = provider
        self._config_path = config_path
        self._timeout = stdout_timeout_s
        self._processes: dict[str, asyncio.subprocess.Process] = {}

    def _child_env(self) -> dict[str, str]:
        env = dict(self._environ)
        key = resolve_provider_key(env, self._provider, self._config_path)
        if key is None and provider_needs_key(self._provider):
            raise AnalysisExecutorError(
                TaskError(
                    code="analysis_failed",
                    message=f"{self._provider} provider API key not configured",
                    retryable=False,
                )
            )
        if key is not None:
            env[key[0]] = key[1]
        return env

    async def run(
        self, *, run_id: str, ticker: str, date: str, on_stage: StageCallback
    ) -> AnalysisOutcome:
        env = await asyncio.to_thread(self._child_env)
        proc = await asyncio.create_subprocess_exec(
            *self._command,
            ticker,
            date,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        self._processes[run_id] = proc
        try:
            markers = _Markers()
            _, stderr_text = await asyncio.gather(
                self._read_stdout(proc, markers, on_stage), self._read_stderr(proc, markers)
            )
            returncode = await proc.wait()
        finally:
            self._processes.pop(run_id, None)
            await _terminate(proc)
        return interpret_exit(
            returncode=returncode,
            markers=markers,
            stderr_text=stderr_text,
            ticker=ticker,
            date=date,
        )

    async def _read_stdout(
        self, proc: asyncio.subprocess.Process, markers: _Markers, on_stage: StageCallback
    ) -> None:
        assert proc.stdout is not None  # PIPE was requested
        while True:
            try:
                raw = await asyncio.wait_for(proc.stdout.readline(), timeout=self._timeout)
            except TimeoutError:
                await _terminate(proc)
                seconds = f"{self._timeout:g}"
                raise AnalysisExecutorError(
                    TaskError(
                        code="analysis_failed",
                        message=f"analysis subprocess timed out after {seconds}s",
                        retryable=True,
                    )
                ) from None
            if not raw:
                return
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if line.startswith("STAGE:"):
                await on_stage(line[len("STAGE:") :].strip())
            markers.feed(line)

    @staticmethod
    async def _read_stderr(proc: asyncio.subprocess.Process, markers: _Markers) -> str:
        assert proc.stderr is not None  # PIPE was requested
        data = (await proc.stderr.read()).decode("utf-8", errors="replace")
        for line in data.splitlines():
            markers.feed(line)
        return data

    async def kill(self, run_id: str) -> None:
        proc = self._processes.get(run_id)
        if proc is not None:
            await _terminate(proc)

    async def kill_all(self) -> None:
        for proc in list(self._processes.values()):
            await _terminate(proc)


async def _terminate(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    await proc.wait()
