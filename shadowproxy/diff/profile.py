"""What every profile is: a callable that projects one side's parsed body to a canonical view.

Profiles are configured once (their normalizer chain is built in `__init__`) and called per body
with a `ProjectionContext` naming the side and the correlation map, so one instance serves every
request. `body` tells the engine how to turn bytes into the value the profile receives
(`parse_body`): bodies stay bytes until a profile asks for them.
"""

from __future__ import annotations

import csv
import hashlib
import io
from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

import orjson

from shadowproxy.diff.view import View
from shadowproxy.types import IdAliases, JSONValue, Observation, Side


class BodyKind(StrEnum):
    JSON = "json"  # orjson; a body that does not parse is compared as bytes
    CSV = "csv"  # UTF-8 text split into rows of cells
    BYTES = "bytes"  # length and digest only
    HEADERS = "headers"  # the body is not comparable (PDF): the content type stands in for it


# Python 3.11 looks an enum member up on its class through `EnumType.__getattr__`'s slow hook
# (~0.2 µs, ten times a plain attribute): the per-comparison paths use these names instead.
_APP = Side.APP
_JSON, _CSV, _HEADERS = BodyKind.JSON, BodyKind.CSV, BodyKind.HEADERS


@dataclass(frozen=True, slots=True)
class ProjectionContext:
    side: Side
    ids: IdAliases

    def canonical_id(self, value: JSONValue) -> str | None:
        """An id in legacy terms: app ids go through the correlation map; unknown ones stay."""
        if not isinstance(value, str):
            return None
        if self.side is _APP:
            return self.ids.get(value, value)
        return value


class Profile(ABC):
    name: ClassVar[str]
    body: ClassVar[BodyKind] = BodyKind.JSON
    # True when the view depends on the value alone, never on the side or the id map (no
    # `canonical_id`, no `MapIds`): one value then projects to one view for both sides, and the
    # engine projects byte-equal bodies once. False, the safe default, projects each side.
    side_free: ClassVar[bool] = False

    @abstractmethod
    def __call__(self, value: JSONValue, context: ProjectionContext) -> View: ...


# Profiles, flattening and the secondary report walk bodies recursively; real payloads nest
# under ten levels, and a hostile one nested hundreds deep must be compared as bytes, not exhaust
# the stack.
MAX_DEPTH = 64


def too_deep(value: JSONValue, limit: int = MAX_DEPTH) -> bool:
    """Whether arrays/objects nest deeper than `limit` (checked without recursion).

    Level by level, holding only containers: scalars, most of a body, are never pushed.
    """
    level: list[dict[str, JSONValue] | list[JSONValue]] = (
        [value] if isinstance(value, dict | list) else []
    )
    depth = 0
    while level:
        if depth >= limit:
            return True
        below: list[dict[str, JSONValue] | list[JSONValue]] = []
        for container in level:
            children = container.values() if isinstance(container, dict) else container
            below.extend(child for child in children if isinstance(child, dict | list))
        level = below
        depth += 1
    return False


def may_be_too_deep(body: bytes, limit: int = MAX_DEPTH) -> bool:
    """False when the JSON text cannot nest deeper than `limit`: not enough brackets in it.

    A container at depth `limit` needs `limit + 1` opening brackets before it; brackets inside
    strings only make the count larger, so a body with fewer is shallow without walking its
    parsed value (two `bytes.count` scans, the common case by far).
    """
    return body.count(b"[") + body.count(b"{") > limit


# the kinds `parse_body` reads from the body alone (HEADERS reads the content type instead), so
# byte-equal bodies of these kinds parse to equal values
BODY_ONLY = frozenset({BodyKind.JSON, BodyKind.CSV, BodyKind.BYTES})


def parse_body(kind: BodyKind, observation: Observation) -> JSONValue:
    """The profile's input; ValueError when the body is not what the profile expects."""
    if kind is _JSON:
        try:
            value: JSONValue = orjson.loads(observation.body)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"the {observation.side} body is not JSON ({exc})") from None
        if may_be_too_deep(observation.body) and too_deep(value):
            raise ValueError(f"the {observation.side} body nests deeper than {MAX_DEPTH} levels")
        return value
    if kind is _CSV:
        try:
            content = observation.body.decode("utf-8-sig")
            reader = csv.reader(io.StringIO(content))
            rows: list[JSONValue] = [list[JSONValue](row) for row in reader]
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ValueError(f"the {observation.side} body is not UTF-8 CSV ({exc})") from None
        return rows
    if kind is _HEADERS:
        content_type = observation.header("content-type")
        media = content_type.split(";", 1)[0].strip().lower() if content_type else None
        return {"content_type": media}
    return digest(observation.body)


def digest(body: bytes) -> JSONValue:
    """A bounded stand-in for bytes: the diff log never carries a whole body."""
    return f"{len(body)} bytes, sha256 {hashlib.sha256(body).hexdigest()[:16]}"
