"""Pure pieces: stage algorithm, markers, report text rules, auth rule, settings, ids."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from legacy_backend import validation
from legacy_backend.access import key_matches
from legacy_backend.lifecycle import (
    apply_stage,
    complete_analysis,
    make_batch_id,
    make_task_id,
    new_analysis_state,
    parse_markers,
)
from legacy_backend.paths import resolve_inside
from legacy_backend.reports import report_decision, report_summary
from legacy_backend.settings import Settings

NOW = datetime(2026, 4, 13, 12, 0, 0, 1)


def test_pagination_constants() -> None:
    assert (validation.DEFAULT_PAGE_SIZE, validation.MAX_PAGE_SIZE) == (50, 500)


def test_ids_use_local_time_and_six_hex() -> None:
    assert re.fullmatch(r"AAPL_20260413_120000_[0-9a-f]{6}", make_task_id("AAPL", NOW))
    assert re.fullmatch(r"port_2026-04-13_[0-9a-f]{6}", make_batch_id(NOW))


def statuses(state: dict[str, Any]) -> list[str]:
    return [stage["status"] for stage in state["stages"]]


@pytest.mark.parametrize(
    ("names", "progress", "current", "expected"),
    [
        pytest.param(
            ["analysts"],
            20,
            "analysts",
            ["completed", "running", "pending", "pending", "pending"],
            id="first",
        ),
        pytest.param(
            ["research"],
            40,
            "research",
            ["completed", "completed", "running", "pending", "pending"],
            id="skip-backfills",
        ),
        pytest.param(
            ["trading", "research"],
            40,
            "research",
            ["completed", "completed", "completed", "running", "pending"],
            id="out-of-order",
        ),
        pytest.param(["portfolio"], 100, "portfolio", ["completed"] * 5, id="last"),
        pytest.param(
            ["warmup"],
            0,
            "analysts",
            ["running", "pending", "pending", "pending", "pending"],
            id="unknown-ignored",
        ),
    ],
)
def test_apply_stage(names: list[str], progress: int, current: str, expected: list[str]) -> None:
    state = new_analysis_state("T", "AAPL", "2026-04-13", NOW)
    for name in names:
        apply_stage(state, name, NOW)
    assert (state["progress"], state["current_stage"], statuses(state)) == (
        progress,
        current,
        expected,
    )


def test_stage_keeps_first_completion_time_and_completion_backfills() -> None:
    state = new_analysis_state("T", "AAPL", "2026-04-13", NOW)
    apply_stage(state, "analysts", datetime(2026, 4, 13, 12, 0, 3))
    apply_stage(state, "research", datetime(2026, 4, 13, 12, 0, 9))
    complete_analysis(state, parse_markers([]), datetime(2026, 4, 13, 12, 2, 40))
    assert [stage["completed_at"] for stage in state["stages"]] == [
        "12:00:03",
        "12:00:09",
        "12:02:40",
        "12:02:40",
        "12:02:40",
    ]
    assert (state["decision"], state["confidence"], state["elapsed"]) == ("HOLD", None, 0)


@pytest.mark.parametrize(
    ("lines", "decision", "llm", "confidence"),
    [
        pytest.param([], "HOLD", None, None, id="nothing"),
        pytest.param(["ANALYSIS_COMPLETE:BUY\n"], "BUY", None, None, id="decision-only"),
        pytest.param(
            [
                'SIGNAL_DETAIL:{"llm_signal":"SELL","quant_signal":"HOLD","confidence":0.5}',
                "ANALYSIS_COMPLETE:UNDERWEIGHT",
            ],
            "UNDERWEIGHT",
            "SELL",
            0.5,
            id="all",
        ),
        pytest.param(
            ["SIGNAL_DETAIL:{broken", "ANALYSIS_COMPLETE:HOLD"],
            "HOLD",
            None,
            None,
            id="bad-json-ignored",
        ),
    ],
)
def test_parse_markers(
    lines: list[str], decision: str, llm: str | None, confidence: float | None
) -> None:
    markers = parse_markers(lines)
    assert (markers.decision, markers.llm_signal, markers.confidence) == (decision, llm, confidence)


@pytest.mark.parametrize(
    ("text", "decision"),
    [
        pytest.param("x **OVERWEIGHT** then **SELL**", "OVERWEIGHT", id="first-token"),
        pytest.param("**buy**", "UNKNOWN", id="case-sensitive"),
        pytest.param("", "UNKNOWN", id="empty"),
    ],
)
def test_report_decision(text: str, decision: str) -> None:
    assert report_decision(text) == decision


@pytest.mark.parametrize(
    ("text", "summary"),
    [
        pytest.param("no heading", "", id="absent"),
        pytest.param("## 分析摘要\n\nN/A", "N/A", id="placeholder"),
        pytest.param("## 分析摘要\n**a**\n_b_\n## next\nc", "a b", id="stops-at-heading"),
        pytest.param("## 分析摘要\n" + "z" * 400, "z" * 200, id="cut-to-200"),
    ],
)
def test_report_summary(text: str, summary: str) -> None:
    assert report_summary(text) == summary


@pytest.mark.parametrize(
    ("required", "offered", "ok"),
    [
        pytest.param(None, None, True, id="open-none"),
        pytest.param(None, "x", True, id="open-any"),
        pytest.param("k", "k", True, id="exact"),
        pytest.param("k", "K", False, id="case"),
        pytest.param("k", "", False, id="empty"),
        pytest.param("k", None, False, id="missing"),
        pytest.param("密钥", "密钥", True, id="non-ascii"),
    ],
)
def test_key_matches(required: str | None, offered: str | None, ok: bool) -> None:
    assert key_matches(required, offered) is ok


@pytest.mark.parametrize(
    "segments",
    [
        pytest.param(("..",), id="dotdot"),
        pytest.param(("a/b",), id="slash"),
        pytest.param(("a\\b",), id="backslash"),
        pytest.param(("ok", ""), id="empty"),
    ],
)
def test_resolve_inside_rejects(tmp_path: Path, segments: tuple[str, ...]) -> None:
    assert resolve_inside(tmp_path, *segments) is None


def test_resolve_inside_rejects_symlink_escape(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "link").symlink_to(tmp_path)
    assert resolve_inside(tmp_path / "base", "link") is None
    assert resolve_inside(tmp_path / "base", "fine") == (tmp_path / "base" / "fine").resolve()


def test_settings_from_environ(tmp_path: Path) -> None:
    settings = Settings.from_environ(
        {
            "ANTHROPIC_API_KEY": "ak",
            "CORS_ORIGINS": " http://a , http://b ",
            "PYTHONPATH": "/x",
            "VIRTUAL_ENV": "/v",
            "CONDA_PREFIX": "/c",
            "TRADINGAGENTS_LLM_PROVIDER": "OpenAI",
        },
        data_dir=tmp_path / "rel",
    )
    assert settings.dashboard_api_key == "ak"
    assert settings.cors_origins == ("http://a", "http://b")
    assert settings.missing_provider_key() == "OPENAI_API_KEY"
    env = settings.subprocess_env()
    assert not {"PYTHONPATH", "VIRTUAL_ENV", "CONDA_PREFIX"} & set(env)
    assert env["TRADINGAGENTS_RESULTS_DIR"] == str(tmp_path / "rel" / "results")
    assert env["TA_CACHE_DIR"] == str(tmp_path / "rel" / "cache")


def test_settings_reject_bad_numbers(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="LEGACY_RETRY_DELAY_SECS"):
        Settings.from_environ({"LEGACY_RETRY_DELAY_SECS": "soon"}, data_dir=tmp_path)
