"""The recommendation profiles (§2.7, §4.5): legacy flat records against the app's contract."""

from __future__ import annotations

from typing import Any

import pytest

from shadowproxy.types import DiffKind, JSONValue, Outcome

from ..documents import compare, fields

LEGACY_REC: dict[str, JSONValue] = {
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
    legacy: JSONValue = {
        "recommendations": [LEGACY_REC, msft_legacy],
        "total": 2,
        "limit": 50,
        "offset": 0,
    }
    app_items: list[JSONValue] = [app_rec(), app_rec("MSFT", date="2026-04-12")]
    app: dict[str, JSONValue] = {
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
