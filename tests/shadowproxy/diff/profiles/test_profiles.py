"""Profiles for lists, live signals, reports, CSV, recommendations, portfolio and generic bodies.

Payloads follow the shapes of docs/upstream-contract.md for both sides (§1.2, §2.5, §2.7, §3, §4.5).
"""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson
import pytest

from shadowproxy.diff.config import ConfigRoute, DiffConfig
from shadowproxy.diff.engine import DiffEngine
from shadowproxy.types import (
    DiffKind,
    Exchange,
    ExchangeKind,
    Observation,
    Outcome,
    RouteGroup,
    RouteSpec,
    Side,
)

ENGINE = DiffEngine()
AAPL_L, AAPL_A = "AAPL_20260413_120000_ab12cd", "AAPL_20260413_120000_9f8e7d"
MSFT_L, MSFT_A = "MSFT_20260413_115900_01ab23", "MSFT_20260413_115900_cd45ef"
PORT_L, PORT_A = "port_2026-04-13_0f3a9c", "port_2026-04-13_77aa01"
IDS = {AAPL_A: AAPL_L, MSFT_A: MSFT_L, PORT_A: PORT_L}


def compare(profile: str, legacy: Any, app: Any, ids: Any = IDS, route: str = "/r") -> Any:
    return ENGINE.compare_values(profile, legacy, app, ids, route=route)


def fields(values: Any) -> list[tuple[str, DiffKind]]:
    return [(d.field, d.kind) for d in values.differences]


# ---------------------------------------------------------------- task list (§1.2 #8, §2.5)


def legacy_item(
    task_id: str, ticker: str, status: str = "completed", progress: int = 100
) -> dict[str, Any]:
    done = status != "running"
    return {
        "task_id": task_id,
        "ticker": ticker,
        "date": "2026-04-13",
        "status": status,
        "progress": progress,
        "decision": "OVERWEIGHT" if done else None,
        "error": None,
        "created_at": "2026-04-13T12:00:00.000001",
    }


def app_item(
    task_id: str,
    ticker: str,
    status: str = "degraded_success",
    progress: int = 100,
    stage: str = "portfolio",
) -> dict[str, Any]:
    done = status != "running"
    return {
        "task_id": task_id,
        "contract_version": "v1alpha1",
        "request_id": "ab" * 16,
        "executor_type": "legacy_subprocess",
        "result_ref": None,
        "status": status,
        "created_at": "2026-04-13T12:00:00.500000",
        "error": None,
        "data_quality_summary": None,
        "degradation_summary": None,
        "ticker": ticker,
        "date": "2026-04-13",
        "progress": progress,
        "current_stage": stage,
        "summary": {
            "decision": "OVERWEIGHT" if done else None,
            "confidence": 0.63 if done else None,
            "degraded": done,
        },
    }


LEGACY_BATCH_ITEM = {
    "task_id": PORT_L,
    "ticker": None,
    "date": None,
    "status": "running",
    "progress": 0,
    "decision": None,
    "error": None,
    "created_at": None,
}
APP_BATCH_ITEM = {
    "task_id": PORT_A,
    "contract_version": "v1alpha1",
    "status": "running",
    "created_at": "2026-04-13T11:00:00.000001",
    "error": None,
    "type": "portfolio",
    "total": 2,
    "completed": 1,
    "failed": 0,
    "current_ticker": "MSFT",
}


def legacy_tasks(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"tasks": list(entries), "total": len(entries)}


def app_tasks(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"contract_version": "v1alpha1", "tasks": list(entries), "total": len(entries)}


