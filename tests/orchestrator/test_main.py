"""`python -m orchestrator` as the backends run it: real subprocesses, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

STAGE_LINES = [
    "STAGE:analysts",
    "STAGE:research",
    "STAGE:trading",
    "STAGE:risk",
    "STAGE:portfolio",
]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TA_", "TRADINGAGENTS_", "OPENAI_"))
    }
    env.update(
        TA_STAGE_DELAY_MS="0",
        TRADINGAGENTS_RESULTS_DIR=str(tmp_path / "results"),
        TA_CACHE_DIR=str(tmp_path / "cache"),
    )
    env.update(extra)
    return env


def _run(tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        env=_env(tmp_path, **extra),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _marker(lines: list[str], prefix: str) -> str:
    found = [line[len(prefix) :] for line in lines if line.startswith(prefix)]
    assert len(found) == 1, (prefix, lines)
    return found[0]


def test_analyze_prints_the_new_marker_order_and_is_deterministic(tmp_path: Path) -> None:
    first = _run(tmp_path / "a", "analyze", "AAPL", "2026-04-13")
    second = _run(tmp_path / "b", "analyze", "AAPL", "2026-04-13")
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[:5] == STAGE_LINES
    assert [line.split(":", 1)[0] for line in lines[5:]] == [
        "SIGNAL_DETAIL",
        "RESULT_META",
        "ANALYSIS_COMPLETE",
    ]
    detail = json.loads(_marker(lines, "SIGNAL_DETAIL:"))
    assert list(detail) == ["llm_signal", "quant_signal", "confidence"]
    meta = json.loads(_marker(lines, "RESULT_META:"))
    assert meta == {"degrade_reason_codes": [], "data_quality": None, "source_diagnostics": None}
    assert _marker(lines, "ANALYSIS_COMPLETE:") in {
        "BUY",
        "OVERWEIGHT",
        "HOLD",
        "UNDERWEIGHT",
        "SELL",
    }
    assert first.stdout == second.stdout
    reports_a = tmp_path / "a" / "results" / "AAPL" / "2026-04-13"
    reports_b = tmp_path / "b" / "results" / "AAPL" / "2026-04-13"
    files_a = sorted(p.relative_to(reports_a) for p in reports_a.rglob("*.md"))
    assert len(files_a) == 6
    for relative in files_a:
        assert (reports_a / relative).read_bytes() == (reports_b / relative).read_bytes()
    assert (tmp_path / "a" / "cache" / "AAPL_2026-04-13.json").is_file()


def test_analyze_rerun_with_the_same_cache_repeats_the_decision(tmp_path: Path) -> None:
    first = _run(tmp_path, "analyze", "MSFT", "2026-03-02")
    second = _run(tmp_path, "analyze", "MSFT", "2026-03-02")
    assert first.returncode == second.returncode == 0
    assert first.stdout == second.stdout


def test_report_layout_has_the_eighteen_lines(tmp_path: Path) -> None:
    result = _run(tmp_path, "analyze", "NVDA", "2026-04-13")
    assert result.returncode == 0, result.stderr
    report = (tmp_path / "results" / "NVDA" / "2026-04-13" / "complete_report.md").read_text(
        encoding="utf-8"
    )
    lines = report.splitlines()
    assert len(lines) == 18
    assert lines[0] == "# TradingAgents 分析报告"
    assert lines[2:4] == ["**股票**: NVDA", "**日期**: 2026-04-13"]
    decision = _marker(result.stdout.splitlines(), "ANALYSIS_COMPLETE:")
    assert lines[7] == f"**{decision}**"
    confidence = json.loads(_marker(result.stdout.splitlines(), "SIGNAL_DETAIL:"))["confidence"]
    assert lines[13] == f"- 置信度: {confidence * 100:.1f}%"
    assert lines[15] == "## 分析摘要"
    assert lines[17].startswith("Rule-based analyst (offline, not an LLM)")


@pytest.mark.parametrize(
    ("env", "codes"),
    [
        pytest.param({"TA_FAULT_LLM": "fail"}, ["llm_signal_failed"], id="llm-fail"),
        pytest.param({"TA_FAULT_LLM": "auth"}, ["provider_auth_failed"], id="llm-auth"),
        pytest.param({"TA_FAULT_LLM": "mismatch"}, ["provider_mismatch"], id="llm-mismatch"),
        pytest.param({"TA_FAULT_QUANT": "fail"}, ["quant_signal_failed"], id="quant-fail"),
        pytest.param({"TA_FAULT_QUANT": "no_data"}, ["quant_no_data"], id="quant-no-data"),
        pytest.param({"TA_FAULT_QUANT": "partial"}, ["partial_data"], id="quant-partial"),
        pytest.param({"TA_FAULT_QUANT": "stale"}, ["stale_data"], id="quant-stale"),
        pytest.param({"TA_QUANT_ENABLED": "0"}, ["quant_not_configured"], id="quant-off"),
    ],
)
def test_lane_faults_degrade_but_complete(
    tmp_path: Path, env: dict[str, str], codes: list[str]
) -> None:
    result = _run(tmp_path, "analyze", "AAPL", "2026-04-13", **env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:5] == STAGE_LINES
    meta = json.loads(_marker(lines, "RESULT_META:"))
    assert meta["degrade_reason_codes"] == codes
    lane = "llm" if "TA_FAULT_LLM" in env else "quant"
    assert meta["source_diagnostics"][lane]["reason_code"] == codes[0]
    assert _marker(lines, "ANALYSIS_COMPLETE:")


def test_research_fault_is_metadata_not_degradation(tmp_path: Path) -> None:
    result = _run(
        tmp_path,
        "analyze",
        "AAPL",
        "2026-04-13",
        TA_FAULT_RESEARCH="bull,manager",
        TA_RESEARCH_NODE_TIMEOUT_S="0.05",
    )
    assert result.returncode == 0, result.stderr
    meta = json.loads(_marker(result.stdout.splitlines(), "RESULT_META:"))
    assert meta["degrade_reason_codes"] == []
    debate = (
        tmp_path / "results" / "AAPL" / "2026-04-13" / "reports" / "2_research" / "debate.md"
    ).read_text(encoding="utf-8")
    assert "[DEGRADED] Bull Researcher argument unavailable (timeout)" in debate
    assert '"research_manager_timeout"' in debate


def test_both_lanes_failing_uses_the_failure_path(tmp_path: Path) -> None:
    result = _run(
        tmp_path, "analyze", "AAPL", "2026-04-13", TA_FAULT_LLM="fail", TA_FAULT_QUANT="no_data"
    )
    assert result.returncode == 1
    assert result.stdout.splitlines() == STAGE_LINES[:3]
    errors = result.stderr.splitlines()
    meta = json.loads(_marker(errors, "RESULT_META:"))
    assert meta["degrade_reason_codes"] == [
        "quant_no_data",
        "llm_signal_failed",
        "both_signals_unavailable",
    ]
    assert set(meta["source_diagnostics"]) == {"quant", "llm"}
    assert errors[-1] == "ANALYSIS_ERROR:both quant and llm signals are None"


def test_pipeline_crash_fault(tmp_path: Path) -> None:
    result = _run(tmp_path, "analyze", "AAPL", "2026-04-13", TA_FAULT_PIPELINE="crash")
    assert result.returncode == 1
    assert result.stdout.splitlines() == STAGE_LINES[:3]
    errors = result.stderr.splitlines()
    assert json.loads(_marker(errors, "RESULT_META:"))["degrade_reason_codes"] == []
    assert errors[-1].startswith("ANALYSIS_ERROR:analysis crashed after the trading stage")


def test_pipeline_raw_crash_fault(tmp_path: Path) -> None:
    result = _run(tmp_path, "analyze", "AAPL", "2026-04-13", TA_FAULT_PIPELINE="raw_crash")
    assert result.returncode == 1
    assert result.stdout.splitlines() == STAGE_LINES[:3]
    assert "RESULT_META" not in result.stderr
    assert "ANALYSIS_ERROR" not in result.stderr
    assert "Traceback" not in result.stderr
    assert "raw_crash" in result.stderr


def test_pipeline_no_markers_fault(tmp_path: Path) -> None:
    result = _run(tmp_path, "analyze", "AAPL", "2026-04-13", TA_FAULT_PIPELINE="no_markers")
    assert result.returncode == 0
    assert result.stdout.splitlines() == STAGE_LINES


def test_pipeline_stall_fault_goes_silent_after_the_first_stage(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "analyze", "AAPL", "2026-04-13"],
        env=_env(tmp_path, TA_FAULT_PIPELINE="stall"),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "STAGE:analysts\n"
        assert process.poll() is None
    finally:
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["analyze", "AA/PL", "2026-04-13"], "must not contain", id="slash-ticker"),
        pytest.param(["analyze", "..", "2026-04-13"], "must not contain", id="dotdot-ticker"),
        pytest.param(["analyze", "AA PL", "2026-04-13"], "whitespace", id="space-ticker"),
        pytest.param(["analyze", "AAPL$", "2026-04-13"], "may only contain", id="bad-char"),
        pytest.param(["analyze", "AAPL", "13/04/2026"], "YYYY-MM-DD", id="date-format"),
        pytest.param(["analyze", "AAPL", "2026-02-30"], "not a calendar date", id="no-such-day"),
        pytest.param(["analyze", "AAPL", "2999-01-01"], "in the future", id="future-date"),
        pytest.param(["analyze", "AAPL"], "required", id="missing-date"),
        pytest.param(["live"], "required", id="empty-ticker-list"),
        pytest.param(["backtest", "AAPL"], "invalid choice", id="unknown-subcommand"),
        pytest.param([], "required", id="no-subcommand"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = _run(tmp_path, *args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_setting_exits_2(tmp_path: Path) -> None:
    result = _run(tmp_path, "analyze", "AAPL", "2026-04-13", TA_STAGE_DELAY_MS="soon")
    assert result.returncode == 2
    assert "TA_STAGE_DELAY_MS" in result.stderr
    assert "Traceback" not in result.stderr


def test_live_prints_documents_in_ticker_order(tmp_path: Path) -> None:
    result = _run(tmp_path, "live", "MSFT", "600519.SS", "AAPL", "--date", "2026-10-01")
    assert result.returncode == 0, result.stderr
    documents = json.loads(result.stdout)
    assert [doc["ticker"] for doc in documents] == ["MSFT", "600519.SS", "AAPL"]
    assert all(doc["date"] == "2026-10-01" for doc in documents)
    a_share = documents[1]
    assert a_share["status"] == "degraded_success"
    assert a_share["degradation"]["reason_codes"] == ["non_trading_day"]
    assert a_share["data_quality"]["state"] == "non_trading_day"


def test_csv_market_data_and_holiday_override_from_the_environment(tmp_path: Path) -> None:
    """TA_MARKET_DATA_DIR without the ticker's file: both lanes lose their data."""
    holidays = tmp_path / "holidays.json"
    holidays.write_text('{"a_share": {"2026": ["2026-04-13"]}}', encoding="utf-8")
    (tmp_path / "bars").mkdir()
    result = _run(
        tmp_path,
        "analyze",
        "600519.SS",
        "2026-04-13",
        TA_MARKET_DATA_DIR=str(tmp_path / "bars"),
        TRADINGAGENTS_MARKET_HOLIDAYS_PATH=str(holidays),
    )
    assert result.returncode == 1
    meta = json.loads(_marker(result.stderr.splitlines(), "RESULT_META:"))
    assert meta["degrade_reason_codes"] == [
        "non_trading_day",
        "llm_signal_failed",
        "both_signals_unavailable",
    ]
    assert meta["data_quality"]["state"] == "non_trading_day"


def test_golden_decision_pins_the_kernel(tmp_path: Path) -> None:
    """Both backends must print exactly this for AAPL on 2026-04-13; a change here is a
    behaviour change of the kernel and needs a deliberate update."""
    result = _run(tmp_path, "analyze", "AAPL", "2026-04-13")
    lines = result.stdout.splitlines()
    assert _marker(lines, "SIGNAL_DETAIL:") == (
        '{"llm_signal":"HOLD","quant_signal":"SELL","confidence":0.6153846153846154}'
    )
    assert _marker(lines, "ANALYSIS_COMPLETE:") == "UNDERWEIGHT"
