"""Markdown reports of one analysis: `complete_report.md` and one file per stage.

A proxy compares these files byte for byte across two backends, so nothing run-specific goes in:
no timestamps, no absolute paths, no dict ordering left to chance.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.contracts import FinalSignal, Signal

STAGE_DIRS = ("1_analysts", "2_research", "3_trading", "4_risk", "5_portfolio")


@dataclass(frozen=True, slots=True)
class Ratings:
    decision: str
    quant: str
    llm: str


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, indent=2)


def summary_paragraph(final: FinalSignal) -> str:
    """The analyst's rationale; when the LLM lane is missing, say so and what the quant lane saw."""
    llm = final.llm_signal
    if llm is not None:
        structured = llm.metadata.get("decision_structured") or {}
        rationale = structured.get("rationale") if isinstance(structured, dict) else None
        if rationale:
            return " ".join(str(rationale).split())
    lost = (final.metadata.get("source_diagnostics") or {}).get("llm", {})
    reason = lost.get("reason_code", "unavailable")
    quant = final.quant_signal
    if quant is None:
        return f"The analyst lane is unavailable ({reason})."
    return (
        f"The analyst lane is unavailable ({reason}); the decision rests on the quant lane alone: "
        f"Bollinger band direction {quant.direction:+d}, replay sharpe "
        f"{quant.metadata.get('sharpe_ratio')}, confidence {quant.confidence:.4f} before the solo "
        "penalty."
    )


def complete_report(ticker: str, date: str, final: FinalSignal, ratings: Ratings) -> str:
    lines = [
        "# TradingAgents 分析报告",
        "",
        f"**股票**: {ticker}",
        f"**日期**: {date}",
        "",
        "## 最终决策",
        "",
        f"**{ratings.decision}**",
        "",
        "## 信号详情",
        "",
        f"- LLM 信号: {ratings.llm}",
        f"- Quant 信号: {ratings.quant}",
        f"- 置信度: {final.confidence * 100:.1f}%",
        "",
        "## 分析摘要",
        "",
        summary_paragraph(final),
    ]
    return "\n".join(lines) + "\n"


def _lane(signal: Signal | None, final: FinalSignal, lane: str) -> str:
    if signal is not None:
        return f"direction {signal.direction:+d}, confidence {signal.confidence:.4f}"
    diagnostic = (final.metadata.get("source_diagnostics") or {}).get(lane, {})
    return f"unavailable ({diagnostic.get('reason_code', 'unknown')})"


def _market_data(quant_meta: dict[str, Any], llm_meta: dict[str, Any]) -> str:
    features = llm_meta.get("features") or {}
    return str(quant_meta.get("market_data") or features.get("market_data") or "n/a")


def stage_reports(ticker: str, date: str, final: FinalSignal, ratings: Ratings) -> dict[str, str]:
    """Relative path under `reports/` → markdown text."""
    llm_meta: dict[str, Any] = final.llm_signal.metadata if final.llm_signal else {}
    quant_meta: dict[str, Any] = final.quant_signal.metadata if final.quant_signal else {}
    notes = llm_meta.get("research_notes") or {}
    research = final.metadata.get("research")
    head = f"**{ticker}** — {date}\n\n"
    return {
        "1_analysts/market_report.md": (
            f"# Market analyst\n\n{head}"
            f"- Market data: {_market_data(quant_meta, llm_meta)}\n"
            f"- Quant lane: {_lane(final.quant_signal, final, 'quant')}\n\n"
            f"## Indicators\n\n```json\n{_json(llm_meta.get('features'))}\n```\n"
        ),
        "2_research/debate.md": (
            f"# Research debate\n\n{head}"
            f"## Bull\n\n{notes.get('bull') or 'unavailable'}\n\n"
            f"## Bear\n\n{notes.get('bear') or 'unavailable'}\n\n"
            f"## Research manager\n\n{notes.get('manager') or 'unavailable'}\n\n"
            f"## Provenance\n\n```json\n{_json(research)}\n```\n"
        ),
        "3_trading/trader_plan.md": (
            f"# Trader\n\n{head}"
            f"- Quant lane: {_lane(final.quant_signal, final, 'quant')}\n"
            f"- Analyst lane: {_lane(final.llm_signal, final, 'llm')}\n"
            f"- Merged: direction {final.direction:+d}, confidence {final.confidence:.4f}\n"
        ),
        "4_risk/risk_assessment.md": (
            f"# Risk\n\n{head}"
            f"- Degrade reason codes: {', '.join(final.degrade_reason_codes) or 'none'}\n\n"
            f"## Data quality\n\n```json\n{_json(final.metadata.get('data_quality'))}\n```\n"
        ),
        "5_portfolio/decision.md": (
            f"# Portfolio manager\n\n{head}"
            f"**{ratings.decision}** (LLM {ratings.llm}, quant {ratings.quant}, "
            f"confidence {final.confidence * 100:.1f}%)\n\n{summary_paragraph(final)}\n"
        ),
    }


def _write_atomically(target: Path, text: str) -> None:
    """Readers (the report routes) never see half a file, even while a rerun rewrites it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)


def write_reports(
    results_dir: Path, ticker: str, date: str, final: FinalSignal, ratings: Ratings
) -> Path:
    """Write every report for (ticker, date); returns the complete report's path."""
    base = results_dir / ticker / date
    for relative, text in stage_reports(ticker, date, final, ratings).items():
        _write_atomically(base / "reports" / relative, text)
    report = base / "complete_report.md"
    _write_atomically(report, complete_report(ticker, date, final, ratings))
    return report