@pytest.mark.parametrize(
    ("legacy", "app", "outcome", "expected"),
    [
        pytest.param(
            legacy_tasks(
                legacy_item(AAPL_L, "AAPL"), legacy_item(MSFT_L, "MSFT"), LEGACY_BATCH_ITEM
            ),
            app_tasks(app_item(AAPL_A, "AAPL"), app_item(MSFT_A, "MSFT"), APP_BATCH_ITEM),
            Outcome.MATCH,
            [],
            id="correlated-through-ids",
        ),
        pytest.param(
            legacy_tasks(
                legacy_item(AAPL_L, "AAPL"), legacy_item(MSFT_L, "MSFT"), LEGACY_BATCH_ITEM
            ),
            app_tasks(app_item(AAPL_A, "AAPL"), APP_BATCH_ITEM, app_item(MSFT_A, "MSFT")),
            Outcome.MATCH,
            [],
            id="batches-are-not-placed",
        ),
        pytest.param(
            legacy_tasks(legacy_item(AAPL_L, "AAPL"), legacy_item(MSFT_L, "MSFT")),
            app_tasks(app_item(MSFT_A, "MSFT"), app_item(AAPL_A, "AAPL")),
            Outcome.MISMATCH,
            [("tasks.order", DiffKind.REORDERED)],
            id="reordered",
        ),
        pytest.param(
            legacy_tasks(legacy_item(AAPL_L, "AAPL"), legacy_item(MSFT_L, "MSFT")),
            app_tasks(app_item(AAPL_A, "AAPL")),
            Outcome.MISMATCH,
            [(f"tasks[{MSFT_L}]", DiffKind.MISSING), ("total", DiffKind.CHANGED)],
            id="task-missing-on-app",
        ),
        pytest.param(
            legacy_tasks(legacy_item(AAPL_L, "AAPL")),
            app_tasks(app_item(AAPL_A, "AAPL"), app_item("NVDA_20260413_130000_aaaaaa", "NVDA")),
            Outcome.MISMATCH,
            [("tasks[NVDA_20260413_130000_aaaaaa]", DiffKind.EXTRA), ("total", DiffKind.CHANGED)],
            id="uncorrelated-extra-task",
        ),
        pytest.param(
            legacy_tasks(legacy_item(AAPL_L, "AAPL", status="running", progress=40)),
            app_tasks(app_item(AAPL_A, "AAPL", status="running", progress=60, stage="trading")),
            Outcome.INFLIGHT_SKEW,
            [(f"tasks[{AAPL_L}].progress", DiffKind.CHANGED)],
            id="item-in-flight",
        ),
        pytest.param(
            legacy_tasks(legacy_item(AAPL_L, "AAPL", status="running", progress=20)),
            app_tasks(app_item(AAPL_A, "AAPL", status="running", progress=80, stage="risk")),
            Outcome.MISMATCH,
            [(f"tasks[{AAPL_L}].progress", DiffKind.CHANGED)],
            id="item-too-far-apart",
        ),
        pytest.param(
            legacy_tasks({**legacy_item(AAPL_L, "AAPL"), "decision": "HOLD"}),
            app_tasks(app_item(AAPL_A, "AAPL")),
            Outcome.MISMATCH,
            [(f"tasks[{AAPL_L}].decision", DiffKind.CHANGED)],
            id="item-decision-changed",
        ),
    ],
)
def test_task_list(legacy: Any, app: Any, outcome: Outcome, expected: list[Any]) -> None:
    values = compare("task_list", legacy, app)
    assert values.outcome is outcome, values.differences
    assert fields(values) == expected


# ------------------------------------------------------------ live signals (§3 /ws/orchestrator)


def legacy_signal(ticker: str, direction: int = -1, confidence: float = 0.42) -> dict[str, Any]:
    return {
        "ticker": ticker,
        "date": "2026-04-11",
        "direction": direction,
        "confidence": confidence,
        "quant_direction": None,
        "llm_direction": direction,
        "timestamp": "2026-04-11T12:01:00+00:00",
    }


def app_signal(ticker: str, direction: int = -1, confidence: float = 0.42) -> dict[str, Any]:
    return {
        "contract_version": "v1alpha1",
        "ticker": ticker,
        "date": "2026-04-11",
        "status": "degraded_success",
        "result": {
            "direction": direction,
            "confidence": confidence,
            "quant_direction": None,
            "llm_direction": direction,
            "timestamp": "2026-04-11T12:01:02+00:00",
        },
        "error": None,
        "degradation": {
            "degraded": True,
            "reason_codes": ["quant_signal_failed"],
            "source_diagnostics": {"quant": {"reason_code": "stale_data"}},
        },
        "data_quality": {"state": "stale_data", "source": "quant"},
        "research": None,
    }


