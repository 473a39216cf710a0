"""Request parsing with FastAPI's 422 error items, so validation failures diff cleanly.

Each helper parses one kind of input once, at the edge, and raises `ApiError(422, [...])` with
pydantic-v2-shaped items `{type, loc, msg, input[, ctx]}`. FastAPI validates before the handler
runs, so routes call these before the auth check, as upstream effectively did.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from legacy_backend.errors import ApiError

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500

_INT_RE = re.compile(r"^\s*[+-]?\d+\s*$")


class _Missing:
    """Marks an absent request body (distinct from a JSON `null`)."""


MISSING = _Missing()


def _item(kind: str, loc: list[Any], msg: str, value: Any, **ctx: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"type": kind, "loc": loc, "msg": msg, "input": value}
    if ctx:
        item["ctx"] = ctx
    return item


async def read_json_body(request: web.Request) -> Any:
    """The decoded JSON body, or MISSING when there is none; malformed JSON is a 422."""
    raw = await request.read()
    if not raw:
        return MISSING
    try:
        return json.loads(raw)
    except UnicodeDecodeError as exc:
        item = _item("json_invalid", ["body", 0], "JSON decode error", {}, error=str(exc))
        raise ApiError(422, [item]) from None
    except json.JSONDecodeError as exc:
        item = _item("json_invalid", ["body", exc.pos], "JSON decode error", {}, error=exc.msg)
        raise ApiError(422, [item]) from None


def _missing_body() -> ApiError:
    return ApiError(422, [_item("missing", ["body"], "Field required", None)])


def _require_dict(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(
            422, [_item("dict_type", ["body"], "Input should be a valid dictionary", body)]
        )
    return body


async def read_dict_body(request: web.Request) -> dict[str, Any]:
    """A `body: dict` parameter: required, and a JSON object."""
    body = await read_json_body(request)
    if body is MISSING:
        raise _missing_body()
    return _require_dict(body)


async def read_optional_dict_body(request: web.Request) -> dict[str, Any] | None:
    """A `body: dict = None` parameter: absent is fine, anything else must be an object."""
    body = await read_json_body(request)
    return None if body is MISSING else _require_dict(body)


@dataclass(frozen=True, slots=True)
class AnalysisRequest:
    """The upstream pydantic model `{ticker: str, date: str | None = None}`."""

    ticker: str
    date: str | None


async def read_analysis_request(request: web.Request) -> AnalysisRequest:
    body = await read_json_body(request)
    if body is MISSING:
        raise _missing_body()
    if not isinstance(body, dict):
        msg = "Input should be a valid dictionary or object to extract fields from"
        raise ApiError(422, [_item("model_attributes_type", ["body"], msg, body)])
    errors: list[dict[str, Any]] = []
    ticker = body.get("ticker")
    if "ticker" not in body:
        errors.append(_item("missing", ["body", "ticker"], "Field required", body))
    elif not isinstance(ticker, str):
        errors.append(
            _item("string_type", ["body", "ticker"], "Input should be a valid string", ticker)
        )
    date = body.get("date")
    if date is not None and not isinstance(date, str):
        errors.append(
            _item("string_type", ["body", "date"], "Input should be a valid string", date)
        )
    if errors:
        raise ApiError(422, errors)
    assert isinstance(ticker, str)  # narrowed by the checks above
    return AnalysisRequest(ticker=ticker, date=date)


def _query_int(
    request: web.Request, name: str, default: int, *, ge: int, le: int | None
) -> tuple[int, dict[str, Any] | None]:
    raw = request.query.get(name)
    if raw is None:
        return default, None
    loc = ["query", name]
    if not _INT_RE.match(raw):
        msg = "Input should be a valid integer, unable to parse string as an integer"
        return default, _item("int_parsing", loc, msg, raw)
    value = int(raw)
    if value < ge:
        msg = f"Input should be greater than or equal to {ge}"
        return default, _item("greater_than_equal", loc, msg, raw, ge=ge)
    if le is not None and value > le:
        msg = f"Input should be less than or equal to {le}"
        return default, _item("less_than_equal", loc, msg, raw, le=le)
    return value, None


@dataclass(frozen=True, slots=True)
class Page:
    limit: int
    offset: int

    def slice(self, items: list[Any]) -> list[Any]:
        return items[self.offset : self.offset + self.limit]


def read_page(request: web.Request) -> Page:
    """`limit` in [1, MAX_PAGE_SIZE] (default DEFAULT_PAGE_SIZE) and `offset` >= 0."""
    limit, limit_error = _query_int(request, "limit", DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    offset, offset_error = _query_int(request, "offset", 0, ge=0, le=None)
    errors = [error for error in (limit_error, offset_error) if error is not None]
    if errors:
        raise ApiError(422, errors)
    return Page(limit=limit, offset=offset)
