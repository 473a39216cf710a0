"""Portfolio routes: watchlist, accounts, positions, recommendations.

The shapes and status codes are the upstream's, quirks included (a missing `ticker` on the
watchlist is an unhandled 500; positions answer 400 with `str(exc)`), because the proxy diffs
these routes byte for byte against the legacy backend.
"""

from __future__ import annotations

from aiohttp import web

from app_service.contracts import CONTRACT_VERSION
from app_service.transport.context import PORTFOLIO, require_auth
from app_service.transport.http import ApiError, json_response, pagination, read_object_body

routes = web.RouteTableDef()


@routes.get("/api/portfolio/watchlist")
async def get_watchlist(request: web.Request) -> web.Response:
    require_auth(request)
    return json_response({"watchlist": await request.app[PORTFOLIO].watchlist()})


@routes.post("/api/portfolio/watchlist")
async def add_watch(request: web.Request) -> web.Response:
    body = await read_object_body(request)
    require_auth(request)
    entry = await request.app[PORTFOLIO].add_watch(body["ticker"], body.get("name"))
    return json_response(entry)


@routes.delete("/api/portfolio/watchlist/{ticker}")
async def remove_watch(request: web.Request) -> web.Response:
    require_auth(request)
    await request.app[PORTFOLIO].remove_watch(request.match_info["ticker"])
    return json_response({"ok": True})


@routes.get("/api/portfolio/accounts")
async def get_accounts(request: web.Request) -> web.Response:
    require_auth(request)
    return json_response({"accounts": await request.app[PORTFOLIO].account_names()})


@routes.post("/api/portfolio/accounts")
async def add_account(request: web.Request) -> web.Response:
    body = await read_object_body(request)
    require_auth(request)
    name = body["account_name"]
    await request.app[PORTFOLIO].add_account(name)
    return json_response({"account_name": name})


@routes.delete("/api/portfolio/accounts/{account_name}")
async def remove_account(request: web.Request) -> web.Response:
    require_auth(request)
    await request.app[PORTFOLIO].remove_account(request.match_info["account_name"])
    return json_response({"ok": True})


@routes.get("/api/portfolio/positions")
async def get_positions(request: web.Request) -> web.Response:
    require_auth(request)
    account = request.query.get("account") or None
    return json_response({"positions": await request.app[PORTFOLIO].list_positions(account)})


@routes.post("/api/portfolio/positions")
async def add_position(request: web.Request) -> web.Response:
    body = await read_object_body(request)
    require_auth(request)
    try:
        position = await request.app[PORTFOLIO].add_position(body)
    except Exception as exc:  # upstream answers every failure here with 400 and str(exc)
        raise ApiError(400, str(exc)) from None
    return json_response(position)


@routes.delete("/api/portfolio/positions/{ticker}")
async def remove_position(request: web.Request) -> web.Response:
    require_auth(request)
    await request.app[PORTFOLIO].remove_position(
        request.match_info["ticker"],
        request.query.get("position_id", ""),
        request.query.get("account") or None,
    )
    return json_response({"ok": True})


@routes.get("/api/portfolio/positions/export")
async def export_positions(request: web.Request) -> web.Response:
    require_auth(request)
    text = await request.app[PORTFOLIO].positions_csv(request.query.get("account") or None)
    return web.Response(
        text=text,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": "attachment; filename=positions.csv"},
    )


@routes.get("/api/portfolio/recommendations")
async def list_recommendations(request: web.Request) -> web.Response:
    limit, offset = pagination(request)
    require_auth(request)
    records = await request.app[PORTFOLIO].recommendations(request.query.get("date") or None)
    return json_response(
        {
            "contract_version": CONTRACT_VERSION,
            "recommendations": records[offset : offset + limit],
            "total": len(records),
            "limit": limit,
            "offset": offset,
        }
    )


@routes.get("/api/portfolio/recommendations/{date}/{ticker}")
async def get_recommendation(request: web.Request) -> web.Response:
    require_auth(request)
    record = await request.app[PORTFOLIO].recommendation(
        request.match_info["date"], request.match_info["ticker"]
    )
    if record is None:
        raise ApiError(404, "Recommendation not found")
    return json_response(record)
