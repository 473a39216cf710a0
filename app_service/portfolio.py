"""PortfolioService and LiveSignalService: the use cases that call the kernel in-process.

Both run the synchronous kernel in worker threads so the event loop keeps serving. Positions are
priced with the kernel's market data (`latest_close`), never the network; a price that cannot
be found is null, as upstream's yfinance failure was. Live signals are the kernel's own NEW
per-signal shape; this layer only wraps them in the `/ws/orchestrator` envelope.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

from app_service.contracts import CONTRACT_VERSION
from app_service.persistence.portfolio_files import DEFAULT_ACCOUNT, PortfolioFiles
from app_service.recommendations import normalize
from orchestrator.config import OrchestratorConfig
from orchestrator.live import LiveMode
from orchestrator.market_data import latest_close, provider_from_config
from orchestrator.orchestrator import TradingOrchestrator

POSITION_CSV_COLUMNS = ("ticker", "shares", "cost_price", "purchase_date", "notes", "account")
PRICE_LOOKUP_CONCURRENCY = 5


def _pnl(price: float | None, cost: Any, shares: Any) -> tuple[float | None, float | None]:
    if price is None or not isinstance(cost, int | float) or not isinstance(shares, int | float):
        return None, None
    if cost == 0:
        return None, None
    return (price - cost) * shares, (price / cost - 1) * 100


class PortfolioService:
    def __init__(
        self,
        *,
        files: PortfolioFiles,
        environ: Mapping[str, str],
        compat_fields: bool,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.files = files
        self._environ = environ
        self._compat_fields = compat_fields
        self._today = today
        self._prices = asyncio.Semaphore(PRICE_LOOKUP_CONCURRENCY)

    async def list_positions(self, account: str | None) -> list[dict[str, Any]]:
        accounts = await asyncio.to_thread(self.files.accounts)
        names = [account] if account else list(accounts)
        rows: list[dict[str, Any]] = []
        for name in names:
            held = ((accounts.get(name) or {}).get("positions")) or {}
            for ticker, positions in held.items():
                rows.extend(self._position_row(ticker, p) for p in positions)
        prices = await asyncio.gather(*(self._price(row["ticker"]) for row in rows))
        for row, price in zip(rows, prices, strict=True):
            pnl, pct = _pnl(price, row["cost_price"], row["shares"])
            row.update(current_price=price, unrealized_pnl=pnl, unrealized_pnl_pct=pct)
        return rows

    @staticmethod
    def _position_row(ticker: str, position: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "ticker": ticker,
            "name": position.get("name", ticker),
            "account": position.get("account", DEFAULT_ACCOUNT),
            "shares": position.get("shares"),
            "cost_price": position.get("cost_price"),
            "current_price": None,
            "unrealized_pnl": None,
            "unrealized_pnl_pct": None,
            "purchase_date": position.get("purchase_date"),
            "notes": position.get("notes", ""),
            "position_id": position.get("position_id"),
        }

    async def _price(self, ticker: str) -> float | None:
        async with self._prices:
            return await asyncio.to_thread(self._lookup_price, ticker)

    def _lookup_price(self, ticker: str) -> float | None:
        try:
            provider = provider_from_config(OrchestratorConfig.from_environ(self._environ))
            return latest_close(provider, ticker, self._today())
        except (ValueError, OSError):
            return None

    async def positions_csv(self, account: str | None) -> str:
        accounts = await asyncio.to_thread(self.files.accounts)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(POSITION_CSV_COLUMNS)
        for name in [account] if account else list(accounts):
            held = ((accounts.get(name) or {}).get("positions")) or {}
            for ticker, positions in held.items():
                for p in positions:
                    row = self._position_row(ticker, p)
                    writer.writerow([row[c] for c in POSITION_CSV_COLUMNS])
        return buffer.getvalue()

    async def recommendations(self, date_filter: str | None) -> list[dict[str, Any]]:
        files = await asyncio.to_thread(self.files.recommendation_files, date_filter)
        records = []
        for day, path in files:
            record = await asyncio.to_thread(self.files.recommendation, day, path.stem)
            if record is not None:
                records.append(
                    normalize(record, ticker=path.stem, date=day, compat_fields=self._compat_fields)
                )
        return records

    async def recommendation(self, day: str, ticker: str) -> dict[str, Any] | None:
        record = await asyncio.to_thread(self.files.recommendation, day, ticker)
        if record is None:
            return None
        return normalize(record, ticker=ticker, date=day, compat_fields=self._compat_fields)


class LiveSignalService:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    async def run_live_signals(self, tickers: Sequence[str], day: str | None) -> dict[str, Any]:
        signals = await asyncio.to_thread(self._run, list(tickers), day)
        return {"contract_version": CONTRACT_VERSION, "signals": signals}

    def _run(self, tickers: list[str], day: str | None) -> list[dict[str, Any]]:
        config = OrchestratorConfig.from_environ(self._environ)
        live = LiveMode(TradingOrchestrator(config))
        return live.run_once(tickers, day)
