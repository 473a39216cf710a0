"""`/api/portfolio/*` except the batch analysis: watchlist, accounts, positions, recommendations.

Route-local as upstream: each handler validates like FastAPI's `body: dict`, checks the key, and
calls the locked file store. Upstream left some missing body keys uncaught (a 500), and turned
every position error into a 400 with `str(exc)`; both are kept because the proxy diffs them.
"""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import datetime
from typing import Any

from aiohttp import web

from legacy_backend.access import require_auth
from legacy_backend.errors import ApiError, internal_error, json_response
from legacy_backend.kernel import KERNEL
from legacy_backend.paths import has_traversal
from legacy_backend.portfolio_store import DEFAULT_ACCOUNT, PortfolioConflict, PortfolioStore
from legacy_backend.reports import csv_response
from legacy_backend.state import RUNTIME
from legacy_backend.validation import read_dict_body, read_page

PRICE_CONCURRENCY = 5
POSITION_CSV_COLUMNS = ("ticker", "shares", "cost_price", "purchase_date", "notes", "account")


def _store(request: web.Request) -> PortfolioStore:
    return request.app[RUNTIME].portfolio


def _ticker_from_body(body: dict[str, Any]) -> str:
    ticker = body["ticker"]
    if not isinstance(ticker, str):
        item = {
            "type": "string_type",
            "loc": ["body", "ticker"],
            "msg": "Input should be a valid string",
            "input": ticker,
        }
        raise ApiError(422, [item])
    if has_traversal(ticker):
        raise ApiError(404, "Not Found")
    return ticker


# ------------------------------------------------------------------ watchlist


async def get_watchlist(request: web.Request) -> web.Response:
    require_auth(request)
    return json_response({"watchlist": await asyncio.to_thread(_store(request).watchlist)})


async def add_watchlist(request: web.Request) -> web.Response:
    body = await read_dict_body(request)
    require_auth(request)
    if "ticker" not in body:
        return internal_error("watchlist_body_missing_key", key="ticker")
    ticker = _ticker_from_body(body)
    name = body.get("name") or ticker
    added_at = datetime.now().strftime("%Y-%m-%d")
    try:
        entry = await asyncio.to_thread(_store(request).add_to_watchlist, ticker, name, added_at)
    except PortfolioConflict as exc:
        raise ApiError(400, str(exc)) from None
    return json_response(entry)


async def remove_watchlist(request: web.Request) -> web.Response:
    require_auth(request)
    removed = await asyncio.to_thread(
        _store(request).remove_from_watchlist, request.match_info["ticker"]
    )
    if not removed:
        raise ApiError(404, "Ticker not found in watchlist")
    return json_response({"ok": True})


# ------------------------------------------------------------------ accounts


async def get_accounts(request: web.Request) -> web.Response:
    require_auth(request)
    return json_response({"accounts": await asyncio.to_thread(_store(request).account_names)})


async def create_account(request: web.Request) -> web.Response:
    body = await read_dict_body(request)
    require_auth(request)
    if "account_name" not in body:
        return internal_error("account_body_missing_key", key="account_name")
    name = body["account_name"]
    try:
        await asyncio.to_thread(_store(request).create_account, name)
    except PortfolioConflict as exc:
        raise ApiError(400, str(exc)) from None
    return json_response({"account_name": name})


async def delete_account(request: web.Request) -> web.Response:
    require_auth(request)
    deleted = await asyncio.to_thread(
        _store(request).delete_account, request.match_info["account_name"]
    )
    if not deleted:
        raise ApiError(404, "Account not found")
    return json_response({"ok": True})


# ------------------------------------------------------------------ positions


def _pnl(price: float | None, cost: Any, shares: Any) -> tuple[float | None, float | None]:
    numbers = (int, float)
    if (
        price is None
        or not isinstance(cost, numbers)
        or not isinstance(shares, numbers)
        or cost == 0
    ):
        return None, None
    return (price - cost) * shares, (price / cost - 1) * 100


def position_view(ticker: str, position: dict[str, Any], price: float | None) -> dict[str, Any]:
    pnl, pct = _pnl(price, position.get("cost_price"), position.get("shares"))
    return {
        "ticker": ticker,
        "name": position.get("name", ticker),
        "account": position.get("account", DEFAULT_ACCOUNT),
        "shares": position.get("shares"),
        "cost_price": position.get("cost_price"),
        "current_price": price,
        "unrealized_pnl": pnl,
        "unrealized_pnl_pct": pct,
        "purchase_date": position.get("purchase_date"),
        "notes": position.get("notes"),
        "position_id": position.get("position_id"),
    }


async def get_positions(request: web.Request) -> web.Response:
    require_auth(request)
    pairs = await asyncio.to_thread(_store(request).positions, request.query.get("account") or None)
    kernel = request.app[KERNEL]
    gate = asyncio.Semaphore(PRICE_CONCURRENCY)

    async def price_of(ticker: str) -> float | None:
        async with gate:
            return await kernel.latest_price(ticker)

    tickers = sorted({ticker for ticker, _ in pairs})
    prices = dict(zip(tickers, await asyncio.gather(*(price_of(t) for t in tickers)), strict=True))
    views = [position_view(ticker, position, prices[ticker]) for ticker, position in pairs]
    return json_response({"positions": views})


async def add_position(request: web.Request) -> web.Response:
    body = await read_dict_body(request)
    require_auth(request)
    try:
        position = await asyncio.to_thread(
            _store(request).add_position,
            body["ticker"],
            body["shares"],
            body["cost_price"],
            body.get("purchase_date"),
            body.get("notes", ""),
            body.get("account", DEFAULT_ACCOUNT),
        )
    except Exception as exc:  # LEGACY: any failure, a missing key included, is a 400 str(exc)
        raise ApiError(400, str(exc)) from None
    return json_response(position)


async def remove_position(request: web.Request) -> web.Response:
    require_auth(request)
    removed = await asyncio.to_thread(
        _store(request).remove_position,
        request.match_info["ticker"],
        request.query.get("position_id"),
        request.query.get("account"),
    )
    if not removed:
        raise ApiError(404, "Position not found")
    return json_response({"ok": True})


async def export_positions(request: web.Request) -> web.Response:
    require_auth(request)
    pairs = await asyncio.to_thread(_store(request).positions, request.query.get("account") or None)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(POSITION_CSV_COLUMNS)
    for ticker, position in pairs:
        writer.writerow(
            [
                ticker,
                position.get("shares"),
                position.get("cost_price"),
                position.get("purchase_date"),
                position.get("notes"),
                position.get("account", DEFAULT_ACCOUNT),
            ]
        )
    return csv_response(buffer.getvalue().encode("utf-8"), "positions.csv")


# ------------------------------------------------------------------ recommendations


async def list_recommendations(request: web.Request) -> web.Response:
    page = read_page(request)
    require_auth(request)
    records = await asyncio.to_thread(
        _store(request).recommendations, request.query.get("date") or None
    )
    if records is None:
        raise ApiError(404, "Recommendation not found")
    payload = {
        "recommendations": page.slice(records),
        "total": len(records),
        "limit": page.limit,
        "offset": page.offset,
    }
    return json_response(payload)


async def get_recommendation(request: web.Request) -> web.Response:
    require_auth(request)
    record = await asyncio.to_thread(
        _store(request).recommendation, request.match_info["date"], request.match_info["ticker"]
    )
    if record is None:
        raise ApiError(404, "Recommendation not found")
    return json_response(record)
