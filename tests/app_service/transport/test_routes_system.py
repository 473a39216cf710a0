"""Report routes over real files: shapes, CSV bytes, quirks, traversal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

REPORT = (
    "# TradingAgents 分析报告\n\n**股票**: AAPL\n**日期**: 2026-04-13\n\n## 最终决策\n\n"
    "**OVERWEIGHT**\n\n## 信号详情\n\n- LLM 信号: BUY\n- Quant 信号: HOLD\n- 置信度: 63.0%\n\n"
    "## 分析摘要\n\n**Trend** is *up*;\nmomentum holds\n## 附录\nnot in the summary\n"
)


def _plant_report(data_dir: Path, ticker: str, date: str, text: str = REPORT) -> Path:
    folder = data_dir / "results" / ticker / date
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "complete_report.md").write_text(text, encoding="utf-8")
    return folder


async def test_reports_list_get_and_export(client: TestClient[Any, Any], data_dir: Path) -> None:
    first = _plant_report(data_dir, "AAPL", "2026-04-13")
    stage = first / "reports" / "1_analysts"
    stage.mkdir(parents=True)
    (stage / "market_report.md").write_text("market", encoding="utf-8")
    _plant_report(data_dir, "MSFT", "2026-04-10", "no rating here")
    (data_dir / "results" / "TradingAgentsStrategy_logs" / "2026-04-13").mkdir(parents=True)
    (data_dir / "results" / "AAPL" / "notes").mkdir()

    listing = await (await client.get("/api/reports/list")).json()
    assert listing == {
        "reports": [
            {"ticker": "AAPL", "date": "2026-04-13", "path": str(first)},
            {
                "ticker": "MSFT",
                "date": "2026-04-10",
                "path": str(data_dir / "results/MSFT/2026-04-10"),
            },
        ],
        "total": 2,
        "limit": 50,
        "offset": 0,
    }
    page = await (await client.get("/api/reports/list?limit=1&offset=1")).json()
    assert [r["ticker"] for r in page["reports"]] == ["MSFT"]
    assert page["total"] == 2

    report = await (await client.get("/api/reports/AAPL/2026-04-13")).json()
    assert report == {"report": REPORT, "market_report.md": "market"}

    resp = await client.get("/api/reports/export")
    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert resp.headers["Content-Disposition"] == "attachment; filename=tradingagents_reports.csv"
    assert await resp.read() == (
        b"ticker,date,decision,summary\r\n"
        b"AAPL,2026-04-13,OVERWEIGHT,Trend is up; momentum holds\r\n"
        b"MSFT,2026-04-10,UNKNOWN,\r\n"
    )


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/api/reports/..%2F..%2Fportfolio/2026-04-13", id="encoded-slash"),
        pytest.param("/api/reports/AAPL/..", id="dotdot-date"),
        pytest.param("/api/reports/A%5CB/2026-04-13", id="encoded-backslash"),
        pytest.param("/api/reports/AAPL/2026-04-14", id="missing"),
    ],
)
async def test_report_not_found(client: TestClient[Any, Any], data_dir: Path, path: str) -> None:
    _plant_report(data_dir, "AAPL", "2026-04-13")
    resp = await client.get(path)
    assert resp.status == 404
    assert await resp.json() in ({"detail": "Report not found"}, {"detail": "Not Found"})
