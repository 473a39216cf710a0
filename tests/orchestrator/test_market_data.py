"""Synthetic and CSV market data, and `latest_close` (used for positions' current price)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from orchestrator.config import OrchestratorConfig
from orchestrator.market_data import (
    CsvMarketData,
    SyntheticMarketData,
    latest_close,
    provider_from_config,
)


def test_synthetic_bars_fall_on_trading_days_only() -> None:
    bars = SyntheticMarketData().history("AAPL", date(2026, 3, 30), date(2026, 4, 7))
    assert bars.dates == (
        date(2026, 3, 30),
        date(2026, 3, 31),
        date(2026, 4, 1),
        date(2026, 4, 2),
        date(2026, 4, 6),
    )
    assert bars.source == "synthetic"
    assert bars.missing_fields() == []
    for i in range(len(bars.dates)):
        low, high = bars.columns["low"][i], bars.columns["high"][i]
        assert low <= bars.columns["open"][i] <= high
        assert low <= bars.columns["close"][i] <= high


def test_synthetic_bars_do_not_depend_on_the_window() -> None:
    provider = SyntheticMarketData()
    wide = provider.history("MSFT", date(2026, 1, 1), date(2026, 4, 14))
    narrow = provider.history("MSFT", date(2026, 4, 1), date(2026, 4, 14))
    assert wide.closes()[-len(narrow.closes()) :] == narrow.closes()
    assert SyntheticMarketData().history("MSFT", date(2026, 4, 1), date(2026, 4, 14)) == narrow


def test_synthetic_bars_differ_by_ticker() -> None:
    provider = SyntheticMarketData()
    a = provider.history("AAPL", date(2026, 4, 1), date(2026, 4, 14)).closes()
    b = provider.history("MSFT", date(2026, 4, 1), date(2026, 4, 14)).closes()
    assert a != b


def test_synthetic_golden_close() -> None:
    """Pins the generator: a change here changes every backend's decision."""
    assert latest_close(SyntheticMarketData(), "AAPL", "2026-04-13") == 396.1489


def _write_csv(folder: Path, ticker: str, header: str, rows: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{ticker}.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")


def test_csv_reads_the_window_sorted(tmp_path: Path) -> None:
    _write_csv(
        tmp_path,
        "AAPL",
        "Date,Open,High,Low,Close,Volume",
        [
            "2026-04-10,10,12,9,11,100",
            "2026-04-08,9,10,8,9.5,100",
            "2026-04-09,9.5,11,9,10,100",
            "2026-04-13,11,13,10,12,100",
        ],
    )
    bars = CsvMarketData(tmp_path).history("AAPL", date(2026, 4, 9), date(2026, 4, 13))
    assert bars.dates == (date(2026, 4, 9), date(2026, 4, 10))
    assert bars.closes() == (10.0, 11.0)
    assert bars.source == "csv"


def test_csv_missing_file_is_empty_and_missing_column_is_reported(tmp_path: Path) -> None:
    assert CsvMarketData(tmp_path).history("NOPE", date(2026, 1, 1), date(2026, 5, 1)).empty
    _write_csv(tmp_path, "X", "Date,Open,Low,Close", ["2026-04-10,1,1,1"])
    bars = CsvMarketData(tmp_path).history("X", date(2026, 4, 1), date(2026, 5, 1))
    assert bars.missing_fields() == ["high"]


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        pytest.param("2026-04-10", 11.0, id="on-the-day"),
        pytest.param("2026-04-12", 11.0, id="weekend-uses-friday"),
        pytest.param("2026-04-13", 12.0, id="monday"),
        pytest.param("2026-01-01", None, id="no-bars"),
    ],
)
def test_latest_close_csv(tmp_path: Path, day: str, expected: float | None) -> None:
    _write_csv(
        tmp_path,
        "AAPL",
        "Date,Open,High,Low,Close,Volume",
        ["2026-04-09,9.5,11,9,10,100", "2026-04-10,10,12,9,11,100", "2026-04-13,11,13,10,12,1"],
    )
    assert latest_close(CsvMarketData(tmp_path), "AAPL", day) == expected


def test_provider_from_config(tmp_path: Path) -> None:
    assert isinstance(provider_from_config(OrchestratorConfig()), SyntheticMarketData)
    csv_provider = provider_from_config(OrchestratorConfig(market_data_dir=str(tmp_path)))
    assert isinstance(csv_provider, CsvMarketData)
    assert csv_provider.folder == tmp_path
