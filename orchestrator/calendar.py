"""Which days a market trades: NYSE holidays are computed, A-share holidays come from a JSON list.

The quant lane needs this to tell a weekend or holiday (`non_trading_day`) from a day the data
source simply failed to deliver (`stale_data`), and the synthetic market data uses it so that its
bars fall on the days the real exchange would have traded.
"""

from __future__ import annotations

import functools
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

Market = Literal["nyse", "a_share"]

DEFAULT_HOLIDAYS_PATH = Path(__file__).parent / "data" / "market_holidays.json"
A_SHARE_SUFFIXES = (".SS", ".SZ", ".SH")


def market_for(ticker: str) -> Market:
    return "a_share" if ticker.upper().endswith(A_SHARE_SUFFIXES) else "nyse"


def _observed(day: date) -> date:
    """A Saturday holiday is observed on Friday, a Sunday one on Monday."""
    if day.weekday() == 5:
        return day - timedelta(days=1)
    if day.weekday() == 6:
        return day + timedelta(days=1)
    return day


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    offset = (weekday - first.weekday()) % 7
    return first + timedelta(days=offset + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    last = date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def easter_sunday(year: int) -> date:
    """Anonymous Gregorian computus."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    weekday_fix = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * weekday_fix) // 451
    month, day = divmod(h + weekday_fix - 7 * m + 114, 31)
    return date(year, month, day + 1)


@functools.lru_cache(maxsize=64)
def nyse_holidays(year: int) -> frozenset[date]:
    days = {
        _observed(date(year, 1, 1)),
        _nth_weekday(year, 1, 0, 3),  # Martin Luther King Jr. Day
        _nth_weekday(year, 2, 0, 3),  # Presidents' Day
        easter_sunday(year) - timedelta(days=2),  # Good Friday
        _last_weekday(year, 5, 0),  # Memorial Day
        _observed(date(year, 7, 4)),
        _nth_weekday(year, 9, 0, 1),  # Labor Day
        _nth_weekday(year, 11, 3, 4),  # Thanksgiving
        _observed(date(year, 12, 25)),
    }
    if year >= 2022:
        days.add(_observed(date(year, 6, 19)))
    if _observed(date(year + 1, 1, 1)) == date(year, 12, 31):
        days.add(date(year, 12, 31))
    return frozenset(days)


@functools.lru_cache(maxsize=8)
def load_a_share_holidays(path: Path) -> frozenset[date]:
    """Read `{"a_share": {"<year>": ["YYYY-MM-DD", ...]}}`; a broken file is a clear ValueError."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        years = payload["a_share"]
        return frozenset(date.fromisoformat(text) for days in years.values() for text in days)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"Market holiday file {path} is unreadable or malformed: {exc}.") from exc


class MarketCalendar:
    """Trading-day rules for both markets; `holidays_path` overrides the shipped A-share list."""

    def __init__(self, holidays_path: str | Path | None = None) -> None:
        self.holidays_path = Path(holidays_path) if holidays_path else DEFAULT_HOLIDAYS_PATH

    def check(self) -> None:
        """Load the A-share list now, so a broken override fails at construction, not mid-run."""
        load_a_share_holidays(self.holidays_path)

    def is_trading_day(self, ticker: str, day: date | str) -> bool:
        when = date.fromisoformat(day) if isinstance(day, str) else day
        if when.weekday() >= 5:
            return False
        if market_for(ticker) == "a_share":
            return when not in load_a_share_holidays(self.holidays_path)
        return when not in nyse_holidays(when.year)


def is_trading_day(ticker: str, day: date | str, holidays_path: str | Path | None = None) -> bool:
    return MarketCalendar(holidays_path).is_trading_day(ticker, day)
