"""Reports: the routes over a seeded `results/` folder (list, get, CSV, paging, traversal) and
the report text rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from legacy_backend.reports import report_decision, report_summary

AAPL_REPORT = (
    "# TradingAgents 分析报告\n\n**股票**: AAPL\n**日期**: 2026-04-13\n\n"
    "## 最终决策\n\n**OVERWEIGHT**\n\n"
    "## 分析摘要\n\n**Strong** momentum; *watch* risk.\n## 附录\nnot in the summary\n"
)
MSFT_REPORT = "## 最终决策\n\n**SELL**\n\n## 分析摘要\n\nRisks:\nrates, margins\n"


@pytest.fixture
def results(data_dir: Path) -> Path:
    root = data_dir / "results"
    (root / "AAPL" / "2026-04-13" / "reports" / "1_analysts").mkdir(parents=True)
    (root / "AAPL" / "2026-04-13" / "complete_report.md").write_text(AAPL_REPORT, "utf-8")
    (root / "AAPL" / "2026-04-13" / "reports" / "1_analysts" / "market_report.md").write_text(
        "mkt", "utf-8"
    )
    (root / "AAPL" / "2026-04-10").mkdir()
    (root / "AAPL" / "notes").mkdir()
    (root / "MSFT" / "2026-04-14").mkdir(parents=True)
    (root / "MSFT" / "2026-04-14" / "complete_report.md").write_text(MSFT_REPORT, "utf-8")
    (root / "TradingAgentsStrategy_logs" / "2026-04-13").mkdir(parents=True)
    (data_dir / "secret").mkdir()
    (data_dir / "secret" / "2026-01-01").mkdir()
    (data_dir / "secret" / "2026-01-01" / "complete_report.md").write_text("secret", "utf-8")
    return root


async def test_list_is_newest_first_with_absolute_paths(
    client: TestClient[web.Request, web.Application], results: Path
) -> None:
    body = await (await client.get("/api/reports/list")).json()
    assert body["total"] == 3
    assert (body["limit"], body["offset"]) == (50, 0)
    assert [(r["ticker"], r["date"]) for r in body["reports"]] == [
        ("MSFT", "2026-04-14"),
        ("AAPL", "2026-04-13"),
        ("AAPL", "2026-04-10"),
    ]
    assert body["reports"][1]["path"] == str((results / "AAPL" / "2026-04-13").resolve())


@pytest.mark.parametrize(
    ("query", "dates"),
    [
        pytest.param("limit=1", ["2026-04-14"], id="first-page"),
        pytest.param("limit=1&offset=1", ["2026-04-13"], id="second-page"),
        pytest.param("limit=2&offset=2", ["2026-04-10"], id="short-last-page"),
        pytest.param("offset=3", [], id="past-the-end"),
        pytest.param("limit=500", ["2026-04-14", "2026-04-13", "2026-04-10"], id="max-page"),
    ],
)
async def test_list_pagination(
    client: TestClient[web.Request, web.Application], results: Path, query: str, dates: list[str]
) -> None:
    body = await (await client.get(f"/api/reports/list?{query}")).json()
    assert [report["date"] for report in body["reports"]] == dates
    assert body["total"] == 3


@pytest.mark.parametrize(
    ("query", "kind"),
    [
        pytest.param("limit=0", "greater_than_equal", id="limit-zero"),
        pytest.param("limit=501", "less_than_equal", id="limit-too-big"),
        pytest.param("limit=ten", "int_parsing", id="limit-not-int"),
        pytest.param("offset=-1", "greater_than_equal", id="offset-negative"),
        pytest.param("offset=1.5", "int_parsing", id="offset-float"),
    ],
)
async def test_list_pagination_out_of_range_is_422(
    client: TestClient[web.Request, web.Application], query: str, kind: str
) -> None:
    response = await client.get(f"/api/reports/list?{query}")
    assert response.status == 422
    [item] = (await response.json())["detail"]
    name, raw = query.split("=")
    assert (item["type"], item["loc"], item["input"]) == (kind, ["query", name], raw)


async def test_get_report_returns_report_and_stage_files(
    client: TestClient[web.Request, web.Application], results: Path
) -> None:
    body = await (await client.get("/api/reports/AAPL/2026-04-13")).json()
    assert body == {"report": AAPL_REPORT, "market_report.md": "mkt"}


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/api/reports/AAPL/2026-04-10", id="empty-folder"),
        pytest.param("/api/reports/AAPL/2030-01-01", id="missing-folder"),
        pytest.param("/api/reports/..%2Fsecret/2026-01-01", id="ticker-encoded-slash"),
        pytest.param("/api/reports/..%5Csecret/2026-01-01", id="ticker-backslash"),
        pytest.param("/api/reports/../2026-01-01", id="ticker-dotdot"),
        pytest.param("/api/reports/secret/..%2F..%2Fsecret%2F2026-01-01", id="date-encoded"),
        pytest.param("/api/reports/%2E%2E/secret", id="percent-dots"),
    ],
)
async def test_get_report_not_found_and_traversal(
    client: TestClient[web.Request, web.Application], results: Path, path: str
) -> None:
    response = await client.get(path)
    assert response.status == 404
    assert "secret" not in await response.text()


async def test_export_csv_bytes(
    client: TestClient[web.Request, web.Application], results: Path
) -> None:
    response = await client.get("/api/reports/export")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        response.headers["Content-Disposition"] == "attachment; filename=tradingagents_reports.csv"
    )
    assert await response.read() == (
        b"ticker,date,decision,summary\r\n"
        b'MSFT,2026-04-14,SELL,"Risks: rates, margins"\r\n'
        b"AAPL,2026-04-13,OVERWEIGHT,Strong momentum; watch risk.\r\n"
        b"AAPL,2026-04-10,UNKNOWN,\r\n"
    )


async def test_export_with_no_results_is_header_only(
    client: TestClient[web.Request, web.Application],
) -> None:
    assert (
        await (await client.get("/api/reports/export")).read()
        == b"ticker,date,decision,summary\r\n"
    )


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
