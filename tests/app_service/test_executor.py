"""The subprocess executor's NEW marker rules, against fake kernels and the real one.

See docs/upstream-contract.md §2.3.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from app_service.contracts import AnalysisOutcome
from app_service.executor import AnalysisExecutorError, SubprocessAnalysisExecutor

from .conftest import base_environ, fake_kernel

STAGES = "for s in ('analysts','research','trading','risk','portfolio'): print('STAGE:' + s)\n"


def emit(marker: str, payload: object, *, stderr: bool = False) -> str:
    """One line of fake-kernel code printing `MARKER:<payload>` (JSON unless a str)."""
    text = payload if isinstance(payload, str) else json.dumps(payload)
    target = ", file=sys.stderr" if stderr else ""
    return f"print({marker + ':' + text!r}{target})\n"


DETAIL = emit("SIGNAL_DETAIL", {"llm_signal": "BUY", "quant_signal": "HOLD", "confidence": 0.63})
META = emit(
    "RESULT_META", {"degrade_reason_codes": [], "data_quality": None, "source_diagnostics": None}
)
DONE = emit("ANALYSIS_COMPLETE", "OVERWEIGHT")


def _executor(
    command: tuple[str, ...],
    tmp_path: Path,
    *,
    env: dict[str, str] | None = None,
    provider: str = "offline",
    timeout: float = 60.0,
) -> SubprocessAnalysisExecutor:
    return SubprocessAnalysisExecutor(
        command=command,
        environ=env if env is not None else base_environ(),
        provider=provider,
        config_path=tmp_path / "config.json",
        stdout_timeout_s=timeout,
    )


async def _run(executor: SubprocessAnalysisExecutor) -> tuple[AnalysisOutcome, list[str]]:
    seen: list[str] = []

    async def on_stage(name: str) -> None:
        seen.append(name)

    outcome = await executor.run(run_id="t1", ticker="AAPL", date="2026-04-13", on_stage=on_stage)
    return outcome, seen


async def test_success_with_every_marker(tmp_path: Path) -> None:
    executor = _executor(fake_kernel(tmp_path, STAGES + DETAIL + META + DONE), tmp_path)
    outcome, seen = await _run(executor)
    assert seen == ["analysts", "research", "trading", "risk", "portfolio"]
    assert outcome == AnalysisOutcome(
        decision="OVERWEIGHT",
        quant_signal="HOLD",
        llm_signal="BUY",
        confidence=0.63,
        report_path="results/AAPL/2026-04-13/complete_report.md",
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(
            STAGES + DETAIL,
            "analysis subprocess completed without required markers: "
            "RESULT_META, ANALYSIS_COMPLETE",
            id="missing-meta-and-complete",
        ),
        pytest.param(
            STAGES + DETAIL + DONE,
            "analysis subprocess completed without required markers: RESULT_META",
            id="missing-meta",
        ),
        pytest.param(
            STAGES + META + DONE,
            "analysis subprocess completed without required markers: SIGNAL_DETAIL",
            id="missing-detail",
        ),
        pytest.param(
            "print('ANALYSIS_ERROR:boom', file=sys.stderr); sys.exit(1)\n",
            "analysis subprocess failed without required markers: RESULT_META",
            id="failure-without-meta",
        ),
        pytest.param(
            STAGES + DETAIL + "print('RESULT_META:{oops')\n" + DONE,
            "failed to parse RESULT_META payload",
            id="bad-meta-json",
        ),
        pytest.param(
            STAGES + "print('SIGNAL_DETAIL:[1]')\n" + META + DONE,
            "failed to parse SIGNAL_DETAIL payload",
            id="detail-not-an-object",
        ),
    ],
)
async def test_protocol_failures(tmp_path: Path, body: str, message: str) -> None:
    executor = _executor(fake_kernel(tmp_path, body), tmp_path)
    with pytest.raises(AnalysisExecutorError) as info:
        await _run(executor)
    assert info.value.error.code == "analysis_protocol_failed"
    assert info.value.error.message == message


async def test_failure_with_meta_carries_degradation(tmp_path: Path) -> None:
    body = (
        "print('STAGE:analysts')\n"
        + emit(
            "RESULT_META",
            {
                "degrade_reason_codes": ["quant_no_data", "both_signals_unavailable"],
                "data_quality": {"state": "stale_data"},
                "source_diagnostics": {"quant": {}},
            },
            stderr=True,
        )
        + emit("ANALYSIS_ERROR", "both quant and llm signals are None", stderr=True)
        + "sys.exit(1)\n"
    )
    with pytest.raises(AnalysisExecutorError) as info:
        await _run(_executor(fake_kernel(tmp_path, body), tmp_path))
    error = info.value.error
    assert error.code == "analysis_failed"
    assert error.message == "both quant and llm signals are None"
    assert error.retryable is False
    assert error.reason_codes == ("quant_no_data", "both_signals_unavailable")
    assert error.data_quality == {"state": "stale_data"}


async def test_degraded_meta_reaches_the_outcome(tmp_path: Path) -> None:
    meta = emit(
        "RESULT_META",
        {
            "degrade_reason_codes": ["quant_not_configured"],
            "data_quality": {"state": "stale_data"},
            "source_diagnostics": None,
        },
    )
    outcome, _ = await _run(
        _executor(fake_kernel(tmp_path, STAGES + DETAIL + meta + DONE), tmp_path)
    )
    assert outcome.degrade_reason_codes == ("quant_not_configured",)
    assert outcome.data_quality == {"state": "stale_data"}


async def test_each_stage_is_reported_while_the_process_runs(tmp_path: Path) -> None:
    """The fake kernel waits for a file the stage callback writes: a batched parse would hang."""
    flag = tmp_path / "seen_analysts"
    body = (
        "import pathlib\n"
        "print('STAGE:analysts', flush=True)\n"
        f"while not pathlib.Path({str(flag)!r}).exists(): time.sleep(0.01)\n" + DETAIL + META + DONE
    )
    executor = _executor(fake_kernel(tmp_path, body), tmp_path)

    async def on_stage(name: str) -> None:
        flag.write_text(name)

    outcome = await executor.run(run_id="t", ticker="AAPL", date="2026-04-13", on_stage=on_stage)
    assert flag.read_text() == "analysts"
    assert outcome.decision == "OVERWEIGHT"


async def test_stdout_silence_kills_the_process(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    body = (
        "import os\n"
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "print('STAGE:analysts', flush=True)\n"
        "time.sleep(3600)\n"
    )
    executor = _executor(fake_kernel(tmp_path, body), tmp_path, timeout=2.5)
    with pytest.raises(AnalysisExecutorError) as info:
        await _run(executor)
    assert info.value.error.message == "analysis subprocess timed out after 2.5s"
    assert info.value.error.retryable is True
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_missing_provider_key_fails_before_spawning(tmp_path: Path) -> None:
    marker = tmp_path / "spawned"
    body = f"open({str(marker)!r}, 'w').write('x')\n" + STAGES + DETAIL + META + DONE
    executor = _executor(fake_kernel(tmp_path, body), tmp_path, provider="openai")
    with pytest.raises(AnalysisExecutorError) as info:
        await _run(executor)
    assert info.value.error.as_payload() == {
        "code": "analysis_failed",
        "message": "openai provider API key not configured",
        "retryable": False,
    }
    assert not marker.exists()


async def test_saved_key_and_clean_environment_reach_the_kernel(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"api_key": "sk-saved"}))
    body = (
        "import os, json\n"
        "names = ('OPENAI_API_KEY', 'PYTHONPATH', 'ANTHROPIC_API_KEY')\n"
        "env = {k: os.environ.get(k) for k in names}\n"
        "print('SIGNAL_DETAIL:' + json.dumps({'llm_signal': json.dumps(env), 'quant_signal': None,"
        " 'confidence': 0.5}))\n" + META + DONE
    )
    settings_env = base_environ(PYTHONPATH="/nowhere")
    env = {k: v for k, v in settings_env.items() if not k.startswith("PYTHON")}
    executor = _executor(fake_kernel(tmp_path, body), tmp_path, env=env, provider="openai")
    outcome, _ = await _run(executor)
    assert json.loads(outcome.llm_signal or "") == {
        "OPENAI_API_KEY": "sk-saved",
        "PYTHONPATH": None,
        "ANTHROPIC_API_KEY": None,
    }
    assert outcome.quant_signal is None


KERNEL = (sys.executable, "-m", "orchestrator", "analyze")


def _kernel_env(tmp_path: Path, **faults: str) -> dict[str, str]:
    env = {k: v for k, v in base_environ(**faults).items() if not k.startswith("PYTHON")}
    env["TRADINGAGENTS_RESULTS_DIR"] = str(tmp_path / "results")
    env["TA_CACHE_DIR"] = str(tmp_path / "cache")
    return env


@pytest.mark.parametrize(
    ("fault", "code", "message"),
    [
        pytest.param("crash", "analysis_failed", None, id="crash"),
        pytest.param(
            "raw_crash",
            "analysis_protocol_failed",
            "analysis subprocess failed without required markers: RESULT_META",
            id="raw-crash",
        ),
        pytest.param(
            "no_markers",
            "analysis_protocol_failed",
            "analysis subprocess completed without required markers: "
            "SIGNAL_DETAIL, RESULT_META, ANALYSIS_COMPLETE",
            id="no-markers",
        ),
    ],
)
async def test_real_kernel_fault_switches(
    tmp_path: Path, fault: str, code: str, message: str | None
) -> None:
    executor = _executor(KERNEL, tmp_path, env=_kernel_env(tmp_path, TA_FAULT_PIPELINE=fault))
    with pytest.raises(AnalysisExecutorError) as info:
        await _run(executor)
    assert info.value.error.code == code
    if message is not None:
        assert info.value.error.message == message
    else:
        assert info.value.error.message


async def test_real_kernel_stall_is_killed(tmp_path: Path) -> None:
    """The silence clock also covers the kernel's start-up, so the limit leaves room for it."""
    env = _kernel_env(tmp_path, TA_FAULT_PIPELINE="stall", TA_FAULT_STALL_S="600")
    executor = _executor(KERNEL, tmp_path, env=env, timeout=3.0)
    with pytest.raises(AnalysisExecutorError) as info:
        await _run(executor)
    assert info.value.error.message == "analysis subprocess timed out after 3s"
    assert info.value.error.retryable is True
