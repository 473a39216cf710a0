"""One answer against one contract: the reads it fails, each as a `Violation`.

Only the first failing element of an array read is reported (one `tasks[].error` finding, not one
per row): a break names a field a dashboard reads, and its count is what the metrics add up.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from shadowproxy.contracts.model import (
    EACH,
    Contract,
    JsonType,
    Read,
    Segments,
    Surface,
    member,
    type_of,
)
from shadowproxy.types import BreakKind, JSONValue

MAX_GOT = 200  # characters of an unexpected value kept in a break


@dataclass(frozen=True, slots=True)
class Violation:
    field: str
    kind: BreakKind
    expected: str
    got: JSONValue
    known: str | None = None  # a documented frontend defect: reported, never acted on


def surface_for(
    contract: Contract, method: str, route: str, document: JSONValue, *, websocket: bool
) -> Surface | None:
    """The surface a document is read as, or None when this consumer does not read it."""
    message = None
    if websocket:
        kind = document.get("type") if isinstance(document, dict) else None
        if not isinstance(kind, str):
            return None
        message = kind
    surface = Surface(method, route, message)
    return surface if surface in contract.reads else None


def violations(reads: tuple[Read, ...], document: JSONValue) -> list[Violation]:
    found: list[Violation] = []
    for item in reads:
        violation = _first(item, document)
        if violation is not None:
            found.append(violation)
    return found


def _first(item: Read, document: JSONValue) -> Violation | None:
    """The first failing element; a documented defect only when no element fails otherwise."""
    known: Violation | None = None
    for element in _elements(document, item.scope):
        if not all(c.holds(*_lookup(element, c.path)) for c in item.when):
            continue
        violation = _judge(item, element)
        if violation is not None and violation.known is None:
            return violation
        known = known or violation
    return known


def _judge(item: Read, element: JSONValue) -> Violation | None:
    value, state = _pick(item, element)
    if value is None:
        if not item.required or JsonType.NULL in item.types:
            return None
        return Violation(item.name, BreakKind.MISSING, item.expected, state)
    kind = type_of(value)
    if item.types and kind not in item.types:
        return Violation(item.name, BreakKind.TYPE_CHANGED, item.expected, kind.value)
    if item.enum and not member(value, item.enum):
        known = item.known.get(value) if isinstance(value, str) else None
        return Violation(item.name, BreakKind.UNKNOWN_VALUE, item.expected, _short(value), known)
    return None


def _pick(item: Read, element: JSONValue) -> tuple[JSONValue, str]:
    """The first present, non-null value of the read's paths; else None and "null" or "absent"."""
    state = "absent"
    for path in item.paths:
        value, present = _lookup(element, path)
        if value is not None:
            return value, "value"
        if present:
            state = "null"  # null falls through to the fallback, as `??` does
    return None, state


def _elements(document: JSONValue, scope: Segments) -> Iterator[JSONValue]:
    """Every element the scope reaches; a missing or mistyped step reaches none."""
    level: list[JSONValue] = [document]
    for segment in scope:
        following: list[JSONValue] = []
        for value in level:
            if segment is EACH:
                if isinstance(value, list):
                    following.extend(value)
            elif isinstance(value, dict) and segment in value:
                following.append(value[segment])
        level = following
    return iter(level)


def _lookup(element: JSONValue, path: Segments) -> tuple[JSONValue, bool]:
    value = element
    for segment in path:
        if not isinstance(value, dict) or segment not in value:
            return None, False
        assert segment is not EACH  # relative paths never cross an array (model.read checks it)
        value = value[segment]
    return value, True


def _scalar(value: JSONValue) -> bool:
    return not isinstance(value, list | dict)


def _short(value: JSONValue) -> JSONValue:
    if isinstance(value, str) and len(value) > MAX_GOT:
        return value[:MAX_GOT] + "…"
    return value if _scalar(value) else type_of(value).value
