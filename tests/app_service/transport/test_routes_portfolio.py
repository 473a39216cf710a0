"""Portfolio routes over real files: shapes, quirks, pagination, traversal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient


async def test_watchlist_and_accounts(client: TestClient[Any, Any], data_dir: Path) -> None:
    assert await (await client.get("/api/portfolio/watchlist")).json() == {"watchlist": []}
    entry = await (await client.post("/api/portfolio/watchlist", json={"ticker": "AAPL"})).json()
    assert entry["ticker"] == "AAPL"
    assert entry["name"] == "AAPL"
    dup = await client.post("/api/portfolio/watchlist", json={"ticker": "AAPL", "name": "Apple"})
    assert (dup.status, await dup.json()) == (400, {"detail": "AAPL 已在自选股中"})
    stored = json.loads((data_dir / "portfolio" / "watchlist.json").read_text(encoding="utf-8"))
    assert stored == {"watchlist": [entry]}
    assert (await client.delete("/api/portfolio/watchlist/AAPL")).status == 200
    gone = await client.delete("/api/portfolio/watchlist/AAPL")
    assert (gone.status, await gone.json()) == (404, {"detail": "Ticker not found in watchlist"})

    created = await client.post("/api/portfolio/accounts", json={"account_name": "main"})
    assert await created.json() == {"account_name": "main"}
    dup = await client.post("/api/portfolio/accounts", json={"account_name": "main"})
    assert (dup.status, await dup.json()) == (400, {"detail": "账户 main 已存在"})
    assert await (await client.get("/api/portfolio/accounts")).json() == {"accounts": ["main"]}
    assert await (await client.delete("/api/portfolio/accounts/main")).json() == {"ok": True}
    missing = await client.delete("/api/portfolio/accounts/main")
    assert (missing.status, await missing.json()) == (404, {"detail": "Account not found"})


async def test_positions_lifecycle(client: TestClient[Any, Any]) -> None:
    body = {"ticker": "AAPL", "shares": 10, "cost_price": 100.0, "account": "nowhere"}
    stored = await (await client.post("/api/portfolio/positions", json=body)).json()
    assert stored["position_id"].startswith("pos_")
    assert stored["account"] == "nowhere"
    assert stored["name"] == "AAPL"
    assert "ticker" not in stored
    missing = await client.post("/api/portfolio/positions", json={"shares": 1})
    assert (missing.status, await missing.json()) == (400, {"detail": "'ticker'"})
    # Filed under the default account, while keeping the requested name on the position.
    assert await (await client.get("/api/portfolio/accounts")).json() == {"accounts": ["默认账户"]}

    (position,) = (await (await client.get("/api/portfolio/positions")).json())["positions"]
    assert list(position) == [
        "ticker", "name", "account", "shares", "cost_price", "current_price", "unrealized_pnl",
        "unrealized_pnl_pct", "purchase_date", "notes", "position_id",
    ]  # fmt: skip
    price = position["current_price"]
    assert isinstance(price, float)
    assert position["unrealized_pnl"] == pytest.approx((price - 100.0) * 10)
    assert position["unrealized_pnl_pct"] == pytest.approx((price / 100.0 - 1) * 100)
    other = await (await client.get("/api/portfolio/positions?account=ghost")).json()
    assert other == {"positions": []}

    export = await client.get("/api/portfolio/positions/export")
    assert export.headers["Content-Disposition"] == "attachment; filename=positions.csv"
    assert (await export.text()).splitlines() == [
        "ticker,shares,cost_price,purchase_date,notes,account",
        "AAPL,10,100.0,,,nowhere",
    ]

    guard = await client.delete("/api/portfolio/positions/AAPL?position_id=")
    assert (guard.status, await guard.json()) == (404, {"detail": "Position not found"})
    wrong = await client.delete("/api/portfolio/positions/AAPL?position_id=pos_nope")
    assert wrong.status == 404
    ok = await client.delete(f"/api/portfolio/positions/AAPL?position_id={stored['position_id']}")
    assert await ok.json() == {"ok": True}
    assert await (await client.get("/api/portfolio/positions")).json() == {"positions": []}


def _plant_recommendation(data_dir: Path, date: str, ticker: str, record: dict[str, Any]) -> None:
    folder = data_dir / "portfolio" / "recommendations" / date
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{ticker}.json").write_text(json.dumps(record, ensure_ascii=False, indent=2))


def _flat(ticker: str, date: str) -> dict[str, Any]:
    return {
        "ticker": ticker,
        "name": ticker,
        "analysis_date": date,
        "decision": "BUY",
        "quant_signal": "BUY",
        "llm_signal": "OVERWEIGHT",
        "confidence": 0.8,
        "created_at": f"{date}T10:00:00",
    }


async def test_recommendations_pagination_and_normalization(
    client: TestClient[Any, Any], data_dir: Path
) -> None:
    for date, ticker in [
        ("2026-04-10", "AAPL"),
        ("2026-04-10", "MSFT"),
        ("2026-04-11", "AAPL"),
        ("2026-04-12", "NVDA"),
        ("2026-04-12", "AMZN"),
    ]:
        _plant_recommendation(data_dir, date, ticker, _flat(ticker, date))
    (data_dir / "portfolio" / "recommendations" / "misc").mkdir()

    everything = await (await client.get("/api/portfolio/recommendations")).json()
    assert everything["contract_version"] == "v1alpha1"
    assert everything["total"] == 5
    order = [(r["date"], r["ticker"]) for r in everything["recommendations"]]
    assert order == [
        ("2026-04-12", "NVDA"),
        ("2026-04-12", "AMZN"),
        ("2026-04-11", "AAPL"),
        ("2026-04-10", "MSFT"),
        ("2026-04-10", "AAPL"),
    ]
    page = await (await client.get("/api/portfolio/recommendations?limit=2&offset=2")).json()
    assert [(r["date"], r["ticker"]) for r in page["recommendations"]] == order[2:4]
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 2)
    one_day = await (await client.get("/api/portfolio/recommendations?date=2026-04-10")).json()
    assert one_day["total"] == 2

    record = await (await client.get("/api/portfolio/recommendations/2026-04-11/AAPL")).json()
    assert record["contract_version"] == "v1alpha1"
    assert record["result"]["decision"] == "BUY"
    assert record["result"]["signals"]["llm"] == {
        "direction": 1,
        "rating": "OVERWEIGHT",
        "available": True,
    }
    assert record["compat"]["confidence"] == 0.8


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/api/portfolio/recommendations/2026-04-11/..", id="dotdot"),
        pytest.param("/api/portfolio/recommendations/..%2F..%2F/watchlist", id="encoded-slash"),
        pytest.param("/api/portfolio/recommendations/2026-04-11/A%5CB", id="encoded-backslash"),
        pytest.param("/api/portfolio/recommendations/2026-04-11/MSFT", id="missing"),
    ],
)
async def test_recommendation_not_found(
    client: TestClient[Any, Any], data_dir: Path, path: str
) -> None:
    _plant_recommendation(data_dir, "2026-04-11", "AAPL", _flat("AAPL", "2026-04-11"))
    resp = await client.get(path)
    assert resp.status == 404
