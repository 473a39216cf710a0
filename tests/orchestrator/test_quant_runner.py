"""The quant lane: confidence normalisation, the strategy, and every data-quality state."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from orchestrator.calendar import MarketCalendar
from orchestrator.faults import QuantFault
from orchestrator.market_data import CsvMarketData, SyntheticMarketData
from orchestrator.quant_runner import (
    BollingerParams,
    QuantRunner,
    band_direction,
    calc_confidence,
    replay_sharpe,
)


@pytest.mark.parametrize(
    ("sharpe", "max_sharpe", "expected"),
    [
        pytest.param(1.0, 0.0, 0.5, id="no-scale"),
        pytest.param(1.0, 2.0, 0.5, id="ratio"),
        pytest.param(3.0, 2.0, 1.0, id="clamped-high"),
        pytest.param(-1.0, 2.0, 0.0, id="clamped-low"),
        pytest.param(2.0, 2.0, 1.0, id="at-max"),
    ],
)
def test_calc_confidence(sharpe: float, max_sharpe: float, expected: float) -> None:
    assert calc_confidence(sharpe, max_sharpe) == expected


FLAT = [100.0 + (i % 2) for i in range(25)]


@pytest.mark.parametrize(
    ("closes", "direction"),
    [
        pytest.param([*FLAT, 80.0], 1, id="below-lower-band-buys"),
        pytest.param([*FLAT, 120.0], -1, id="above-upper-band-sells"),
        pytest.param([*FLAT, 100.5], 0, id="inside-band-holds"),
        pytest.param(FLAT[:10], 0, id="too-short"),
    ],
)
def test_band_direction(closes: list[float], direction: int) -> None:
    assert band_direction(closes, BollingerParams()) == direction


def test_replay_sharpe_rewards_a_rebound_and_is_zero_without_trades() -> None:
    rebound = [*FLAT, 80.0, 90.0, 95.0, 99.0, 101.0]
    assert replay_sharpe(rebound, BollingerParams()) > 0
    assert replay_sharpe(FLAT, BollingerParams()) == 0.0


def _write(folder: Path, ticker: str, header: str, days: list[date]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    columns = header.split(",")
    rows = [",".join([d.isoformat()] + ["100"] * (len(columns) - 1)) for d in days]
    (folder / f"{ticker}.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")


def _weekdays(end: date, count: int = 40) -> list[date]:
    days: list[date] = []
    day = end
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day -= timedelta(days=1)
    return sorted(days)


def _runner(folder: Path) -> QuantRunner:
    return QuantRunner(CsvMarketData(folder), MarketCalendar())


FULL = "Date,Open,High,Low,Close,Volume"


@pytest.mark.parametrize(
    ("ticker", "day", "header", "last", "code", "quality"),
    [
        pytest.param(
            "AAPL", "2026-04-13", FULL, None, "quant_no_data", None, id="empty-on-trading-day"
        ),
        pytest.param(
            "600519.SS",
            "2026-10-01",
            FULL,
            None,
            "non_trading_day",
            {"state": "non_trading_day", "requested_date": "2026-10-01"},
            id="empty-on-a-share-holiday",
        ),
        pytest.param(
            "AAPL",
            "2026-04-03",
            FULL,
            date(2026, 4, 2),
            "non_trading_day",
            {
                "state": "non_trading_day",
                "requested_date": "2026-04-03",
                "last_available_date": "2026-04-02",
            },
            id="nyse-good-friday",
        ),
        pytest.param(
            "AAPL",
            "2026-04-11",
            FULL,
            date(2026, 4, 10),
            "non_trading_day",
            {
                "state": "non_trading_day",
                "requested_date": "2026-04-11",
                "last_available_date": "2026-04-10",
            },
            id="weekend",
        ),
        pytest.param(
            "AAPL",
            "2026-07-03",
            FULL,
            date(2026, 7, 2),
            "non_trading_day",
            {
                "state": "non_trading_day",
                "requested_date": "2026-07-03",
                "last_available_date": "2026-07-02",
            },
            id="july4-observed",
        ),
        pytest.param(
            "AAPL",
            "2026-04-13",
            FULL,
            date(2026, 4, 10),
            "stale_data",
            {
                "state": "stale_data",
                "requested_date": "2026-04-13",
                "last_available_date": "2026-04-10",
            },
            id="missing-trading-day",
        ),
        pytest.param(
            "AAPL",
            "2026-04-13",
            "Date,Open,Low,Close,Volume",
            date(2026, 4, 13),
            "partial_data",
            {"state": "partial_data", "missing_fields": ["high"]},
            id="missing-high-column",
        ),
    ],
)
def test_data_quality_states(
    tmp_path: Path,
    ticker: str,
    day: str,
    header: str,
    last: date | None,
    code: str,
    quality: dict[str, object] | None,
) -> None:
    _write(tmp_path, ticker, header, _weekdays(last) if last else [])
    sig = _runner(tmp_path).get_signal(ticker, day)
    assert sig.degraded
    assert sig.reason_code == code
    assert (sig.direction, sig.confidence) == (0, 0.0)
    assert sig.metadata.get("data_quality") == quality


def test_no_data_metadata_has_the_window(tmp_path: Path) -> None:
    sig = _runner(tmp_path).get_signal("AAPL", "2026-04-13")
    assert sig.metadata["start_date"] == "2026-02-12"
    assert sig.metadata["end_date"] == "2026-04-14"


def test_success_metadata() -> None:
    runner = QuantRunner(SyntheticMarketData(), MarketCalendar(), max_sharpe=2.0)
    sig = runner.get_signal("AAPL", "2026-04-13")
    assert not sig.degraded
    assert sig.source == "quant"
    assert sig.metadata["data_quality"] == {
        "state": "ok",
        "requested_date": "2026-04-13",
        "last_available_date": "2026-04-13",
    }
    assert sig.metadata["params"]["period"] == 20
    assert sig.metadata["market_data"] == "synthetic"
    expected = calc_confidence(sig.metadata["sharpe_ratio"], 2.0)
    assert sig.confidence == pytest.approx(expected, abs=1e-5)
    assert runner.get_signal("AAPL", "2026-04-13").confidence == sig.confidence


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        pytest.param("no_data", "quant_no_data", id="no-data"),
        pytest.param("partial", "partial_data", id="partial"),
        pytest.param("stale", "stale_data", id="stale"),
    ],
)
def test_fault_switches(fault: QuantFault, code: str) -> None:
    runner = QuantRunner(SyntheticMarketData(), MarketCalendar(), fault=fault)
    assert runner.get_signal("AAPL", "2026-04-13").reason_code == code


def test_fail_fault_raises() -> None:
    runner = QuantRunner(SyntheticMarketData(), MarketCalendar(), fault="fail")
    with pytest.raises(RuntimeError, match="TA_FAULT_QUANT=fail"):
        runner.get_signal("AAPL", "2026-04-13")
