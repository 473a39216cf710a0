"""A consumer contract: per surface (method, route template, websocket message), the reads.

Paths are dotted from the JSON root; `a[]` means every element of the array `a`. A read may have
fallbacks (`result.decision`, else `compat.decision`): the first that is present and not null is
the value, as the dashboards' null-coalescing does. Every path of one read, and every path of its
`when` conditions, lives in the same array scope (the part up to the last `[]`), so a row's
`decision` is judged against the same row's `status`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from shadowproxy.types import JSONValue


class JsonType(StrEnum):
    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    OBJECT = "object"
    ARRAY = "array"
    NULL = "null"


def type_of(value: JSONValue) -> JsonType:
    if value is None:
        return JsonType.NULL
    if isinstance(value, bool):
        return JsonType.BOOLEAN
    if isinstance(value, int | float):
        return JsonType.NUMBER
    if isinstance(value, str):
        return JsonType.STRING
    if isinstance(value, list):
        return JsonType.ARRAY
    return JsonType.OBJECT


EACH = None  # a path segment meaning "every element of this array"
Segments = tuple[str | None, ...]


def parse_path(text: str) -> Segments:
    """`tasks[].compat.decision` -> ("tasks", EACH, "compat", "decision"); ValueError if bad."""
    if not text or text != text.strip():
        raise ValueError(f"{text!r} is not a path like 'result.decision' or 'tasks[].status'")
    segments: list[str | None] = []
    for position, part in enumerate(text.split(".")):
        name, brackets = part, 0
        while name.endswith("[]"):
            name, brackets = name[:-2], brackets + 1
        if "[" in name or "]" in name:
            raise ValueError(f"{text!r}: only '[]' (every element) may follow a key")
        if not name and not (brackets and position == 0):  # "[]" alone: a document that is a list
            raise ValueError(f"{text!r} is not a path like 'result.decision' or 'tasks[].status'")
        if name:
            segments.append(name)
        segments.extend([EACH] * brackets)
    return tuple(segments)


def scope_of(segments: Segments) -> Segments:
    """The array scope of a path: everything up to and including its last `[]`."""
    for index in range(len(segments) - 1, -1, -1):
        if segments[index] is EACH:
            return segments[: index + 1]
    return ()


def show_path(segments: Segments) -> str:
    text = ""
    for segment in segments:
        if segment is EACH:
            text += "[]"
        else:
            text += ("." if text else "") + segment
    return text


@dataclass(frozen=True, slots=True)
class Condition:
    """A read applies to an element only when the value at `path` is (or is not) one of `values`."""

    path: Segments  # relative to the read's scope
    values: frozenset[JSONValue]
    negate: bool = False  # `not_in`: an absent value satisfies it

    def holds(self, value: JSONValue, present: bool) -> bool:
        inside = present and member(value, self.values)
        return not inside if self.negate else inside


def member(value: JSONValue, values: frozenset[JSONValue]) -> bool:
    """`value in values` as JSON means it: scalars only, and true is not 1 (nor false 0)."""
    if isinstance(value, list | dict) or value not in values:
        return False
    if isinstance(value, bool | int | float):  # Python has True == 1 == 1.0; JSON does not
        boolean = isinstance(value, bool)
        return any(isinstance(listed, bool) is boolean and listed == value for listed in values)
    return True


@dataclass(frozen=True, slots=True)
class Read:
    """One value a consumer reads, as `field` names it in a break."""

    name: str  # the first path as written, e.g. "tasks[].result.decision"
    scope: Segments  # the array the read walks (empty: the document itself)
    paths: tuple[Segments, ...]  # the value and its fallbacks, relative to the scope
    required: bool
    types: frozenset[JsonType] = frozenset()  # empty: any type
    enum: frozenset[JSONValue] = frozenset()  # empty: any value
    known: Mapping[str, str] = field(default_factory=dict)  # value -> why it is only reported
    when: tuple[Condition, ...] = ()

    @property
    def expected(self) -> str:
        """What the consumer assumes there, in words for a break's `expected`."""
        if self.enum:
            return " | ".join(sorted(_json_text(value) for value in self.enum))
        if self.types:
            return "|".join(sorted(self.types))
        return "present"


def _json_text(value: JSONValue) -> str:
    """An enum value as JSON spells it: `true`, not Python's `True`."""
    return value if isinstance(value, str) else json.dumps(value)


@dataclass(frozen=True, slots=True)
class Surface:
    """Where a consumer reads: an HTTP route (method + template) or one websocket message."""

    method: str
    route: str
    message: str | None = None  # websocket: the `type` of the frames the reads apply to


@dataclass(frozen=True, slots=True)
class Contract:
    name: str
    description: str
    reads: Mapping[Surface, tuple[Read, ...]]

    def routes(self) -> frozenset[str]:
        return frozenset(surface.route for surface in self.reads)


def read(
    path: str,
    *,
    required: bool,
    fallbacks: tuple[str, ...] = (),
    types: tuple[str, ...] = (),
    enum: tuple[JSONValue, ...] = (),
    known: Mapping[str, str] | None = None,
    when: tuple[tuple[str, tuple[JSONValue, ...], bool], ...] = (),
) -> Read:
    """Build a read from written paths; ValueError names what is wrong (the loader adds where).

    `when` holds (path, values, negate) triples: `negate` False is `in`, True is `not_in`.
    """
    parsed = [parse_path(text) for text in (path, *fallbacks)]
    scope = scope_of(parsed[0])
    for text, segments in zip((path, *fallbacks), parsed, strict=True):
        if scope_of(segments) != scope:
            raise ValueError(
                f"{text!r} must read a key inside the same array as {path!r}"
                f" ({show_path(scope) or 'the document'})"
            )
    conditions = []
    for text, values, negate in when:
        segments = parse_path(text)
        if segments[: len(scope)] != scope or EACH in segments[len(scope) :]:
            raise ValueError(f"condition path {text!r} must be in the same array as {path!r}")
        conditions.append(Condition(segments[len(scope) :], frozenset(values), negate))
    try:
        kinds = frozenset(JsonType(name) for name in types)
    except ValueError:
        choices = ", ".join(kind.value for kind in JsonType)
        raise ValueError(f"types must be among {choices}, got {list(types)}") from None
    known = dict(known or {})
    return Read(
        name=path,
        scope=scope,
        paths=tuple(segments[len(scope) :] for segments in parsed),
        required=required,
        types=kinds,
        enum=frozenset(enum),
        known=known,
        when=tuple(conditions),
    )
