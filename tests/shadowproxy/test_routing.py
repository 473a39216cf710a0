"""The route table: every upstream route, unknown paths, traversal-looking paths, config routes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shadowproxy.diff.config import ConfigRoute, DiffConfig
from shadowproxy.routing import TRADINGAGENTS_ROUTES, UNMATCHED, RouteTable, build_route_table
from shadowproxy.types import RouteGroup, RouteSpec

TABLE = build_route_table(DiffConfig())
A, R, P, S = RouteGroup.ANALYSIS, RouteGroup.REPORTS, RouteGroup.PORTFOLIO, RouteGroup.SYSTEM
TASK = "AAPL_20260413_120000_ab12cd"

# (method, path, template, group, profile, params, id_param, creates_id):
# docs/upstream-contract.md §1.1, rows 1-28
ROUTES = [
    ("GET", "/", "/", S, "json_equal", {}, None, None),
    ("GET", "/health", "/health", S, "json_equal", {}, None, None),
    ("GET", "/api/config/check", "/api/config/check", S, "json_equal", {}, None, None),
    ("POST", "/api/config/apikey", "/api/config/apikey", S, "json_equal", {}, None, None),
    ("GET", "/api/stocks/screen", "/api/stocks/screen", S, "json_equal", {}, None, None),
    (
        "POST",
        "/api/analysis/start",
        "/api/analysis/start",
        A,
        "analysis_accepted",
        {},
        None,
        "task_id",
    ),
    (
        "GET",
        f"/api/analysis/status/{TASK}",
        "/api/analysis/status/{task_id}",
        A,
        "status_document",
        {"task_id": TASK},
        "task_id",
        None,
    ),
    ("GET", "/api/analysis/tasks", "/api/analysis/tasks", A, "task_list", {}, None, None),
    (
        "DELETE",
        f"/api/analysis/cancel/{TASK}",
        "/api/analysis/cancel/{task_id}",
        A,
        "cancel_ack",
        {"task_id": TASK},
        "task_id",
        None,
    ),
    (
        "GET",
        f"/ws/analysis/{TASK}",
        "/ws/analysis/{task_id}",
        RouteGroup.WS_ANALYSIS,
        "status_document",
        {"task_id": TASK},
        "task_id",
        None,
    ),
    ("GET", "/api/reports/list", "/api/reports/list", R, "reports_list", {}, None, None),
    (
        "GET",
        "/api/reports/AAPL/2026-04-13",
        "/api/reports/{ticker}/{date}",
        R,
        "report_document",
        {"ticker": "AAPL", "date": "2026-04-13"},
        None,
        None,
    ),
    ("GET", "/api/reports/export", "/api/reports/export", R, "csv", {}, None, None),
    (
        "GET",
        "/api/reports/AAPL/2026-04-13/pdf",
        "/api/reports/{ticker}/{date}/pdf",
        R,
        "status_only",
        {"ticker": "AAPL", "date": "2026-04-13"},
        None,
        None,
    ),
    (
        "GET",
        "/api/portfolio/watchlist",
        "/api/portfolio/watchlist",
        P,
        "portfolio_json",
        {},
        None,
        None,
    ),
    (
        "POST",
        "/api/portfolio/watchlist",
        "/api/portfolio/watchlist",
        P,
        "portfolio_json",
        {},
        None,
        None,
    ),
    (
        "DELETE",
        "/api/portfolio/watchlist/AAPL",
        "/api/portfolio/watchlist/{ticker}",
        P,
        "portfolio_json",
        {"ticker": "AAPL"},
        None,
        None,
    ),
    (
        "GET",
        "/api/portfolio/accounts",
        "/api/portfolio/accounts",
        P,
        "portfolio_json",
        {},
        None,
        None,
    ),
    (
        "POST",
        "/api/portfolio/accounts",
        "/api/portfolio/accounts",
        P,
        "portfolio_json",
        {},
        None,
        None,
    ),
    (
        "DELETE",
        "/api/portfolio/accounts/%E9%BB%98%E8%AE%A4%E8%B4%A6%E6%88%B7",
        "/api/portfolio/accounts/{account_name}",
        P,
        "portfolio_json",
        {"account_name": "默认账户"},
        None,
        None,
    ),
    (
        "GET",
        "/api/portfolio/positions",
        "/api/portfolio/positions",
        P,
        "portfolio_json",
        {},
        None,
        None,
    ),
    (
        "POST",
        "/api/portfolio/positions",
        "/api/portfolio/positions",
        P,
        "portfolio_json",
        {},
        None,
        "position_id",
    ),
    (
        "DELETE",
        "/api/portfolio/positions/AAPL",
        "/api/portfolio/positions/{ticker}",
        P,
        "portfolio_json",
        {"ticker": "AAPL"},
        "position_id",
        None,
    ),
    (
        "GET",
        "/api/portfolio/positions/export",
        "/api/portfolio/positions/export",
        P,
        "csv",
        {},
        None,
        None,
    ),
    (
        "GET",
        "/api/portfolio/recommendations",
        "/api/portfolio/recommendations",
        P,
        "recommendations_list",
        {},
        None,
        None,
    ),
    (
        "GET",
        "/api/portfolio/recommendations/2026-04-13/AAPL",
        "/api/portfolio/recommendations/{date}/{ticker}",
        P,
        "recommendation_document",
        {"date": "2026-04-13", "ticker": "AAPL"},
        None,
        None,
    ),
    (
        "POST",
        "/api/portfolio/analyze",
        "/api/portfolio/analyze",
        P,
        "batch_accepted",
        {},
        None,
        "task_id",
    ),
    (
        "GET",
        "/ws/orchestrator",
        "/ws/orchestrator",
        RouteGroup.WS_ORCHESTRATOR,
        "live_signals",
        {},
        None,
        None,
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "template", "group", "profile", "params", "id_param", "creates_id"),
    [pytest.param(*row, id=f"{row[0]} {row[2]}") for row in ROUTES],
)
def test_every_reference_route(
    method: str,
    path: str,
    template: str,
    group: RouteGroup,
    profile: str,
    params: dict[str, str],
    id_param: str | None,
    creates_id: str | None,
) -> None:
    match = TABLE.match(method, path)
    assert match.spec.template == template
    assert method in match.spec.methods
    assert match.spec.group is group
    assert match.spec.profile == profile
    assert dict(match.params) == params
    assert (match.spec.id_param, match.spec.creates_id) == (id_param, creates_id)
    assert match.spec.mirror, "every TradingAgents route is mirrored, writes too"
    assert match.spec.websocket is template.startswith("/ws/")


def test_the_table_covers_the_28_reference_routes_once() -> None:
    pairs = {(m, spec.template) for spec in TRADINGAGENTS_ROUTES for m in spec.methods}
    assert len(pairs) == 28
    assert pairs == {(row[0], row[2]) for row in ROUTES}


@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        pytest.param(
            "DELETE",
            "/api/analysis/status/x",
            "/api/analysis/status/{task_id}",
            id="405-keeps-the-template",
        ),
        pytest.param(
            "GET",
            "/api/portfolio/watchlist/AAPL",
            "/api/portfolio/watchlist/{ticker}",
            id="get-on-delete-route",
        ),
        pytest.param(
            "DELETE",
            "/api/portfolio/positions/export",
            "/api/portfolio/positions/{ticker}",
            id="delete-export-is-a-ticker",
        ),
        pytest.param("HEAD", "/health", "/health", id="head-on-get"),
        pytest.param("get", "/health", "/health", id="lowercase-method"),
        pytest.param(
            "GET",
            "/api/reports/%41APL/2026-04-13",
            "/api/reports/{ticker}/{date}",
            id="percent-decoded",
        ),
    ],
)
def test_method_and_decoding(method: str, path: str, template: str) -> None:
    assert TABLE.match(method, path).spec.template == template


@pytest.mark.parametrize(
    ("method", "path", "mirror"),
    [
        pytest.param("GET", "/api/unknown", True, id="unknown-get"),
        pytest.param("OPTIONS", "/api/unknown", True, id="unknown-options"),
        pytest.param("POST", "/api/unknown", False, id="unknown-write"),
        pytest.param("GET", "/health/", True, id="trailing-slash"),
        pytest.param("GET", "/api/reports/../../etc/passwd", True, id="dot-dot-segments"),
        pytest.param("GET", "/api/reports/..%2F..%2Fetc/passwd", True, id="encoded-slash"),
        pytest.param("GET", "/api/reports/AAPL%5C..%5Cx/2026-04-13", True, id="encoded-backslash"),
        pytest.param("GET", "/api/analysis/status/%2e%2e", True, id="encoded-dot-dot"),
        pytest.param("DELETE", "/api/analysis/cancel/", False, id="empty-parameter"),
        pytest.param("GET", "/api/reports/AAPL/2026-04-13/pdf/extra", True, id="too-long"),
    ],
)
def test_unknown_and_traversal_looking_paths_fall_back(
    method: str, path: str, mirror: bool
) -> None:
    match = TABLE.match(method, path)
    assert match.spec.template == UNMATCHED
    assert match.spec.group is RouteGroup.SYSTEM
    assert match.spec.profile == "bytes_equal"
    assert match.spec.mirror is mirror
    assert dict(match.params) == {}


def test_mirror_unknown_writes() -> None:
    table = build_route_table(DiffConfig(mirror_unknown_writes=True))
    assert table.match("POST", "/api/unknown").spec.mirror


def test_config_routes_come_first_and_extend_the_table() -> None:
    orders = RouteSpec(
        RouteGroup.SYSTEM,
        "/v1/orders/{order_id}",
        frozenset({"GET"}),
        "json_fields",
        id_param="order_id",
    )
    health = RouteSpec(RouteGroup.SYSTEM, "/health", frozenset({"GET"}), "bytes_equal")
    config = DiffConfig(routes=(ConfigRoute(orders, ("status",)), ConfigRoute(health)))
    table = build_route_table(config)
    assert table.match("GET", "/v1/orders/o-1").params == {"order_id": "o-1"}
    assert table.match("GET", "/health").spec.profile == "bytes_equal"
    assert table.specs[:2] == (orders, health)
    assert len(table.specs) == 2 + len(TRADINGAGENTS_ROUTES)


def test_an_empty_table_still_answers() -> None:
    assert RouteTable([]).match("GET", "/").spec.template == UNMATCHED


SEGMENTS = st.sampled_from(
    ["api", "analysis", "status", "reports", "portfolio", "ws", "..", ".", "", "%2F", "%ff", "x"]
) | st.text(max_size=6)
TEMPLATES = {spec.template for spec in TRADINGAGENTS_ROUTES} | {UNMATCHED}


@settings(max_examples=200, deadline=None)
@given(
    method=st.sampled_from(["GET", "POST", "DELETE", "PATCH", "head"]),
    parts=st.lists(SEGMENTS, max_size=6),
)
def test_any_path_gets_a_bounded_label(method: str, parts: list[str]) -> None:
    match = TABLE.match(method, "/" + "/".join(parts))
    assert match.spec.template in TEMPLATES
    assert all(value not in ("", ".", "..") and "/" not in value for value in match.params.values())
