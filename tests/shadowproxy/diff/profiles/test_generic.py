"""The generic profiles: whole JSON, configured key fields, portfolio JSON, bytes, status only."""

from __future__ import annotations

from typing import Any

import pytest

from shadowproxy.diff.config import ConfigRoute, DiffConfig
from shadowproxy.diff.engine import DiffEngine
from shadowproxy.types import DiffKind, JSONValue, Observation, Outcome, RouteGroup, RouteSpec, Side

from ...factories import aliases, exchange, observation
from ..documents import ENGINE, compare, fields

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
    assert fields(compare("portfolio_json", legacy, app, aliases(ids))) == expected


# ------------------------------------------------------------ generic profiles through the engine


@pytest.mark.parametrize(
    ("profile", "legacy", "app", "outcome", "expected"),
    [
        pytest.param(
            "status_only",
            observation(Side.LEGACY, 200, b"%PDF-1.4 legacy", content_type="application/pdf"),
            observation(
                Side.APP, 200, b"%PDF-1.4 app, other bytes", content_type="application/pdf"
            ),
            Outcome.MATCH,
            [],
            id="pdf-status-and-type-only",
        ),
        pytest.param(
            "status_only",
            observation(Side.LEGACY, 200, b"%PDF-1.4", content_type="application/pdf"),
            observation(Side.APP, 200, {}),
            Outcome.MISMATCH,
            [("content_type", DiffKind.CHANGED)],
            id="pdf-content-type",
        ),
        pytest.param(
            "json_equal",
            observation(Side.LEGACY, 200, b"<html>index</html>", content_type="text/html"),
            observation(Side.APP, 200, b"<html>index</html>", content_type="text/html"),
            Outcome.MATCH,
            [],
            id="unparseable-compared-as-bytes",
        ),
        pytest.param(
            "json_equal",
            observation(Side.LEGACY, 200, b"<html>index</html>", content_type="text/html"),
            observation(
                Side.APP, 200, {"message": "TradingAgents Web Dashboard API", "version": "0.1.0"}
            ),
            Outcome.MISMATCH,
            [("body", DiffKind.CHANGED)],
            id="one-side-unparseable",
        ),
        pytest.param(
            "json_equal",
            observation(Side.LEGACY, 200, {"status": "ok"}),
            observation(Side.APP, 200, {"status": "ok", "extra": 1}),
            Outcome.MISMATCH,
            [("extra", DiffKind.EXTRA)],
            id="json-equal-extra-key",
        ),
        pytest.param(
            "json_equal",
            observation(Side.LEGACY, 200, {"configured": True}),
            observation(Side.APP, 200, {"configured": "true"}),
            Outcome.MISMATCH,
            [("configured", DiffKind.TYPE_CHANGED)],
            id="type-changed",
        ),
        pytest.param(
            "bytes_equal",
            observation(Side.LEGACY, 200, b"abc"),
            observation(Side.APP, 200, b"abd"),
            Outcome.MISMATCH,
            [("body", DiffKind.CHANGED)],
            id="bytes",
        ),
    ],
)
def test_generic_profiles(
    profile: str, legacy: Observation, app: Observation, outcome: Outcome, expected: list[Any]
) -> None:
    comparison = ENGINE(exchange(profile=profile), legacy, app, aliases())
    assert comparison.outcome is outcome
    assert [(d.field, d.kind) for d in comparison.differences] == expected


def test_json_fields_compares_only_the_configured_key_fields() -> None:
    spec = RouteSpec(RouteGroup.SYSTEM, "/v1/orders/{id}", frozenset({"GET"}), "json_fields")
    engine = DiffEngine(DiffConfig(routes=(ConfigRoute(spec, ("status", "items")),)))
    legacy: JSONValue = {
        "status": "open",
        "items": [{"sku": "a", "qty": 1}],
        "served_by": "old",
        "ts": 1,
    }
    app: JSONValue = {
        "status": "open",
        "items": [{"sku": "a", "qty": 2}],
        "served_by": "new",
        "ts": 2,
    }
    values = engine.compare_values("json_fields", legacy, app, aliases(), route="/v1/orders/{id}")
    assert fields(values) == [("items[0].qty", DiffKind.CHANGED)]
    comparison = engine(
        exchange(route="/v1/orders/{id}", profile="json_fields"),
        observation(Side.LEGACY, 200, legacy),
        observation(Side.APP, 200, app),
        aliases(),
    )
    assert [d.field for d in comparison.differences] == ["items[0].qty"]
    assert {d.field for d in comparison.secondary} == {"items[0].qty", "served_by", "ts"}