LEGACY_FAILED = {
    "ticker": "TSLA",
    "date": "2026-04-11",
    "error": "both quant and llm signals are None",
}
APP_FAILED = {
    "contract_version": "v1alpha1",
    "ticker": "TSLA",
    "date": "2026-04-11",
    "status": "failed",
    "result": None,
    "error": {
        "code": "live_signal_failed",
        "message": "both quant and llm signals are None",
        "retryable": False,
    },
    "degradation": {
        "degraded": True,
        "reason_codes": ["both_signals_unavailable"],
        "source_diagnostics": {},
    },
    "data_quality": None,
    "research": None,
}


def legacy_live(*signals: Any) -> dict[str, Any]:
    return {"signals": list(signals)}


def app_live(*signals: Any) -> dict[str, Any]:
    return {"contract_version": "v1alpha1", "signals": list(signals)}


@pytest.mark.parametrize(
    ("legacy", "app", "outcome", "expected"),
    [
        pytest.param(
            legacy_live(legacy_signal("AAPL"), legacy_signal("MSFT", 1, 0.55), LEGACY_FAILED),
            app_live(app_signal("AAPL"), app_signal("MSFT", 1, 0.553), APP_FAILED),
            Outcome.MATCH,
            [],
            id="flat-vs-contract",
        ),
        pytest.param(
            legacy_live(legacy_signal("AAPL"), legacy_signal("MSFT")),
            app_live(app_signal("MSFT"), app_signal("AAPL")),
            Outcome.MISMATCH,
            [("signals.order", DiffKind.REORDERED)],
            id="reordered",
        ),
        pytest.param(
            legacy_live(legacy_signal("AAPL", direction=1)),
            app_live(app_signal("AAPL", direction=-1)),
            Outcome.MISMATCH,
            [
                ("signals[AAPL:2026-04-11].direction", DiffKind.CHANGED),
                ("signals[AAPL:2026-04-11].llm_direction", DiffKind.CHANGED),
            ],
            id="direction-changed",
        ),
        pytest.param(
            legacy_live(legacy_signal("AAPL", confidence=0.42)),
            app_live(app_signal("AAPL", confidence=0.45)),
            Outcome.MISMATCH,
            [("signals[AAPL:2026-04-11].confidence", DiffKind.CHANGED)],
            id="confidence-beyond-tolerance",
        ),
        pytest.param(
            legacy_live(legacy_signal("TSLA")),
            app_live(APP_FAILED),
            Outcome.MISMATCH,
            [
                ("signals[TSLA:2026-04-11].status", DiffKind.CHANGED),
                ("signals[TSLA:2026-04-11].direction", DiffKind.CHANGED),
                ("signals[TSLA:2026-04-11].confidence", DiffKind.CHANGED),
                ("signals[TSLA:2026-04-11].llm_direction", DiffKind.CHANGED),
                ("signals[TSLA:2026-04-11].error.present", DiffKind.CHANGED),
            ],
            id="failed-on-one-side",
        ),
        pytest.param(
            {"error": "Expecting value: line 1 column 1 (char 0)"},
            {"error": "Expecting value: line 1 column 1 (char 0)"},
            Outcome.MATCH,
            [],
            id="reply-error",
        ),
        pytest.param(legacy_live(), app_live(), Outcome.MATCH, [], id="ping-gets-empty-signals"),
    ],
)
def test_live_signals(legacy: Any, app: Any, outcome: Outcome, expected: list[Any]) -> None:
    values = compare("live_signals", legacy, app)
    assert values.outcome is outcome, values.differences
    assert fields(values) == expected


# ---------------------------------------------------------------- reports (§1.2 #11-13)


def reports(root: str, *keys: tuple[str, str]) -> dict[str, Any]:
    entries = [{"ticker": t, "date": d, "path": f"{root}/results/{t}/{d}"} for t, d in keys]
    return {"reports": entries, "total": len(entries), "limit": 50, "offset": 0}


