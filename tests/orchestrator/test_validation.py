"""Ticker and date checks at the CLI boundary."""

from __future__ import annotations

from datetime import date

import pytest

from orchestrator.validation import validate_date, validate_ticker

TODAY = date(2026, 4, 13)


@pytest.mark.parametrize(
    "ticker",
    [
        pytest.param("AAPL", id="plain"),
        pytest.param("BRK-B", id="dash"),
        pytest.param("600519.SS", id="a-share"),
        pytest.param("^GSPC", id="index"),
        pytest.param("EURUSD=X", id="fx"),
        pytest.param("A" * 20, id="twenty-chars"),
    ],
)
def test_valid_tickers(ticker: str) -> None:
    assert validate_ticker(ticker) == ticker


@pytest.mark.parametrize(
    "ticker",
    [
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param("AA PL", id="whitespace"),
        pytest.param("AA/PL", id="slash"),
        pytest.param("AA\\PL", id="backslash"),
        pytest.param("..", id="dotdot"),
        pytest.param("A..B", id="inner-dotdot"),
        pytest.param("A" * 21, id="too-long"),
        pytest.param("AAPL;rm", id="semicolon"),
        pytest.param("AAPL_B", id="underscore"),
    ],
)
def test_invalid_tickers(ticker: str) -> None:
    with pytest.raises(ValueError, match="Ticker"):
        validate_ticker(ticker)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("2026-4-13", "YYYY-MM-DD", id="short"),
        pytest.param("2026/04/13", "YYYY-MM-DD", id="slashes"),
        pytest.param("../etc", "YYYY-MM-DD", id="traversal"),
        pytest.param("2026-02-30", "calendar date", id="no-such-day"),
        pytest.param("2026-04-14", "future", id="tomorrow"),
    ],
)
def test_invalid_dates(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_date(text, TODAY)


def test_today_is_valid() -> None:
    assert validate_date("2026-04-13", TODAY) == "2026-04-13"
