"""One analysis run in five stages, as the backends' subprocess protocol expects them.

Stage names belong to the application contract, so the pipeline only announces them through a
callback; the CLI turns each into a `STAGE:<name>` line. The order is upstream's NEW script order:
analysts and research back-to-back, trading, compute, risk, write the reports, portfolio.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.contracts import FinalSignal
from orchestrator.orchestrator import TradingOrchestrator
from orchestrator.reports import Ratings, write_reports
from orchestrator.signals import rating_from_direction

STAGES = ("analysts", "research", "trading", "risk", "portfolio")

StageCallback = Callable[[str], None]


def ratings_for(final: FinalSignal) -> Ratings:
    """Application-layer ratings: never null, HOLD for a missing lane.

    See docs/upstream-contract.md §2.3.
    """
    quant = final.quant_signal
    llm = final.llm_signal
    return Ratings(
        decision=rating_from_direction(final.direction, final.confidence),
        quant=rating_from_direction(quant.direction, quant.confidence) if quant else "HOLD",
        llm=str(llm.metadata.get("rating") or "HOLD") if llm else "HOLD",
    )


@dataclass(frozen=True, slots=True)
class AnalysisOutcome:
    final: FinalSignal
    ratings: Ratings
    report_path: Path

    def signal_detail(self) -> dict[str, Any]:
        return {
            "llm_signal": self.ratings.llm,
            "quant_signal": self.ratings.quant,
            "confidence": self.final.confidence,
        }

    def result_meta(self) -> dict[str, Any]:
        return {
            "degrade_reason_codes": list(self.final.degrade_reason_codes),
            "data_quality": self.final.metadata.get("data_quality"),
            "source_diagnostics": self.final.metadata.get("source_diagnostics"),
        }


class AnalysisPipeline:
    def __init__(
        self,
        orchestrator: TradingOrchestrator,
        results_dir: str | Path,
        on_stage: StageCallback = lambda _stage: None,
    ) -> None:
        self.orchestrator = orchestrator
        self.results_dir = Path(results_dir)
        self.on_stage = on_stage

    def run(self, ticker: str, date: str) -> AnalysisOutcome:
        """Raises `CombinedSignalFailure` when neither lane is usable (after `trading`)."""
        self.on_stage("analysts")
        self.on_stage("research")
        self.on_stage("trading")
        final = self.orchestrator.get_combined_signal(ticker, date)
        self.on_stage("risk")
        ratings = ratings_for(final)
        report = write_reports(self.results_dir, ticker, date, final, ratings)
        self.on_stage("portfolio")
        return AnalysisOutcome(final=final, ratings=ratings, report_path=report)