@pytest.mark.parametrize(
    ("legacy", "app", "expected"),
    [
        pytest.param(
            reports("/srv/legacy", ("AAPL", "2026-04-13"), ("MSFT", "2026-04-12")),
            reports("/srv/app/data", ("AAPL", "2026-04-13"), ("MSFT", "2026-04-12")),
            [],
            id="own-data-dirs",
        ),
        pytest.param(
            reports("/srv/legacy", ("AAPL", "2026-04-13"), ("MSFT", "2026-04-13")),
            reports("C:\\app", ("MSFT", "2026-04-13"), ("AAPL", "2026-04-13")),
            [],
            id="same-date-in-directory-order",
        ),
        pytest.param(
            reports("/srv/legacy", ("AAPL", "2026-04-13")),
            reports("/srv/app", ("AAPL", "2026-04-13"), ("NVDA", "2026-04-13")),
            [("reports[NVDA:2026-04-13]", DiffKind.EXTRA), ("total", DiffKind.CHANGED)],
            id="extra-report",
        ),
    ],
)
def test_reports_list(legacy: Any, app: Any, expected: list[Any]) -> None:
    assert fields(compare("reports_list", legacy, app)) == expected


def test_report_document_same_keys_same_text() -> None:
    report = "# TradingAgents 分析报告\n\n**股票**: AAPL\n\n## 最终决策\n\n**OVERWEIGHT**\n"
    legacy = {"report": report, "market_report.md": "market"}
    assert compare("report_document", legacy, dict(legacy)).outcome is Outcome.MATCH
    changed = compare("report_document", legacy, {"report": report.replace("OVER", "UNDER")})
    assert fields(changed) == [("report", DiffKind.CHANGED), ("market_report.md", DiffKind.MISSING)]


