"""Read-only access to the kernel's report files under `<data-dir>/results/`.

The report routes stay LEGACY-shaped in NEW (the historical report contract was never
implemented upstream), so this reproduces the upstream scan, keys and CSV bytes exactly. Every
path a client names is checked twice: the segment text, then the resolved path against the root.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

STAGE_REPORT_DIRS = ("1_analysts", "2_research", "3_trading", "4_risk", "5_portfolio")
_RATING = re.compile(r"\*\*(BUY|SELL|HOLD|OVERWEIGHT|UNDERWEIGHT)\*\*")
_SUMMARY_HEADING = "## 分析摘要"
_EMPHASIS = re.compile(r"\*{1,2}|_{1,2}")
_BREAKS = re.compile(r"[#\n]+")
_SKIP_TICKER_DIR = "TradingAgentsStrategy_logs"


def _safe_segment(text: str) -> bool:
    return bool(text) and ".." not in text and "/" not in text and "\\" not in text


class ReportFiles:
    def __init__(self, results_dir: Path) -> None:
        self._root = results_dir

    def list_reports(self) -> list[dict[str, Any]]:
        if not self._root.is_dir():
            return []
        reports = []
        for ticker_dir in sorted(self._root.iterdir()):
            if not ticker_dir.is_dir() or ticker_dir.name == _SKIP_TICKER_DIR:
                continue
            for date_dir in sorted(ticker_dir.iterdir()):
                if date_dir.is_dir() and date_dir.name.startswith("20"):
                    reports.append(
                        {"ticker": ticker_dir.name, "date": date_dir.name, "path": str(date_dir)}
                    )
        reports.sort(key=lambda r: r["date"], reverse=True)
        return reports

    def _report_dir(self, ticker: str, date: str) -> Path | None:
        if not (_safe_segment(ticker) and _safe_segment(date)):
            return None
        folder = (self._root / ticker / date).resolve()
        if not folder.is_relative_to(self._root.resolve()) or not folder.is_dir():
            return None
        return folder

    def get_report(self, ticker: str, date: str) -> dict[str, str] | None:
        folder = self._report_dir(ticker, date)
        if folder is None:
            return None
        content: dict[str, str] = {}
        complete = folder / "complete_report.md"
        if complete.is_file():
            content["report"] = complete.read_text(encoding="utf-8")
        for stage_dir in STAGE_REPORT_DIRS:
            stage_path = folder / "reports" / stage_dir
            if stage_path.is_dir():
                for md in sorted(stage_path.glob("*.md")):
                    content[md.name] = md.read_text(encoding="utf-8")
        return content or None

    def export_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["ticker", "date", "decision", "summary"])
        for entry in self.list_reports():
            report = (self.get_report(entry["ticker"], entry["date"]) or {}).get("report", "")
            writer.writerow([entry["ticker"], entry["date"], *decision_and_summary(report)])
        return buffer.getvalue()


def decision_and_summary(report: str) -> tuple[str, str]:
    """The first bold rating, and up to 300 characters of the summary section flattened to 200."""
    rating = _RATING.search(report)
    _, found, after = report.partition(_SUMMARY_HEADING)
    summary = ""
    if found:
        section = after.lstrip()[:300]
        end = section.find("\n##")
        section = section if end == -1 else section[:end]
        summary = _BREAKS.sub(" ", _EMPHASIS.sub("", section))[:200].strip()
    return (rating.group(1) if rating else "UNKNOWN"), summary
