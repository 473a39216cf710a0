"""`/api/reports/*`: the analysis reports the subprocess wrote under `results/`.

Both backends use the same layout and the proxy expects byte-identical list, get and CSV
answers, so the scan order is made deterministic (ticker folders sorted by name; upstream used
raw directory order) and the CSV is produced by the csv module's default dialect, as upstream.
PDF export needs a PDF library this project does not carry, so it answers 501.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from pathlib import Path
from typing import Any

from aiohttp import web

from legacy_backend.access import require_auth
from legacy_backend.errors import ApiError, json_response
from legacy_backend.paths import resolve_inside
from legacy_backend.state import SETTINGS
from legacy_backend.validation import read_page

REPORT_NOT_FOUND = "Report not found"
LOGS_DIR = "TradingAgentsStrategy_logs"
STAGE_DIRS = ("1_analysts", "2_research", "3_trading", "4_risk", "5_portfolio")
CSV_COLUMNS = ("ticker", "date", "decision", "summary")
SUMMARY_HEADING = "## 分析摘要"

_RATING_RE = re.compile(r"\*\*(BUY|SELL|HOLD|OVERWEIGHT|UNDERWEIGHT)\*\*")
_EMPHASIS_RE = re.compile(r"\*{1,2}|_{1,2}")
_BREAKS_RE = re.compile(r"[#\n]+")


def scan_reports(results_dir: Path) -> list[dict[str, str]]:
    """`results/<ticker>/<date>/` folders, newest date first (stable within a date)."""
    if not results_dir.is_dir():
        return []
    reports: list[dict[str, str]] = []
    for ticker_dir in sorted(results_dir.iterdir()):
        if not ticker_dir.is_dir() or ticker_dir.name == LOGS_DIR:
            continue
        for date_dir in sorted(ticker_dir.iterdir()):
            if date_dir.is_dir() and date_dir.name.startswith("20"):
                reports.append(
                    {"ticker": ticker_dir.name, "date": date_dir.name, "path": str(date_dir)}
                )
    reports.sort(key=lambda report: report["date"], reverse=True)
    return reports


def read_report(results_dir: Path, ticker: str, date: str) -> dict[str, str] | None:
    folder = resolve_inside(results_dir, ticker, date)
    if folder is None or not folder.is_dir():
        return None
    content: dict[str, str] = {}
    complete = folder / "complete_report.md"
    if complete.is_file():
        content["report"] = complete.read_text(encoding="utf-8")
    for stage in STAGE_DIRS:
        stage_dir = folder / "reports" / stage
        if stage_dir.is_dir():
            for markdown in sorted(stage_dir.glob("*.md")):
                content[markdown.name] = markdown.read_text(encoding="utf-8")
    return content or None


def report_decision(text: str) -> str:
    match = _RATING_RE.search(text)
    return match.group(1) if match else "UNKNOWN"


def report_summary(text: str) -> str:
    """Up to 300 chars after `## 分析摘要` (stopping at the next heading), flattened to 200."""
    _, found, after = text.partition(SUMMARY_HEADING)
    if not found:
        return ""
    section = after.lstrip()[:300]
    end = section.find("\n##")
    if end != -1:
        section = section[:end]
    flat = _BREAKS_RE.sub(" ", _EMPHASIS_RE.sub("", section))
    return flat[:200].strip()


def export_csv(results_dir: Path) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for report in scan_reports(results_dir):
        complete = Path(report["path"]) / "complete_report.md"
        text = complete.read_text(encoding="utf-8") if complete.is_file() else ""
        writer.writerow(
            [report["ticker"], report["date"], report_decision(text), report_summary(text)]
        )
    return buffer.getvalue().encode("utf-8")


def csv_response(body: bytes, filename: str) -> web.Response:
    response = web.Response(body=body, content_type="text/csv", charset="utf-8")
    response.headers["Content-Disposition"] = f"attachment; filename={filename}"
    return response


async def list_reports(request: web.Request) -> web.Response:
    page = read_page(request)
    require_auth(request)
    reports = await asyncio.to_thread(scan_reports, request.app[SETTINGS].results_dir)
    payload: dict[str, Any] = {
        "reports": page.slice(reports),
        "total": len(reports),
        "limit": page.limit,
        "offset": page.offset,
    }
    return json_response(payload)


async def get_report(request: web.Request) -> web.Response:
    require_auth(request)
    content = await asyncio.to_thread(
        read_report,
        request.app[SETTINGS].results_dir,
        request.match_info["ticker"],
        request.match_info["date"],
    )
    if content is None:
        raise ApiError(404, REPORT_NOT_FOUND)
    return json_response(content)


async def export_reports(request: web.Request) -> web.Response:
    require_auth(request)
    body = await asyncio.to_thread(export_csv, request.app[SETTINGS].results_dir)
    return csv_response(body, "tradingagents_reports.csv")


async def export_pdf(request: web.Request) -> web.Response:
    require_auth(request)
    raise ApiError(501, "PDF export is not implemented in this backend")
