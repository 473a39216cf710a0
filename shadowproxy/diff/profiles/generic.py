"""Profiles that know no TradingAgents shape: whole JSON, chosen fields, bytes, status only.

These are also the generic-API extension: a configured route of another API picks one of them.
"""

from __future__ import annotations

from shadowproxy.diff.normalize import Flatten, MapIds, SelectFields
from shadowproxy.diff.profile import BodyKind, Profile, ProjectionContext
from shadowproxy.diff.view import View
from shadowproxy.types import JSONValue


class JsonEqual(Profile):
    """The whole JSON body, leaf by leaf."""

    name = "json_equal"
    side_free = True

    def __init__(self) -> None:
        self._flatten = Flatten()

    def __call__(self, value: JSONValue, context: ProjectionContext) -> View:
        return View(fields=self._flatten(value))


class JsonFields(Profile):
    """Only the configured key fields (subtrees by dotted path); the rest of the body is noise."""

    name = "json_fields"
    side_free = True

    def __init__(self, key_fields: tuple[str, ...] = ()) -> None:
        self._flatten = Flatten()
        self._select = SelectFields(key_fields)

    def __call__(self, value: JSONValue, context: ProjectionContext) -> View:
        return View(fields=self._select(self._flatten(value)))


class PortfolioJson(Profile):
    """Watchlist, accounts and positions: JSON-equal once app position ids are mapped to legacy.

    The two stores are separate, so ids minted by POST /positions differ; the correlation map learns
    them from the creating response.
    """

    name = "portfolio_json"

    def __init__(self) -> None:
        self._ids = MapIds(frozenset({"position_id"}))
        self._flatten = Flatten()

    def __call__(self, value: JSONValue, context: ProjectionContext) -> View:
        return View(fields=self._flatten(self._ids(value, context)))


class BytesEqual(Profile):
    """Bodies as opaque bytes (length and digest): the fallback for anything that does not parse."""

    name = "bytes_equal"
    side_free = True
    body = BodyKind.BYTES

    def __call__(self, value: JSONValue, context: ProjectionContext) -> View:
        return View(fields={"body": value})


class StatusOnly(Profile):
    """Nondeterministic bodies (the report PDF): the status is compared by the engine, plus the
    content type here."""

    name = "status_only"
    side_free = True
    body = BodyKind.HEADERS

    def __init__(self) -> None:
        self._flatten = Flatten()

    def __call__(self, value: JSONValue, context: ProjectionContext) -> View:
        return View(fields=self._flatten(value))
