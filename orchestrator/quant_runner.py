"""The quant lane: a Bollinger band strategy over the last 60 calendar days of bars.

Upstream loaded tuned parameters and the best sharpe from a research database; this kernel has no
such database, so the parameters are the strategy defaults and the confidence is the sharpe ratio
of a deterministic replay of the strategy over the same window, normalised by `quant_max_sharpe`.

Direction comes from the last bar's position against the band (close below the lower band → +1,
above the upper band → −1, else 0): a mean-reversion call, reproducible from the bars alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from orchestrator.calendar import MarketCalendar
from orchestrator.contracts import ReasonCode, Signal, build_error_signal
from orchestrator.faults import InjectedFault, QuantFault
from orchestrator.features import bollinger
from orchestrator.market_data import MarketDataProvider, PriceHistory

WINDOW_DAYS = 60
TRADING_DAYS_PER_YEAR = 252


@dataclass(frozen=True, slots=True)
class BollingerParams:
    period: int = 20
    num_std: float = 2.0
    stop_loss_pct: float = 0.05
    take_profit_pct: float = 0.15


def calc_confidence(sharpe: float, max_sharpe: float) -> float:
    """sharpe / max_sharpe clamped to [0, 1]; 0.5 when there is no scale (max_sharpe == 0)."""
    if max_sharpe == 0:
        return 0.5
    return min(max(sharpe / max_sharpe, 0.0), 1.0)


def band_direction(closes: Sequence[float], params: BollingerParams) -> int:
    band = bollinger(closes, params.period, params.num_std)
    if band is None:
        return 0
    if closes[-1] < band.lower:
        return 1
    if closes[-1] > band.upper:
        return -1
    return 0


def replay_sharpe(closes: Sequence[float], params: BollingerParams) -> float:
    """Annualised sharpe of a long-only replay: enter below the lower band, leave above the
    middle band or on the stop-loss / take-profit; 0.0 when returns have no spread."""
    returns: list[float] = []
    entry: float | None = None
    for i in range(1, len(closes)):
        returns.append(closes[i] / closes[i - 1] - 1 if entry is not None else 0.0)
        band = bollinger(closes[: i + 1], params.period, params.num_std)
        if band is None:
            continue
        close = closes[i]
        if entry is None and close < band.lower:
            entry = close
        elif entry is not None:
            change = close / entry - 1
            if (
                close > band.middle
                or change <= -params.stop_loss_pct
                or change >= params.take_profit_pct
            ):
                entry = None
    if len(returns) < 2:
        return 0.0
    mean = sum(returns) / len(returns)
    variance = sum((r - mean) ** 2 for r in returns) / (len(returns) - 1)
    if variance <= 0:
        return 0.0
    return mean / math.sqrt(variance) * math.sqrt(TRADING_DAYS_PER_YEAR)


class QuantRunner:
    """Turns bars into a quant Signal, or a degraded one that says what was wrong with the data."""

    def __init__(
        self,
        provider: MarketDataProvider,
        calendar: MarketCalendar,
        *,
        max_sharpe: float = 2.0,
        params: BollingerParams | None = None,
        fault: QuantFault | None = None,
    ) -> None:
        calendar.check()
        self.provider = provider
        self.calendar = calendar
        self.max_sharpe = max_sharpe
        self.params = params or BollingerParams()
        self.fault = fault

    def _download(self, ticker: str, day: date) -> PriceHistory:
        if self.fault == "fail":
            raise InjectedFault("quant lane failed (TA_FAULT_QUANT=fail)")
        history = self.provider.history(
            ticker, day - timedelta(days=WINDOW_DAYS), day + timedelta(days=1)
        )
        if self.fault == "no_data":
            return PriceHistory(source=history.source)
        if self.fault == "partial":
            return history.without_column("high")
        if self.fault == "stale":
            return history.without_date(day)
        return history

    def get_signal(self, ticker: str, date_text: str) -> Signal:
        day = date.fromisoformat(date_text)
        history = self._download(ticker, day)
        window = {
            "start_date": (day - timedelta(days=WINDOW_DAYS)).isoformat(),
            "end_date": (day + timedelta(days=1)).isoformat(),
        }
        trading_day = self.calendar.is_trading_day(ticker, day)
        if history.empty:
            if not trading_day:
                return build_error_signal(
                    ticker,
                    "quant",
                    ReasonCode.NON_TRADING_DAY,
                    f"{date_text} is not a trading day for {ticker}",
                    {**window, "data_quality": _quality("non_trading_day", date_text)},
                )
            return build_error_signal(
                ticker, "quant", ReasonCode.QUANT_NO_DATA, f"no price data for {ticker}", window
            )
        missing = history.missing_fields()
        if missing:
            return build_error_signal(
                ticker,
                "quant",
                ReasonCode.PARTIAL_DATA,
                f"price data for {ticker} lacks {', '.join(missing)}",
                {"data_quality": {"state": "partial_data", "missing_fields": missing}},
            )
        last_available = history.dates[-1].isoformat()
        if history.dates[-1] != day:
            code = ReasonCode.STALE_DATA if trading_day else ReasonCode.NON_TRADING_DAY
            return build_error_signal(
                ticker,
                "quant",
                code,
                f"no bar for {date_text}; last bar is {last_available}",
                {"data_quality": _quality(str(code), date_text, last_available)},
            )
        closes = history.closes()
        sharpe = replay_sharpe(closes, self.params)
        return Signal(
            ticker=ticker,
            direction=band_direction(closes, self.params),
            confidence=calc_confidence(sharpe, self.max_sharpe),
            source="quant",
            metadata={
                "strategy": "bollinger",
                "params": {
                    "period": self.params.period,
                    "num_std": self.params.num_std,
                    "stop_loss_pct": self.params.stop_loss_pct,
                    "take_profit_pct": self.params.take_profit_pct,
                },
                "sharpe_ratio": round(sharpe, 6),
                "max_sharpe": self.max_sharpe,
                "market_data": history.source,
                "bars": len(closes),
                "data_quality": _quality("ok", date_text, last_available),
            },
        )


def _quality(state: str, requested: str, last_available: str | None = None) -> dict[str, Any]:
    quality: dict[str, Any] = {"state": state, "requested_date": requested}
    if last_available is not None:
        quality["last_available_date"] = last_available
    return quality
