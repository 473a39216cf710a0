"""Portfolio routes over real files: watchlist, accounts, positions, recommendations, batch."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from legacy_backend.portfolio_store import PortfolioStore
from legacy_backend.state import RUNTIME

ClientFactory = Any
Waiter = Any


async def test_watchlist_add_list_duplicate_delete(
    client: TestClient[web.Request, web.Application],
) -> None:
    assert await (await client.get("/api/portfolio/watchlist")).json() == {"watchlist": []}
    before = date.today().isoformat()
    added = await client.post("/api/portfolio/watchlist", json={"ticker": "AAPL", "name": "Apple"})
    entry = await added.json()
    assert entry == {"ticker": "AAPL", "name": "Apple", "added_at": entry["added_at"]}
    assert entry["added_at"] in (before, date.today().isoformat())
    defaulted = await client.post("/api/portfolio/watchlist", json={"ticker": "600519.SH"})
    assert (await defaulted.json())["name"] == "600519.SH"
    duplicate = await client.post("/api/portfolio/watchlist", json={"ticker": "AAPL"})
    assert (duplicate.status, await duplicate.json()) == (400, {"detail": "AAPL 已在自选股中"})
    listed = await (await client.get("/api/portfolio/watchlist")).json()
    assert [entry["ticker"] for entry in listed["watchlist"]] == ["AAPL", "600519.SH"]
    assert await (await client.delete("/api/portfolio/watchlist/AAPL")).json() == {"ok": True}
    gone = await client.delete("/api/portfolio/watchlist/AAPL")
    assert (gone.status, await gone.json()) == (404, {"detail": "Ticker not found in watchlist"})


async def test_broken_watchlist_file_reads_as_empty(
    client: TestClient[web.Request, web.Application], data_dir: Path
) -> None:
    (data_dir / "portfolio").mkdir(parents=True)
    (data_dir / "portfolio" / "watchlist.json").write_text("{oops", "utf-8")
    assert await (await client.get("/api/portfolio/watchlist")).json() == {"watchlist": []}


async def test_watchlist_rejects_path_like_ticker(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.post("/api/portfolio/watchlist", json={"ticker": "../../etc"})
    assert response.status == 404
    assert await (await client.get("/api/portfolio/watchlist")).json() == {"watchlist": []}


async def test_accounts_lifecycle(client: TestClient[web.Request, web.Application]) -> None:
    created = await client.post("/api/portfolio/accounts", json={"account_name": "长期"})
    assert await created.json() == {"account_name": "长期"}
    duplicate = await client.post("/api/portfolio/accounts", json={"account_name": "长期"})
    assert (duplicate.status, await duplicate.json()) == (400, {"detail": "账户 长期 已存在"})
    assert await (await client.get("/api/portfolio/accounts")).json() == {"accounts": ["长期"]}
    assert await (await client.delete("/api/portfolio/accounts/长期")).json() == {"ok": True}
    missing = await client.delete("/api/portfolio/accounts/长期")
    assert (missing.status, await missing.json()) == (404, {"detail": "Account not found"})
    no_key = await client.post("/api/portfolio/accounts", json={})
    assert (no_key.status, await no_key.text()) == (500, "Internal Server Error")


async def add_position(
    client: TestClient[web.Request, web.Application], **fields: Any
) -> dict[str, Any]:
    response = await client.post("/api/portfolio/positions", json=fields)
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def test_position_add_shape_and_default_account_filing(
    client: TestClient[web.Request, web.Application], data_dir: Path
) -> None:
    position = await add_position(
        client, ticker="AAPL", shares=10, cost_price=100.0, account="Ghost"
    )
    assert list(position) == [
        "position_id",
        "shares",
        "cost_price",
        "purchase_date",
        "notes",
        "account",
        "name",
    ]
    assert position["position_id"].startswith("pos_")
    assert len(position["position_id"]) == 10
    assert (
        position["account"],
        position["name"],
        position["notes"],
        position["purchase_date"],
    ) == (
        "Ghost",
        "AAPL",
        "",
        None,
    )
    stored = json.loads((data_dir / "portfolio" / "positions.json").read_text("utf-8"))
    assert list(stored["accounts"]) == ["默认账户"]
    assert stored["accounts"]["默认账户"]["positions"]["AAPL"] == [position]


async def test_position_errors_are_400_with_str_of_the_exception(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.post("/api/portfolio/positions", json={"shares": 1, "cost_price": 1})
    assert (response.status, await response.json()) == (400, {"detail": "'ticker'"})


async def test_positions_list_prices_and_pnl(
    client: TestClient[web.Request, web.Application],
) -> None:
    await client.post("/api/portfolio/accounts", json={"account_name": "A"})
    await add_position(client, ticker="AAPL", shares=10, cost_price=100.0, account="A", notes="n")
    await add_position(client, ticker="MSFT", shares=5, cost_price=0, account="A")
    body = await (await client.get("/api/portfolio/positions?account=A")).json()
    aapl, msft = body["positions"]
    assert list(aapl) == [
        "ticker",
        "name",
        "account",
        "shares",
        "cost_price",
        "current_price",
        "unrealized_pnl",
        "unrealized_pnl_pct",
        "purchase_date",
        "notes",
        "position_id",
    ]
    price = aapl["current_price"]
    assert isinstance(price, float)
    assert aapl["unrealized_pnl"] == pytest.approx((price - 100.0) * 10)
    assert aapl["unrealized_pnl_pct"] == pytest.approx((price / 100.0 - 1) * 100)
    assert (msft["unrealized_pnl"], msft["unrealized_pnl_pct"]) == (None, None)
    other = await (await client.get("/api/portfolio/positions?account=Nobody")).json()
    assert other == {"positions": []}
    everything = await (await client.get("/api/portfolio/positions")).json()
    assert len(everything["positions"]) == 2
    empty_filter = await (await client.get("/api/portfolio/positions?account=")).json()
    assert len(empty_filter["positions"]) == 2


async def test_positions_export_csv_bytes(client: TestClient[web.Request, web.Application]) -> None:
    await add_position(
        client, ticker="AAPL", shares=10, cost_price=100.5, purchase_date="2026-01-02", notes="a,b"
    )
    response = await client.get("/api/portfolio/positions/export")
    assert response.headers["Content-Disposition"] == "attachment; filename=positions.csv"
    assert response.headers["Content-Type"].startswith("text/csv")
    assert await response.read() == (
        "ticker,shares,cost_price,purchase_date,notes,account\r\n"
        'AAPL,10,100.5,2026-01-02,"a,b",默认账户\r\n'.encode()
    )


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("", id="no-position-id"),
        pytest.param("?position_id=", id="empty-position-id"),
        pytest.param("?position_id=&account=默认账户", id="empty-id-with-account"),
        pytest.param("?position_id=pos_nope", id="unknown-id"),
    ],
)
async def test_position_delete_guard(
    client: TestClient[web.Request, web.Application], query: str
) -> None:
    await add_position(client, ticker="AAPL", shares=1, cost_price=1)
    await add_position(client, ticker="AAPL", shares=2, cost_price=1)
    response = await client.delete(f"/api/portfolio/positions/AAPL{query}")
    assert (response.status, await response.json()) == (404, {"detail": "Position not found"})
    listed = await (await client.get("/api/portfolio/positions")).json()
    assert len(listed["positions"]) == 2


async def test_position_delete_removes_exactly_one(
    client: TestClient[web.Request, web.Application],
) -> None:
    keep = await add_position(client, ticker="AAPL", shares=1, cost_price=1)
    drop = await add_position(client, ticker="AAPL", shares=2, cost_price=1)
    response = await client.delete(
        f"/api/portfolio/positions/AAPL?position_id={drop['position_id']}"
    )
    assert await response.json() == {"ok": True}
    listed = await (await client.get("/api/portfolio/positions")).json()
    assert [p["position_id"] for p in listed["positions"]] == [keep["position_id"]]


async def test_position_delete_with_account_quirk(
    client: TestClient[web.Request, web.Application],
) -> None:
    await add_position(client, ticker="AAPL", shares=1, cost_price=1)
    # LEGACY: with an account that holds the ticker, ok even though no id matched.
    response = await client.delete(
        "/api/portfolio/positions/AAPL?position_id=pos_nope&account=默认账户"
    )
    assert await response.json() == {"ok": True}
    assert len((await (await client.get("/api/portfolio/positions")).json())["positions"]) == 1


@pytest.mark.parametrize(
    "position_id", [pytest.param("", id="empty"), pytest.param(None, id="none")]
)
def test_store_remove_position_without_id_deletes_nothing(
    tmp_path: Path, position_id: str | None
) -> None:
    store = PortfolioStore(tmp_path)
    store.add_position("AAPL", 1, 1, None, "", "默认账户")
    assert store.remove_position("AAPL", position_id, None) is False
    assert store.remove_position("AAPL", position_id, "默认账户") is False
    assert len(store.positions(None)) == 1


@pytest.mark.parametrize(
    ("day", "ticker"),
    [
        pytest.param("..", "AAPL", id="date-dotdot"),
        pytest.param("2026-04-12", "../x", id="ticker-slash"),
        pytest.param("2026-04-12", "a\\b", id="ticker-backslash"),
    ],
)
def test_store_recommendation_traversal_is_none(tmp_path: Path, day: str, ticker: str) -> None:
    assert PortfolioStore(tmp_path).recommendation(day, ticker) is None


def seed_recommendations(data_dir: Path) -> None:
    folder = data_dir / "portfolio" / "recommendations"
    for day, tickers in {
        "2026-04-12": ["AAPL", "MSFT"],
        "2026-04-13": ["AAPL", "NVDA", "TSLA"],
    }.items():
        (folder / day).mkdir(parents=True)
        for ticker in tickers:
            record = {"ticker": ticker, "name": ticker, "analysis_date": day, "decision": "HOLD"}
            (folder / day / f"{ticker}.json").write_text(json.dumps(record), "utf-8")
    (folder / "notes").mkdir()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param(
            "",
            [
                "2026-04-13/TSLA",
                "2026-04-13/NVDA",
                "2026-04-13/AAPL",
                "2026-04-12/MSFT",
                "2026-04-12/AAPL",
            ],
            id="all",
        ),
        pytest.param("?limit=2", ["2026-04-13/TSLA", "2026-04-13/NVDA"], id="limit"),
        pytest.param("?limit=2&offset=3", ["2026-04-12/MSFT", "2026-04-12/AAPL"], id="offset"),
        pytest.param("?date=2026-04-12", ["2026-04-12/MSFT", "2026-04-12/AAPL"], id="one-date"),
        pytest.param("?date=2030-01-01", [], id="unknown-date"),
        pytest.param(
            "?date=",
            [
                "2026-04-13/TSLA",
                "2026-04-13/NVDA",
                "2026-04-13/AAPL",
                "2026-04-12/MSFT",
                "2026-04-12/AAPL",
            ],
            id="empty-date-means-all",
        ),
    ],
)
async def test_recommendations_list(
    client: TestClient[web.Request, web.Application],
    data_dir: Path,
    query: str,
    expected: list[str],
) -> None:
    seed_recommendations(data_dir)
    body = await (await client.get(f"/api/portfolio/recommendations{query}")).json()
    assert [f"{r['analysis_date']}/{r['ticker']}" for r in body["recommendations"]] == expected
    assert body["total"] == {"?date=2026-04-12": 2, "?date=2030-01-01": 0}.get(query, 5)
    assert "contract_version" not in body


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(
            "/api/portfolio/recommendations/2026-04-12/..%2F..%2Fwatchlist", id="ticker-traversal"
        ),
        pytest.param("/api/portfolio/recommendations/..%2F2026-04-12/AAPL", id="date-traversal"),
        pytest.param("/api/portfolio/recommendations/2026-04-12/a%5Cb", id="backslash"),
        pytest.param("/api/portfolio/recommendations/2026-04-12/GOOG", id="missing"),
        pytest.param("/api/portfolio/recommendations?date=..%2F..", id="list-date-traversal"),
    ],
)
async def test_recommendation_not_found_and_traversal(
    client: TestClient[web.Request, web.Application], data_dir: Path, path: str
) -> None:
    seed_recommendations(data_dir)
    response = await client.get(path)
    assert (response.status, await response.json()) == (404, {"detail": "Recommendation not found"})


async def test_recommendation_get_is_the_raw_file(
    client: TestClient[web.Request, web.Application], data_dir: Path
) -> None:
    seed_recommendations(data_dir)
    body = await (await client.get("/api/portfolio/recommendations/2026-04-12/AAPL")).json()
    assert body == {
        "ticker": "AAPL",
        "name": "AAPL",
        "analysis_date": "2026-04-12",
        "decision": "HOLD",
    }


async def test_batch_needs_a_watchlist(client: TestClient[web.Request, web.Application]) -> None:
    response = await client.post("/api/portfolio/analyze")
    assert (response.status, await response.json()) == (400, {"detail": "自选股为空，请先添加股票"})


async def test_batch_runs_every_ticker_through_the_kernel(
    client: TestClient[web.Request, web.Application], wait_terminal: Waiter, data_dir: Path
) -> None:
    await client.post("/api/portfolio/watchlist", json={"ticker": "AAPL", "name": "Apple"})
    await client.post("/api/portfolio/watchlist", json={"ticker": "MSFT"})
    before = date.today().isoformat()
    response = await client.post("/api/portfolio/analyze")
    accepted = await response.json()
    today = accepted["task_id"].split("_")[1]
    assert today in (before, date.today().isoformat())
    assert (accepted["total"], accepted["status"]) == (2, "running")
    state = await wait_terminal(client, accepted["task_id"])
    assert (state["status"], state["completed"], state["failed"], state["current_ticker"]) == (
        "completed",
        2,
        0,
        None,
    )
    first = state["results"][0]
    assert list(first) == [
        "ticker",
        "name",
        "analysis_date",
        "decision",
        "quant_signal",
        "llm_signal",
        "confidence",
        "created_at",
    ]
    assert (first["ticker"], first["name"], first["analysis_date"]) == ("AAPL", "Apple", today)
    saved = json.loads(
        (data_dir / "portfolio" / "recommendations" / today / "AAPL.json").read_text("utf-8")
    )
    assert saved == first
    tasks = (await (await client.get("/api/analysis/tasks")).json())["tasks"]
    assert tasks == [
        {
            "task_id": accepted["task_id"],
            "ticker": None,
            "date": None,
            "status": "completed",
            "progress": 0,
            "decision": None,
            "error": None,
            "created_at": None,
        }
    ]
    # as upstream, the state reads `completed` a moment before it is persisted (off the loop)
    saved_state = data_dir / "task_status" / f"{accepted['task_id']}.json"
    for _ in range(250):  # up to 5 s
        if saved_state.exists():
            break
        await asyncio.sleep(0.02)
    assert json.loads(saved_state.read_text("utf-8"))["status"] == "completed"


@pytest.mark.parametrize(
    ("fail_times", "runs", "completed", "failed"),
    [
        pytest.param("2", 3, 1, 0, id="third-attempt-succeeds"),
        pytest.param("3", 3, 0, 1, id="three-failures-give-up"),
    ],
)
async def test_batch_retries_up_to_three_attempts(
    start_client: ClientFactory,
    wait_terminal: Waiter,
    fake_command: tuple[str, ...],
    tmp_path: Path,
    fail_times: str,
    runs: int,
    completed: int,
    failed: int,
) -> None:
    env = {"FAKE_FAIL_TIMES": fail_times, "FAKE_COUNTER_DIR": str(tmp_path)}
    client = await start_client(env, analysis_command=fake_command)
    await client.post("/api/portfolio/watchlist", json={"ticker": "AAPL"})
    batch = await (await client.post("/api/portfolio/analyze")).json()
    state = await wait_terminal(client, batch["task_id"])
    assert (state["completed"], state["failed"]) == (completed, failed)
    assert len((tmp_path / "AAPL.runs").read_text().splitlines()) == runs


async def test_batch_missing_provider_key_leaves_dangling_running_task(
    start_client: ClientFactory,
) -> None:
    client = await start_client({"TRADINGAGENTS_LLM_PROVIDER": "openai"})
    await client.post("/api/portfolio/watchlist", json={"ticker": "AAPL"})
    response = await client.post("/api/portfolio/analyze")
    assert (response.status, await response.json()) == (
        500,
        {"detail": "OPENAI_API_KEY environment variable not set"},
    )
    tasks = (await (await client.get("/api/analysis/tasks")).json())["tasks"]
    assert [task["status"] for task in tasks] == ["running"]


async def test_cancel_batch_kills_its_subprocess(
    start_client: ClientFactory, data_dir: Path
) -> None:
    client = await start_client({"TA_FAULT_PIPELINE": "stall"})
    await client.post("/api/portfolio/watchlist", json={"ticker": "AAPL"})
    batch_id = (await (await client.post("/api/portfolio/analyze")).json())["task_id"]
    async with client.ws_connect(f"/ws/analysis/{batch_id}") as ws:
        await client.post("/api/portfolio/watchlist", json={"ticker": "ZZZ"})  # not in this batch
        runtime = client.app[RUNTIME]
        while batch_id not in runtime.processes:
            await ws.send_str('{"type":"ping"}')
            await ws.receive_json()
        process = runtime.processes[batch_id]
        response = await client.delete(f"/api/analysis/cancel/{batch_id}")
        assert await response.json() == {"task_id": batch_id, "status": "cancelled"}
        message = await ws.receive_json()
        while message.get("status", "running") == "running":
            message = await ws.receive_json()
    assert (message["status"], message["error"], message["total"]) == ("failed", "用户取消", 1)
    # The batch state's own "type" key overrides the envelope's, as in upstream's {**state}.
    assert message["type"] == "portfolio"
    assert await process.wait() != 0
    assert not (data_dir / "task_status" / f"{batch_id}.json").exists()