def csv_body(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


HEADER = ["ticker", "date", "decision", "summary"]


@pytest.mark.parametrize(
    ("legacy", "app", "expected"),
    [
        pytest.param(
            [HEADER, ["AAPL", "2026-04-13", "OVERWEIGHT", "N/A"]],
            [HEADER, ["AAPL", "2026-04-13", "OVERWEIGHT", "N/A"]],
            [],
            id="equal",
        ),
        pytest.param(
            [HEADER, ["AAPL", "2026-04-13", "OVERWEIGHT", ""], ["MSFT", "2026-04-12", "HOLD", ""]],
            [HEADER, ["AAPL", "2026-04-13", "OVERWEIGHT", ""], ["MSFT", "2026-04-12", "SELL", ""]],
            [("rows[1].decision", DiffKind.CHANGED)],
            id="cell-changed",
        ),
        pytest.param(
            [HEADER, ["AAPL", "2026-04-13", "OVERWEIGHT", ""]],
            [HEADER[:3], ["AAPL", "2026-04-13", "OVERWEIGHT"], ["MSFT", "2026-04-12", "HOLD"]],
            [
                ("rows[1]", DiffKind.EXTRA),
                ("header", DiffKind.CHANGED),
                ("rows[0].summary", DiffKind.MISSING),
            ],
            id="column-dropped-row-added",
        ),
    ],
)
def test_csv_export(legacy: list[list[str]], app: list[list[str]], expected: list[Any]) -> None:
    exchange = Exchange(
        "c",
        "r",
        ExchangeKind.HTTP,
        RouteGroup.REPORTS,
        "/api/reports/export",
        "GET",
        "/api/reports/export",
        Side.LEGACY,
        "csv",
    )
    headers = (("Content-Type", "text/csv; charset=utf-8"),)
    comparison = ENGINE(
        exchange,
        Observation(Side.LEGACY, 200, headers, csv_body(legacy)),
        Observation(Side.APP, 200, headers, csv_body(app)),
        IDS,
    )
    assert [(d.field, d.kind) for d in comparison.differences] == expected
    assert comparison.secondary == ()


# ---------------------------------------------------------------- recommendations (§2.7, §4.5)

LEGACY_REC = {
    "ticker": "AAPL",
    "name": "Apple",
    "analysis_date": "2026-04-13",
    "decision": "OVERWEIGHT",
    "quant_signal": "HOLD",
    "llm_signal": "BUY",
    "confidence": 0.63,
    "created_at": "2026-04-13T12:03:00.000001",
}


def app_rec(
    ticker: str = "AAPL", decision: str = "OVERWEIGHT", date: str = "2026-04-13"
) -> dict[str, Any]:
    return {
        "contract_version": "v1alpha1",
        "ticker": ticker,
        "name": "Apple" if ticker == "AAPL" else ticker,
        "date": date,
        "status": "degraded_success",
        "created_at": "2026-04-13T12:03:02.000001",
        "result": {
            "decision": decision,
            "confidence": 0.63,
            "signals": {
                "merged": {"direction": 1, "rating": decision},
                "quant": {"direction": 0, "rating": "HOLD", "available": True},
                "llm": {"direction": 1, "rating": "BUY", "available": True},
            },
            "degraded": False,
        },
        "degradation": {"degraded": True, "reason_codes": ["quant_not_configured"]},
        "data_quality": None,
        "compat": {
            "analysis_date": date,
            "decision": decision,
            "quant_signal": "HOLD",
            "llm_signal": "BUY",
            "confidence": 0.63,
        },
    }


@pytest.mark.parametrize(
    ("legacy", "app", "expected"),
    [
        pytest.param(LEGACY_REC, app_rec(), [], id="flat-vs-contract"),
        pytest.param(
            LEGACY_REC,
            app_rec(decision="BUY"),
            [("decision", DiffKind.CHANGED)],
            id="decision-changed",
        ),
        pytest.param(
            LEGACY_REC,
            {k: v for k, v in app_rec().items() if k != "result"},
            [],
            id="app-reads-compat-when-result-is-absent",
        ),
        pytest.param(
            {k: v for k, v in LEGACY_REC.items() if k != "name"},
            {**app_rec(), "name": "AAPL"},
            [],
            id="name-defaults-to-ticker",
        ),
    ],
)
def test_recommendation_document(legacy: Any, app: Any, expected: list[Any]) -> None:
    values = compare("recommendation_document", legacy, app)
    assert fields(values) == expected
    assert (values.ticker, values.date) == ("AAPL", "2026-04-13")


def test_recommendations_list_order_and_page() -> None:
    msft_legacy = {**LEGACY_REC, "ticker": "MSFT", "name": "MSFT", "analysis_date": "2026-04-12"}
    legacy = {"recommendations": [LEGACY_REC, msft_legacy], "total": 2, "limit": 50, "offset": 0}
    app_items = [app_rec(), app_rec("MSFT", date="2026-04-12")]
    app = {
        "contract_version": "v1alpha1",
        "recommendations": app_items,
        "total": 2,
        "limit": 50,
        "offset": 0,
    }
    assert compare("recommendations_list", legacy, app).outcome is Outcome.MATCH
    reversed_app = {**app, "recommendations": app_items[::-1]}
    assert fields(compare("recommendations_list", legacy, reversed_app)) == [
        ("recommendations.order", DiffKind.REORDERED)
    ]


# ---------------------------------------------------------------- portfolio JSON (§1.2 #15-23)


def positions(position_id: str, price: float | None = 190.5) -> dict[str, Any]:
    return {
        "positions": [
            {
                "ticker": "AAPL",
                "name": "AAPL",
                "account": "默认账户",
                "shares": 10,
                "cost_price": 180.0,
                "current_price": price,
                "unrealized_pnl": None if price is None else (price - 180.0) * 10,
                "unrealized_pnl_pct": None if price is None else (price / 180.0 - 1) * 100,
                "purchase_date": "2026-04-01",
                "notes": "",
                "position_id": position_id,
            }
        ]
    }


@pytest.mark.parametrize(
    ("legacy", "app", "ids", "expected"),
    [
        pytest.param(
            positions("pos_a1b2c3"),
            positions("pos_d4e5f6"),
            {"pos_d4e5f6": "pos_a1b2c3"},
            [],
            id="ids-mapped",
        ),
        pytest.param(
            positions("pos_a1b2c3"),
            positions("pos_d4e5f6"),
            {},
            [("positions[0].position_id", DiffKind.CHANGED)],
            id="uncorrelated-position",
        ),
        pytest.param(
            positions("pos_a1b2c3"),
            positions("pos_d4e5f6", price=None),
            {"pos_d4e5f6": "pos_a1b2c3"},
            [
                ("positions[0].current_price", DiffKind.CHANGED),
                ("positions[0].unrealized_pnl", DiffKind.CHANGED),
                ("positions[0].unrealized_pnl_pct", DiffKind.CHANGED),
            ],
            id="price-lookup-failed-on-one-side",
        ),
        pytest.param(
            {"watchlist": [{"ticker": "AAPL", "name": "Apple", "added_at": "2026-04-13"}]},
            {"watchlist": [{"ticker": "AAPL", "name": "Apple", "added_at": "2026-04-13"}]},
            {},
            [],
            id="watchlist",
        ),
        pytest.param(
            {"accounts": ["默认账户"]},
            {"accounts": "默认账户"},
            {},
            [("accounts", DiffKind.TYPE_CHANGED)],
            id="shape-changed",
        ),
    ],
)
def test_portfolio_json(legacy: Any, app: Any, ids: dict[str, str], expected: list[Any]) -> None:
    assert fields(compare("portfolio_json", legacy, app, ids)) == expected


# ------------------------------------------------------------ generic profiles through the engine


def observe(side: Side, body: bytes, content_type: str = "application/json") -> Observation:
    return Observation(side, 200, (("Content-Type", content_type),), body)


def http(profile: str, route: str = "/r") -> Exchange:
    return Exchange(
        "c", "r", ExchangeKind.HTTP, RouteGroup.SYSTEM, route, "GET", route, Side.APP, profile
    )


@pytest.mark.parametrize(
    ("profile", "legacy", "app", "outcome", "expected"),
    [
        pytest.param(
            "status_only",
            observe(Side.LEGACY, b"%PDF-1.4 legacy", "application/pdf"),
            observe(Side.APP, b"%PDF-1.4 app, other bytes", "application/pdf"),
            Outcome.MATCH,
            [],
            id="pdf-status-and-type-only",
        ),
        pytest.param(
            "status_only",
            observe(Side.LEGACY, b"%PDF-1.4", "application/pdf"),
            observe(Side.APP, b"{}", "application/json"),
            Outcome.MISMATCH,
            [("content_type", DiffKind.CHANGED)],
            id="pdf-content-type",
        ),
        pytest.param(
            "json_equal",
            observe(Side.LEGACY, b"<html>index</html>", "text/html"),
            observe(Side.APP, b"<html>index</html>", "text/html"),
            Outcome.MATCH,
            [],
            id="unparseable-compared-as-bytes",
        ),
        pytest.param(
            "json_equal",
            observe(Side.LEGACY, b"<html>index</html>", "text/html"),
            observe(Side.APP, b'{"message":"TradingAgents Web Dashboard API","version":"0.1.0"}'),
            Outcome.MISMATCH,
            [("body", DiffKind.CHANGED)],
            id="one-side-unparseable",
        ),
        pytest.param(
            "json_equal",
            observe(Side.LEGACY, b'{"status":"ok"}'),
            observe(Side.APP, b'{"status":"ok","extra":1}'),
            Outcome.MISMATCH,
            [("extra", DiffKind.EXTRA)],
            id="json-equal-extra-key",
        ),
        pytest.param(
            "json_equal",
            observe(Side.LEGACY, b'{"configured":true}'),
            observe(Side.APP, b'{"configured":"true"}'),
            Outcome.MISMATCH,
            [("configured", DiffKind.TYPE_CHANGED)],
            id="type-changed",
        ),
        pytest.param(
            "bytes_equal",
            observe(Side.LEGACY, b"abc"),
            observe(Side.APP, b"abd"),
            Outcome.MISMATCH,
            [("body", DiffKind.CHANGED)],
            id="bytes",
        ),
    ],
)
def test_generic_profiles(
    profile: str, legacy: Observation, app: Observation, outcome: Outcome, expected: list[Any]
) -> None:
    comparison = ENGINE(http(profile), legacy, app, {})
    assert comparison.outcome is outcome
    assert [(d.field, d.kind) for d in comparison.differences] == expected


def test_bytes_differences_carry_a_bounded_digest_not_the_body() -> None:
    body = b"x" * 10_000
    comparison = ENGINE(
        http("bytes_equal"), observe(Side.LEGACY, body), observe(Side.APP, b"y"), {}
    )
    difference = comparison.differences[0]
    assert isinstance(difference.legacy, str)
    assert difference.legacy.startswith("10000 bytes, sha256 ")
    assert len(difference.legacy) < 64


def test_json_fields_compares_only_the_configured_key_fields() -> None:
    spec = RouteSpec(RouteGroup.SYSTEM, "/v1/orders/{id}", frozenset({"GET"}), "json_fields")
    engine = DiffEngine(DiffConfig(routes=(ConfigRoute(spec, ("status", "items")),)))
    legacy = {"status": "open", "items": [{"sku": "a", "qty": 1}], "served_by": "old", "ts": 1}
    app = {"status": "open", "items": [{"sku": "a", "qty": 2}], "served_by": "new", "ts": 2}
    values = engine.compare_values("json_fields", legacy, app, {}, route="/v1/orders/{id}")
    assert fields(values) == [("items[0].qty", DiffKind.CHANGED)]
    comparison = engine(
        http("json_fields", "/v1/orders/{id}"),
        observe(Side.LEGACY, orjson.dumps(legacy)),
        observe(Side.APP, orjson.dumps(app)),
        {},
    )
    assert [d.field for d in comparison.differences] == ["items[0].qty"]
    assert {d.field for d in comparison.secondary} == {"items[0].qty", "served_by", "ts"}


def test_unknown_profile_is_a_sentence() -> None:
    with pytest.raises(ValueError, match="no diff profile named 'xml' \\(route /r\\)"):
        compare("xml", {}, {})


def test_a_repeated_member_does_not_hide_the_first() -> None:
    legacy = legacy_live(legacy_signal("AAPL", direction=1), legacy_signal("AAPL", direction=1))
    app = app_live(app_signal("AAPL", direction=1), app_signal("AAPL", direction=-1))
    assert fields(compare("live_signals", legacy, app)) == [
        ("signals[AAPL:2026-04-11#2].direction", DiffKind.CHANGED),
        ("signals[AAPL:2026-04-11#2].llm_direction", DiffKind.CHANGED),
    ]


def test_large_bodies_get_key_fields_but_no_secondary_report() -> None:
    legacy = {"rows": [{"i": i, "v": "x" * 20} for i in range(600)]}
    app = {"rows": [{"i": i, "v": "y" * 20} for i in range(600)]}
    comparison = ENGINE(
        http("json_equal"),
        observe(Side.LEGACY, orjson.dumps(legacy)),
        observe(Side.APP, orjson.dumps(app)),
        {},
    )
    assert comparison.outcome is Outcome.MISMATCH
    assert len(comparison.differences) == 50
    assert comparison.secondary == ()


def test_a_body_nested_too_deep_is_compared_as_bytes() -> None:
    deep = b"[" * 500 + b"]" * 500
    comparison = ENGINE(http("json_equal"), observe(Side.LEGACY, deep), observe(Side.APP, deep), {})
    assert comparison.outcome is Outcome.MATCH
    assert comparison.secondary == ()
    changed = ENGINE(http("json_equal"), observe(Side.LEGACY, deep), observe(Side.APP, b"[]"), {})
    assert [(d.field, d.kind) for d in changed.differences] == [("body", DiffKind.CHANGED)]


def test_a_parsed_value_nested_too_deep_is_refused_with_a_sentence() -> None:
    deep: Any = []
    for _ in range(100):
        deep = [deep]
    with pytest.raises(ValueError, match="the app value nests deeper than 64 levels"):
        compare("status_document", {}, deep)


def test_a_csv_that_does_not_parse_is_compared_as_bytes() -> None:
    huge_cell = b'ticker,summary\nAAPL,"' + b"x" * 200_000 + b'"\n'
    comparison = ENGINE(
        http("csv"),
        observe(Side.LEGACY, huge_cell, "text/csv"),
        observe(Side.APP, b"\xff", "text/csv"),
        {},
    )
    assert [(d.field, d.kind) for d in comparison.differences] == [("body", DiffKind.CHANGED)]


# ---------------------------------------------------------------- the cancel notice (§2.6)

STATUS_ROUTE = "/api/analysis/status/{task_id}"


def cancelled_legacy(error: str = "用户取消") -> dict[str, Any]:
    """A completed legacy task that was then cancelled: the raw state keeps its results."""
    return {
        "task_id": AAPL_L,
        "ticker": "AAPL",
        "date": "2026-04-13",
        "status": "failed",
        "progress": 100,
        "current_stage": "portfolio",
        "stages": [{"status": "completed", "completed_at": "12:00:03"}] * 5,
        "decision": "SELL",
        "quant_signal": "HOLD",
        "llm_signal": "UNDERWEIGHT",
        "confidence": 0.9,
        "error": error,
    }


def cancelled_app(error: Any) -> dict[str, Any]:
    """The app's cancelled task: its result stays; a completed one shows its contract's error."""
    stages = ("analysts", "research", "trading", "risk", "portfolio")
    signals = {"quant": {"rating": "HOLD"}, "llm": {"rating": "UNDERWEIGHT"}}
    return {
        "contract_version": "v1alpha1",
        "task_id": AAPL_A,
        "status": "cancelled",
        "error": error,
        "ticker": "AAPL",
        "date": "2026-04-13",
        "progress": 100,
        "current_stage": "portfolio",
        "stages": [{"name": name, "status": "completed"} for name in stages],
        "result": {"decision": "SELL", "confidence": 0.9, "signals": signals},
    }


NOTICE = {"code": "cancelled", "message": "用户取消", "retryable": False}


@pytest.mark.parametrize(
    ("legacy", "app", "outcome", "expected"),
    [
        pytest.param(
            cancelled_legacy(),
            cancelled_app(NOTICE),
            Outcome.MATCH,
            [],
            id="both-carry-the-notice",
        ),
        pytest.param(
            cancelled_legacy(),
            cancelled_app(None),
            Outcome.MISMATCH,
            [("error.cancel_notice", DiffKind.CHANGED)],
            id="cancelled-after-completion-differs-on-the-notice-only",
        ),
        pytest.param(
            cancelled_legacy(),
            cancelled_app({"code": "analysis_failed", "message": "boom", "retryable": False}),
            Outcome.MISMATCH,
            [
                ("error.cancel_notice", DiffKind.CHANGED),
                ("error.present", DiffKind.CHANGED),
                ("error.message", DiffKind.EXTRA),
            ],
            id="another-error-on-a-cancelled-task-is-still-an-error",
        ),
        pytest.param(
            cancelled_legacy("boom"),
            cancelled_app(None),
            Outcome.MISMATCH,
            [
                ("status", DiffKind.CHANGED),
                ("error.present", DiffKind.CHANGED),
                ("error.message", DiffKind.MISSING),
                ("error.cancel_notice", DiffKind.EXTRA),
            ],
            id="a-failure-is-no-cancel",
        ),
    ],
)
def test_cancel_notice(legacy: Any, app: Any, outcome: Outcome, expected: list[Any]) -> None:
    bare = DiffEngine(DiffConfig())
    values = bare.compare_values("status_document", legacy, app, IDS, route=STATUS_ROUTE)
    assert values.outcome is outcome
    assert fields(values) == expected


def test_the_built_in_default_accepts_only_the_cancel_notice() -> None:
    values = compare("status_document", cancelled_legacy(), cancelled_app(None), route=STATUS_ROUTE)
    assert values.outcome is Outcome.ACCEPTED
    assert [(d.field, d.legacy, d.app) for d in values.accepted] == [
        ("error.cancel_notice", True, False)
    ]
    lost = cancelled_app({"code": "analysis_failed", "message": "boom", "retryable": False})
    values = compare("status_document", cancelled_legacy(), lost, route=STATUS_ROUTE)
    assert values.outcome is Outcome.MISMATCH
    assert "error.present" in [d.field for d in values.differences]


# ---------------------------------------------------------------- status vocabulary (§8 item 6)


@pytest.mark.parametrize(
    ("legacy", "app", "outcome"),
    [
        pytest.param("completed", "succeeded", Outcome.MISMATCH, id="unknown-terminal-word"),
        pytest.param("failed", "errored", Outcome.MISMATCH, id="unknown-failure-word"),
        pytest.param("completed", "running", Outcome.INFLIGHT_SKEW, id="known-in-flight-word"),
    ],
)
def test_a_status_word_outside_the_vocabulary_is_compared_strictly(
    legacy: str, app: str, outcome: Outcome
) -> None:
    legacy_document = cancelled_legacy() | {"status": legacy, "error": None}
    app_document = cancelled_app(None) | {"status": app}
    values = compare("status_document", legacy_document, app_document, route=STATUS_ROUTE)
    assert values.outcome is outcome
    assert fields(values) == [("status", DiffKind.CHANGED)]
    listed = compare(
        "task_list",
        legacy_tasks(legacy_item(AAPL_L, "AAPL", status=legacy)),
        app_tasks(app_item(AAPL_A, "AAPL", status=app)),
    )
    assert listed.outcome is outcome
    assert fields(listed)[0] == (f"tasks[{AAPL_L}].status", DiffKind.CHANGED)
