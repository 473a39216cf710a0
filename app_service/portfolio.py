"""PortfolioService: watchlist, accounts, positions and recommendation use cases.

The file formats belong to the gateway; this layer adds what the routes must not compute:
prices from the kernel's market data (`latest_close`, never the network; a price that cannot
be found is null, as upstream's yfinance failure was), P&L math, the positions CSV, and the
normalization every recommendation goes through on its way out.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, ParamSpec, TypeVar

from app_service.persistence.portfolio_files import DEFAULT_ACCOUNT
from app_service.ports import PortfolioGateway
from app_service.recommendations import normalize
from orchestrator.config import OrchestratorConfig
from orchestrator.market_data import latest_close, provider_from_config

POSITION_CSV_COLUMNS = ("ticker", "shares", "cost_price", "purchase_date", "notes", "account")
PRICE_LOOKUP_CONCURRENCY = 5
P = ParamSpec("P")
T = TypeVar("T")


def _pnl(price: float | None, cost: Any, shares: Any) -> tuple[float | None, float | None]:
    numbers = isinstance(cost, int | float) and isinstance(shares, int | float)
    if price is None or not numbers or cost == 0:
        return None, None
    return (price - cost) * shares, (price / cost - 1) * 100


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


class PortfolioService:
    def __init__(
        self,
        *,
        gateway: PortfolioGateway,
        environ: Mapping[str, str],
        compat_fields: bool,
        today: Callable[[], date] = date.today,
    ) -> None:
        self._gateway = gateway
        self._environ = environ
        self._compat_fields = compat_fields
        self._today = today
        self._prices = asyncio.Semaphore(PRICE_LOOKUP_CONCURRENCY)

    @staticmethod
    async def _io(call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await asyncio.to_thread(call, *args, **kwargs)

    # ------------------------------------------------------------------ watchlist/accounts
    async def watchlist(self) -> list[dict[str, Any]]:
        return await self._io(self._gateway.watchlist)

    async def add_watch(self, ticker: str, name: str | None) -> dict[str, Any]:
        added_at = self._today().isoformat()
        return await self._io(self._gateway.add_watch, ticker, name or ticker, added_at)

    async def remove_watch(self, ticker: str) -> None:
        await self._io(self._gateway.remove_watch, ticker)

    async def account_names(self) -> list[str]:
        return list(await self._io(self._gateway.accounts))

    async def add_account(self, name: str) -> None:
        await self._io(self._gateway.add_account, name)

    async def remove_account(self, name: str) -> None:
        await self._io(self._gateway.remove_account, name)

    # ------------------------------------------------------------------ positions
    async def add_position(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._io(self._gateway.add_position, body)

    async def remove_position(self, ticker: str, position_id: str, account: str | None) -> None:
        await self._io(self._gateway.remove_position, ticker, position_id, account)

    async def _rows(self, account: str | None) -> list[dict[str, Any]]:
        accounts = await self._io(self._gateway.accounts)
        rows: list[dict[str, Any]] = []
        for name in [account] if account else list(accounts):
            held = (accounts.get(name) or {}).get("positions") or {}
            for ticker, positions in held.items():
                rows.extend(_position_row(ticker, p) for p in positions)
        return rows

    async def list_positions(self, account: str | None) -> list[dict[str, Any]]:
        rows = await self._rows(account)
        prices = await asyncio.gather(*(self._price(row["ticker"]) for row in rows))
        for row, price in zip(rows, prices, strict=True):
            pnl, pct = _pnl(price, row["cost_price"], row["shares"])
            row.update(current_price=price, unrealized_pnl=pnl, unrealized_pnl_pct=pct)
        return rows

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
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(POSITION_CSV_COLUMNS)
        for row in await self._rows(account):
            writer.writerow([row[c] for c in POSITION_CSV_COLUMNS])
        return buffer.getvalue()

    # ------------------------------------------------------------------ recommendations
    async def recommendations(self, date_filter: str | None) -> list[dict[str, Any]]:
        records = []
        for day, path in await self._io(self._gateway.recommendation_files, date_filter):
            record = await self.recommendation(day, path.stem)
            if record is not None:
                records.append(record)
        return records

    async def recommendation(self, day: str, ticker: str) -> dict[str, Any] | None:
        record = await self._io(self._gateway.recommendation, day, ticker)
        if record is None:
            return None
        return normalize(record, ticker=ticker, date=day, compat_fields=self._compat_fields)
