"""Indicators over daily closes, shared by the quant strategy and the rule-based analyst.

Plain arithmetic (and `math.sqrt`, which IEEE rounds exactly) keeps every value bit-identical on
any machine, which the cross-backend parity depends on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from orchestrator.market_data import PriceHistory


@dataclass(frozen=True, slots=True)
class Band:
    middle: float
    upper: float
    lower: float

    def position(self, close: float) -> float:
        """0 at the lower band, 1 at the upper band; 0.5 when the band has no width."""
        width = self.upper - self.lower
        return (close - self.lower) / width if width > 0 else 0.5


def bollinger(closes: Sequence[float], period: int = 20, num_std: float = 2.0) -> Band | None:
    """The band over the last `period` closes (sample standard deviation), or None if too short."""
    if period < 2 or len(closes) < period:
        return None
    window = closes[-period:]
    mean = sum(window) / period
    std = math.sqrt(sum((value - mean) ** 2 for value in window) / (period - 1))
    return Band(mean, mean + num_std * std, mean - num_std * std)


def rsi(closes: Sequence[float], period: int = 14) -> float | None:
    """Cutler's RSI (simple averages) over the last `period` changes."""
    if len(closes) <= period:
        return None
    changes = [b - a for a, b in zip(closes[-period - 1 : -1], closes[-period:], strict=True)]
    gains = sum(change for change in changes if change > 0)
    losses = -sum(change for change in changes if change < 0)
    if losses == 0:
        return 100.0 if gains > 0 else 50.0
    return 100 - 100 / (1 + gains / losses)


def pct_change(closes: Sequence[float], bars: int) -> float | None:
    if len(closes) <= bars or closes[-bars - 1] == 0:
        return None
    return (closes[-1] / closes[-bars - 1] - 1) * 100


@dataclass(frozen=True, slots=True)
class MarketFeatures:
    """What the analyst looks at; rounded so reports and caches print the same digits."""

    last_date: str
    last_close: float
    bars: int
    trend_20d_pct: float | None
    momentum_5d_pct: float | None
    rsi_14: float | None
    band_position: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def compute_features(history: PriceHistory) -> MarketFeatures:
    closes = history.closes()
    if len(closes) < 2:
        raise ValueError(f"not enough market data for an analysis ({len(closes)} closes)")
    band = bollinger(closes)
    return MarketFeatures(
        last_date=history.dates[-1].isoformat(),
        last_close=round(closes[-1], 4),
        bars=len(closes),
        trend_20d_pct=_rounded(pct_change(closes, 20)),
        momentum_5d_pct=_rounded(pct_change(closes, 5)),
        rsi_14=_rounded(rsi(closes)),
        band_position=_rounded(band.position(closes[-1]) if band else None),
    )


@dataclass(frozen=True, slots=True)
class Observations:
    """Indicator readings sorted into the bull and the bear case, in a fixed order."""

    bullish: tuple[str, ...]
    bearish: tuple[str, ...]

    @property
    def score(self) -> int:
        return len(self.bullish) - len(self.bearish)


def observe(features: MarketFeatures) -> Observations:
    """Fixed thresholds: trend ±3 %, momentum ±1.5 %, RSI 30/70, band position 0.1/0.9."""
    bullish: list[str] = []
    bearish: list[str] = []
    trend, momentum = features.trend_20d_pct, features.momentum_5d_pct
    if trend is not None and trend > 3:
        bullish.append(f"20-day trend is up {trend:.2f}%")
    elif trend is not None and trend < -3:
        bearish.append(f"20-day trend is down {-trend:.2f}%")
    if momentum is not None and momentum > 1.5:
        bullish.append(f"5-day momentum is positive ({momentum:+.2f}%)")
    elif momentum is not None and momentum < -1.5:
        bearish.append(f"5-day momentum is negative ({momentum:+.2f}%)")
    if features.rsi_14 is not None and features.rsi_14 < 30:
        bullish.append(f"RSI(14) {features.rsi_14:.1f} is oversold")
    elif features.rsi_14 is not None and features.rsi_14 > 70:
        bearish.append(f"RSI(14) {features.rsi_14:.1f} is overbought")
    band = features.band_position
    if band is not None and band < 0.1:
        bullish.append(f"close sits at the lower Bollinger band ({band:.0%} of its width)")
    elif band is not None and band > 0.9:
        bearish.append(f"close sits at the upper Bollinger band ({band:.0%} of its width)")
    return Observations(tuple(bullish), tuple(bearish))


def describe(features: MarketFeatures) -> str:
    """One line with every indicator, for reports and prompts."""

    def show(value: float | None, pattern: str) -> str:
        return "n/a" if value is None else pattern.format(value)

    return (
        f"close {features.last_close:.2f} on {features.last_date} ({features.bars} bars); "
        f"20-day trend {show(features.trend_20d_pct, '{:+.2f}%')}; "
        f"5-day momentum {show(features.momentum_5d_pct, '{:+.2f}%')}; "
        f"RSI(14) {show(features.rsi_14, '{:.1f}')}; "
        f"Bollinger position {show(features.band_position, '{:.0%}')}"
    )
