"""Daily OHLCV sources for both lanes: SYNTHETIC bars (the default) or CSV files.

There is deliberately no live market-data download: both backends must reach the same decision for
the same ticker and date on any machine, so the default source is synthetic — generated from a
sha256 of the ticker and the date, never from the clock, `random` or `hash()`. It is not market
data and must not be presented as such. `CsvMarketData` reads real exports when a person has them.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Protocol

from orchestrator.calendar import MarketCalendar
from orchestrator.config import OrchestratorConfig

OHLC = ("open", "high", "low", "close")


@dataclass(frozen=True, slots=True)
class PriceHistory:
    """Bars in date order; `columns` maps a lower-cased column name to one value per date."""

    dates: tuple[date, ...] = ()
    columns: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    source: str = "unknown"

    @property
    def empty(self) -> bool:
        return not self.dates

    def missing_fields(self) -> list[str]:
        return sorted(name for name in OHLC if name not in self.columns)

    def closes(self) -> tuple[float, ...]:
        return self.columns.get("close", ())

    def without_column(self, name: str) -> PriceHistory:
        kept = {key: values for key, values in self.columns.items() if key != name}
        return PriceHistory(self.dates, kept, self.source)

    def without_date(self, day: date) -> PriceHistory:
        keep = [i for i, d in enumerate(self.dates) if d != day]
        return PriceHistory(
            tuple(self.dates[i] for i in keep),
            {key: tuple(values[i] for i in keep) for key, values in self.columns.items()},
            self.source,
        )


class MarketDataProvider(Protocol):
    """Daily bars for `ticker` with start <= date < end (end exclusive, like yfinance)."""

    def history(self, ticker: str, start: date, end: date) -> PriceHistory: ...


def _unit(ticker: str, day: date, salt: str) -> float:
    """A stable pseudo-random number in [0, 1) from sha256; same inputs, same value, anywhere."""
    digest = hashlib.sha256(f"{ticker.upper()}|{day.isoformat()}|{salt}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _triangle(phase: float) -> float:
    """A triangle wave in [-1, 1]: smooth cycles from plain arithmetic, so no libm differences."""
    frac = phase - int(phase) if phase >= 0 else phase - int(phase) + 1
    return 4 * frac - 1 if frac < 0.5 else 3 - 4 * frac


class SyntheticMarketData:
    """SYNTHETIC daily OHLCV seeded by the ticker: a base price, two cycles and daily noise.

    Each bar is a pure function of (ticker, day), independent of the requested window, so any two
    windows agree on the days they share. Bars exist only on the ticker's trading days.
    """

    def __init__(self, calendar: MarketCalendar | None = None) -> None:
        self.calendar = calendar or MarketCalendar()

    def _bar(self, ticker: str, day: date) -> tuple[float, float, float, float, float]:
        epoch = date(2000, 1, 1)
        base = 20 + 380 * _unit(ticker, epoch, "base")
        slow_period = 40 + 80 * _unit(ticker, epoch, "slow")
        fast_period = 9 + 12 * _unit(ticker, epoch, "fast")
        t = (day - epoch).days
        level = 1 + 0.12 * _triangle(t / slow_period + _unit(ticker, epoch, "slow-phase"))
        level += 0.05 * _triangle(t / fast_period + _unit(ticker, epoch, "fast-phase"))
        close = base * level * (1 + 0.03 * (_unit(ticker, day, "noise") - 0.5))
        open_ = close * (1 + 0.02 * (_unit(ticker, day, "open") - 0.5))
        high = max(open_, close) * (1 + 0.01 * _unit(ticker, day, "high"))
        low = min(open_, close) * (1 - 0.01 * _unit(ticker, day, "low"))
        volume = float(int(1_000_000 + 9_000_000 * _unit(ticker, day, "volume")))
        return (round(open_, 4), round(high, 4), round(low, 4), round(close, 4), volume)

    def history(self, ticker: str, start: date, end: date) -> PriceHistory:
        days: list[date] = []
        rows: list[tuple[float, float, float, float, float]] = []
        day = start
        while day < end:
            if self.calendar.is_trading_day(ticker, day):
                days.append(day)
                rows.append(self._bar(ticker, day))
            day += timedelta(days=1)
        names = (*OHLC, "volume")
        columns = {name: tuple(row[i] for row in rows) for i, name in enumerate(names)}
        return PriceHistory(tuple(days), columns, "synthetic")


class CsvMarketData:
    """Reads `<folder>/<TICKER>.csv` with a Date column and any of Open/High/Low/Close/Volume."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def history(self, ticker: str, start: date, end: date) -> PriceHistory:
        path = self.folder / f"{ticker}.csv"
        if not path.is_file():
            return PriceHistory(source="csv")
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            names = {name.strip().lower(): name for name in reader.fieldnames or ()}
            if "date" not in names:
                raise ValueError(f"{path} has no Date column.")
            wanted = [name for name in (*OHLC, "volume") if name in names]
            rows: list[tuple[date, list[float]]] = []
            for row in reader:
                day = date.fromisoformat(row[names["date"]].strip()[:10])
                if start <= day < end:
                    rows.append((day, [float(row[names[name]]) for name in wanted]))
        rows.sort(key=lambda item: item[0])
        columns = {name: tuple(values[i] for _, values in rows) for i, name in enumerate(wanted)}
        return PriceHistory(tuple(day for day, _ in rows), columns, "csv")


def provider_from_config(config: OrchestratorConfig) -> MarketDataProvider:
    if config.market_data_dir:
        return CsvMarketData(config.market_data_dir)
    return SyntheticMarketData(MarketCalendar(config.market_holidays_path))


def latest_close(provider: MarketDataProvider, ticker: str, day: date | str) -> float | None:
    """Close on `day` or on the last trading day before it (two weeks back at most)."""
    when = date.fromisoformat(day) if isinstance(day, str) else day
    bars = provider.history(ticker, when - timedelta(days=14), when + timedelta(days=1))
    closes = bars.closes()
    return closes[-1] if closes else None
