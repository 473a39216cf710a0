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


@dataclass(frozen=True, slots=True)
class ProjectionContext:
    side: Side
    ids: IdAliases

    def canonical_id(self, value: JSONValue) -> str | None:
        """An id in legacy terms: app ids go through the correlation map; unknown ones stay."""
        if not isinstance(value, str):
            return None
        if self.side is Side.APP:
            return self.ids.get(value, value)
        return value


class Profile(ABC):
    name: ClassVar[str]
    body: ClassVar[BodyKind] = BodyKind.JSON

    @abstractmethod
    def __call__(self, value: JSONValue, context: ProjectionContext) -> View: ...


# Profiles, flattening and deepdiff walk bodies recursively; real payloads nest under ten levels,
# and a hostile one nested hundreds deep must be compared as bytes, not exhaust the stack.
MAX_DEPTH = 64


def too_deep(value: JSONValue, limit: int = MAX_DEPTH) -> bool:
    """Whether arrays/objects nest deeper than `limit` (checked without recursion)."""
    stack: list[tuple[JSONValue, int]] = [(value, 0)]
    while stack:
        current, depth = stack.pop()
        if isinstance(current, dict | list):
            if depth >= limit:
                return True
            children = current.values() if isinstance(current, dict) else current
            stack.extend((child, depth + 1) for child in children)
    return False


def parse_body(kind: BodyKind, observation: Observation) -> JSONValue:
    """The profile's input; ValueError when the body is not what the profile expects."""
    if kind is BodyKind.JSON:
        try:
            value: JSONValue = orjson.loads(observation.body)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"the {observation.side} body is not JSON ({exc})") from None
        if too_deep(value):
            raise ValueError(f"the {observation.side} body nests deeper than {MAX_DEPTH} levels")
        return value
    if kind is BodyKind.CSV:
        try:
            content = observation.body.decode("utf-8-sig")
            reader = csv.reader(io.StringIO(content))
            rows: list[JSONValue] = [list[JSONValue](row) for row in reader]
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ValueError(f"the {observation.side} body is not UTF-8 CSV ({exc})") from None
        return rows
    if kind is BodyKind.HEADERS:
        content_type = observation.header("content-type")
        media = content_type.split(";", 1)[0].strip().lower() if content_type else None
        return {"content_type": media}
    return digest(observation.body)


def digest(body: bytes) -> JSONValue:
    """A bounded stand-in for bytes: the diff log never carries a whole body."""
    return f"{len(body)} bytes, sha256 {hashlib.sha256(body).hexdigest()[:16]}"
