"""The analysis pipeline in-process: stage order, ratings, report files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from orchestrator.config import OrchestratorConfig
from orchestrator.contracts import CombinedSignalFailure, FinalSignal, Lane, Signal
from orchestrator.faults import Faults
from orchestrator.orchestrator import TradingOrchestrator
from orchestrator.pipeline import STAGES, AnalysisPipeline, ratings_for

DAY = "2026-04-13"


def _pipeline(tmp_path: Path, stages: list[str], **config: Any) -> AnalysisPipeline:
    settings = OrchestratorConfig(cache_dir=str(tmp_path / "cache"), **config)
    return AnalysisPipeline(TradingOrchestrator(settings), tmp_path / "results", stages.append)


def test_stages_in_order_and_reports_written(tmp_path: Path) -> None:
    stages: list[str] = []
    outcome = _pipeline(tmp_path, stages).run("AAPL", DAY)
    assert stages == list(STAGES)
    assert outcome.report_path == tmp_path / "results" / "AAPL" / DAY / "complete_report.md"
    reports = sorted(
        str(p.relative_to(outcome.report_path.parent))
        for p in outcome.report_path.parent.rglob("*")
        if p.is_file()
    )
    assert reports == [
        "complete_report.md",
        "reports/1_analysts/market_report.md",
        "reports/2_research/debate.md",
        "reports/3_trading/trader_plan.md",
        "reports/4_risk/risk_assessment.md",
        "reports/5_portfolio/decision.md",
    ]
    assert outcome.result_meta() == {
        "degrade_reason_codes": [],
        "data_quality": None,
        "source_diagnostics": None,
    }
    assert str(tmp_path) not in outcome.report_path.read_text(encoding="utf-8")


def test_failure_stops_after_trading(tmp_path: Path) -> None:
    stages: list[str] = []
    pipeline = _pipeline(tmp_path, stages, faults=Faults(llm="fail", quant="fail"))
    with pytest.raises(CombinedSignalFailure):
        pipeline.run("AAPL", DAY)
    assert stages == ["analysts", "research", "trading"]
    assert not (tmp_path / "results").exists()


def test_quant_only_summary_says_the_analyst_is_missing(tmp_path: Path) -> None:
    outcome = _pipeline(tmp_path, [], faults=Faults(llm="auth")).run("AAPL", DAY)
    lines = outcome.report_path.read_text(encoding="utf-8").splitlines()
    assert lines[11] == "- LLM 信号: HOLD"
    assert lines[17].startswith("The analyst lane is unavailable (provider_auth_failed)")
    assert outcome.signal_detail()["llm_signal"] == "HOLD"


def _signal(source: Lane, direction: int, confidence: float, **meta: object) -> Signal:
    return Signal(
        ticker="AAPL",
        direction=direction,
        confidence=confidence,
        source=source,
        metadata=meta,
    )


@pytest.mark.parametrize(
    ("final", "expected"),
    [
        pytest.param(
            FinalSignal(
                "AAPL", 1, 0.5, _signal("quant", 1, 0.9), _signal("llm", 1, 0.9, rating="BUY")
            ),
            ("OVERWEIGHT", "BUY", "BUY"),
            id="both",
        ),
        pytest.param(
            FinalSignal("AAPL", -1, 0.42, None, _signal("llm", -1, 0.6, rating="underweight")),
            ("UNDERWEIGHT", "HOLD", "underweight"),
            id="llm-only-raw-rating",
        ),
        pytest.param(
            FinalSignal("AAPL", 0, 0.0, _signal("quant", 0, 0.3), None),
            ("HOLD", "HOLD", "HOLD"),
            id="quant-only",
        ),
        pytest.param(
            FinalSignal(
                "AAPL", 1, 0.5, _signal("quant", -1, 0.5), _signal("llm", 1, 0.9, rating="")
            ),
            ("OVERWEIGHT", "UNDERWEIGHT", "HOLD"),
            id="empty-llm-rating-is-hold",
        ),
    ],
)
def test_ratings_for(final: FinalSignal, expected: tuple[str, str, str]) -> None:
    ratings = ratings_for(final)
    assert (ratings.decision, ratings.quant, ratings.llm) == expected
