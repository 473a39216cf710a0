"""Market calendar: NYSE computed holidays, A-share JSON list, path override."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from orchestrator.calendar import MarketCalendar, easter_sunday, is_trading_day, market_for


@pytest.mark.parametrize(
    ("ticker", "day", "trading"),
    [
        pytest.param("AAPL", "2026-04-13", True, id="nyse-regular-monday"),
        pytest.param("AAPL", "2026-04-03", False, id="nyse-good-friday-2026"),
        pytest.param("AAPL", "2025-04-18", False, id="nyse-good-friday-2025"),
        pytest.param("AAPL", "2026-07-03", False, id="nyse-july4-observed-friday"),
        pytest.param("AAPL", "2027-07-05", False, id="nyse-july4-observed-monday"),
        pytest.param("AAPL", "2026-04-11", False, id="weekend-saturday"),
        pytest.param("AAPL", "2026-04-12", False, id="weekend-sunday"),
        pytest.param("AAPL", "2026-01-19", False, id="nyse-mlk"),
        pytest.param("AAPL", "2026-11-26", False, id="nyse-thanksgiving"),
        pytest.param("AAPL", "2026-05-25", False, id="nyse-memorial"),
        pytest.param("AAPL", "2026-06-19", False, id="nyse-juneteenth"),
        pytest.param("AAPL", "2027-12-31", False, id="nyse-dec31-new-year-observed"),
        pytest.param("AAPL", "2026-10-01", True, id="nyse-open-on-china-national-day"),
        pytest.param("600519.SS", "2026-10-01", False, id="a-share-national-day"),
        pytest.param("000001.SZ", "2026-02-17", False, id="a-share-spring-festival"),
        pytest.param("600000.SH", "2026-04-13", True, id="a-share-regular-day"),
        pytest.param("600519.SS", "2026-07-03", True, id="a-share-open-on-july4"),
    ],
)
def test_is_trading_day(ticker: str, day: str, trading: bool) -> None:
    assert is_trading_day(ticker, day) is trading


@pytest.mark.parametrize(
    ("year", "easter"),
    [
        pytest.param(2024, date(2024, 3, 31), id="2024"),
        pytest.param(2025, date(2025, 4, 20), id="2025"),
        pytest.param(2026, date(2026, 4, 5), id="2026"),
        pytest.param(2027, date(2027, 3, 28), id="2027"),
    ],
)
def test_easter(year: int, easter: date) -> None:
    assert easter_sunday(year) == easter


def test_market_for() -> None:
    assert [market_for(t) for t in ("AAPL", "600519.ss", "1.SZ", "2.SH")] == [
        "nyse",
        "a_share",
        "a_share",
        "a_share",
    ]


def test_holidays_path_override(tmp_path: Path) -> None:
    path = tmp_path / "holidays.json"
    path.write_text(json.dumps({"a_share": {"2026": ["2026-04-13"]}}), encoding="utf-8")
    assert is_trading_day("600519.SS", "2026-04-13") is True
    assert is_trading_day("600519.SS", "2026-04-13", holidays_path=path) is False
    assert is_trading_day("600519.SS", "2026-10-01", holidays_path=path) is True
    assert is_trading_day("AAPL", "2026-04-13", holidays_path=path) is True


@pytest.mark.parametrize(
    "content",
    [
        pytest.param("not json", id="not-json"),
        pytest.param('{"nyse": {}}', id="missing-key"),
        pytest.param('{"a_share": {"2026": ["13/04/2026"]}}', id="bad-date"),
    ],
)
def test_malformed_holiday_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "broken.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match="Market holiday file"):
        MarketCalendar(path).check()
