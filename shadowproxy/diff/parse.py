"""Bodies stay bytes until a profile asks for them: this turns them into the value it projects."""

from __future__ import annotations

import csv
import hashlib
import io

import orjson

from shadowproxy.diff.profile import BodyKind
from shadowproxy.types import JSONValue, Observation


def parse_body(kind: BodyKind, observation: Observation) -> JSONValue:
    """The profile's input; ValueError when the body is not what the profile expects."""
    if kind is BodyKind.JSON:
        try:
            value: JSONValue = orjson.loads(observation.body)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"the {observation.side} body is not JSON ({exc})") from None
        return value
    if kind is BodyKind.CSV:
        try:
            content = observation.body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValueError(f"the {observation.side} body is not UTF-8 CSV") from None
        rows: list[JSONValue] = [list[JSONValue](row) for row in csv.reader(io.StringIO(content))]
        return rows
    if kind is BodyKind.HEADERS:
        content_type = observation.header("content-type")
        media = content_type.split(";", 1)[0].strip().lower() if content_type else None
        return {"content_type": media}
    return digest(observation.body)


def digest(body: bytes) -> JSONValue:
    """A bounded stand-in for bytes: the diff log never carries a whole body."""
    return f"{len(body)} bytes, sha256 {hashlib.sha256(body).hexdigest()[:16]}"
