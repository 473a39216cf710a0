"""The reports profiles (§1.2 #11-13): the list, one report document, and CSV exports."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from shadowproxy.types import DiffKind, JSONValue, Outcome, RouteGroup, Side

from ...factories import exchange, observation
from ..documents import ENGINE, IDS, compare, fields


def reports(root: str, *keys: tuple[str, str]) -> dict[str, Any]:
    entries = [{"ticker": t, "date": d, "path": f"{root}/results/{t}/{d}"} for t, d in keys]
    return {"reports": entries, "total": len(entries), "limit": 50, "offset": 0}


@pytest.mark.parametrize(
    ("legacy", "app", "expected"),
    [
        pytest.param(
            reports("/srv/legacy", ("AAPL", "2026-04-13"), ("MSFT", "2026-04-12")),
            reports("/srv/app/data", ("AAPL", "2026-04-13"), ("MSFT", "2026-04-12")),
            [],
            id="own-data-dirs",
        ),
        pytest.param(
            reports("/srv/legacy", ("AAPL", "2026-04-13"), ("MSFT", "2026-04-13")),
            reports("C:\\app", ("MSFT", "2026-04-13"), ("AAPL", "2026-04-13")),
            [],
            id="same-date-in-directory-order",
        ),
        pytest.param(
            reports("/srv/legacy", ("AAPL", "2026-04-13")),
            reports("/srv/app", ("AAPL", "2026-04-13"), ("NVDA", "2026-04-13")),
            [("reports[NVDA:2026-04-13]", DiffKind.EXTRA), ("total", DiffKind.CHANGED)],
            id="extra-report",
        ),
    ],
)
def test_reports_list(legacy: Any, app: Any, expected: list[Any]) -> None:
    assert fields(compare("reports_list", legacy, app)) == expected


def test_report_document_same_keys_same_text() -> None:
    report = "# TradingAgents 分析报告\n\n**股票**: AAPL\n\n## 最终决策\n\n**OVERWEIGHT**\n"
    legacy: dict[str, JSONValue] = {"report": report, "market_report.md": "market"}
    assert compare("report_document", legacy, dict(legacy)).outcome is Outcome.MATCH
    changed = compare("report_document", legacy, {"report": report.replace("OVER", "UNDER")})
    # a file name holds a dot: bracketed, so it is never read as a nested key
    missing = ('["market_report.md"]', DiffKind.MISSING)
    assert fields(changed) == [("report", DiffKind.CHANGED), missing]


def csv_body(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


HEADER = ["ticker", "date", "decision", "summary"]


@pytest.mark.parametrize(
    ("legacy", "app", "expected"),
    [
        pytest.param(
            [HEADER, ["AAPL", "2026-04-13", "OVERWEIGHT", "N/A"]],
            [HEADER, ["AAPL", "2026-04-13", "OVERWEIGHT", "N/A"]],
            [],
            id="equal",
        ),
        pytest.param(
            [HEADER, ["AAPL", "2026-04-13", "OVERWEIGHT", ""], ["MSFT", "2026-04-12", "HOLD", ""]],
            [HEADER, ["AAPL", "2026-04-13", "OVERWEIGHT", ""], ["MSFT", "2026-04-12", "SELL", ""]],
            [("rows[1].decision", DiffKind.CHANGED)],
            id="cell-changed",
        ),
        pytest.param(
            [HEADER, ["AAPL", "2026-04-13", "OVERWEIGHT", ""]],
            [HEADER[:3], ["AAPL", "2026-04-13", "OVERWEIGHT"], ["MSFT", "2026-04-12", "HOLD"]],
            [
                ("rows[1]", DiffKind.EXTRA),
                ("header", DiffKind.CHANGED),
                ("rows[0].summary", DiffKind.MISSING),
            ],
            id="column-dropped-row-added",
        ),
    ],
)
def test_csv_export(legacy: list[list[str]], app: list[list[str]], expected: list[Any]) -> None:
    export = exchange(route_group=RouteGroup.REPORTS, route="/api/reports/export", profile="csv")
    csv_type = "text/csv; charset=utf-8"
    comparison = ENGINE(
        export,
        observation(Side.LEGACY, 200, csv_body(legacy), content_type=csv_type),
        observation(Side.APP, 200, csv_body(app), content_type=csv_type),
        IDS,
    )
    assert [(d.field, d.kind) for d in comparison.differences] == expected
    assert comparison.secondary == ()
