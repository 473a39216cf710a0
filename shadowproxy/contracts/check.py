"""One answer against one contract: the reads it fails, each as a `Violation`.

Only the first failing element of an array read is reported (one `tasks[].error` finding, not one
per row): a break names a field a dashboard reads, and its count is what the metrics add up.

`Plan` is a contract's reads of one surface prepared once (grouped by array scope, conditions
shared, types as Python classes) and applied to every answer; it runs in the shadow task for
every comparison, so it is written for speed: one pass over each scope's elements, and a read
whose value is present and of the right type costs a few dictionary lookups.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from shadowproxy.contracts.model import EACH, Condition, JsonType, Read, Segments, member, type_of
from shadowproxy.types import BreakKind, JSONValue

MAX_GOT = 200  # characters of an unexpected value kept in a break

_PYTHON_TYPES: dict[JsonType, tuple[type, ...]] = {
    JsonType.STRING: (str,),
    JsonType.NUMBER: (int, float),
    JsonType.BOOLEAN: (bool,),
    JsonType.OBJECT: (dict,),
    JsonType.ARRAY: (list,),
    JsonType.NULL: (type(None),),
}


class Violation(NamedTuple):  # a tuple: built on every failing read, so it must be cheap
    field: str
    kind: BreakKind
    expected: str
    got: JSONValue
    known: str | None = None  # a documented frontend defect: reported, never acted on


@dataclass(frozen=True, slots=True)
class _Prepared:
    index: int  # the read's position in the plan's input
    read: Read
    when: int  # index of its condition set in the scope's list; -1: none
    classes: frozenset[type]  # the Python classes of its JSON types; empty: any
    nullable: bool  # absent or null is fine: optional, or null among its types
    expected: str
    # the fast path, for a read of one key with no fallback: a present value of one of these
    # classes (None: any) and, when the read has an enum of strings, one of `words` passes at
    # once; anything else takes `_judge`, which decides
    key: str | None
    accept: frozenset[type] | None
    words: frozenset[str] | None
    any_value: bool  # no enum

    def passes(self, element: JSONValue) -> bool:
        key = self.key
        if key is None or type(element) is not dict:
            return False
        value = element.get(key)
        if value is None:
            return self.nullable
        accept = self.accept
        if accept is not None and type(value) not in accept:
            return False
        words = self.words
        if words is None:
            return self.any_value
        return type(value) is str and value in words


class Plan:
    """Reads of one surface (one consumer's, or several consumers' merged), prepared once."""

    def __init__(self, reads: Iterable[Read]) -> None:
        scopes: dict[Segments, tuple[list[tuple[Condition, ...]], list[_Prepared]]] = {}
        for index, item in enumerate(reads):
            conditions, prepared = scopes.setdefault(item.scope, ([], []))
            when = -1
            if item.when:
                if item.when not in conditions:
                    conditions.append(item.when)
                when = conditions.index(item.when)
            classes = frozenset(cls for kind in item.types for cls in _PYTHON_TYPES[kind])
            nullable = not item.required or JsonType.NULL in item.types
            single = item.paths[0] if len(item.paths) == 1 and len(item.paths[0]) == 1 else ()
            words = frozenset(v for v in item.enum if isinstance(v, str))
            prepared.append(
                _Prepared(
                    index,
                    item,
                    when,
                    classes,
                    nullable,
                    item.expected,
                    key=single[0] if single else None,
                    accept=classes or None,
                    words=words if item.enum and len(words) == len(item.enum) else None,
                    any_value=not item.enum,
                )
            )
        self._scopes = [
            (scope, tuple(conditions), tuple(prepared))
            for scope, (conditions, prepared) in scopes.items()
        ]

    def violations(self, document: JSONValue) -> list[Violation]:
        return [violation for _, violation in self.found(document)]

    def found(self, document: JSONValue) -> list[tuple[int, Violation]]:
        """The violations with the index of the read that failed (plans shared by consumers)."""
        found: list[tuple[int, Violation]] = []
        for scope, conditions, prepared in self._scopes:
            if not scope:  # the document itself: one element, the common case, kept tight
                holds = [all(c.holds(*_lookup(document, c.path)) for c in w) for w in conditions]
                for item in prepared:
                    if (item.when >= 0 and not holds[item.when]) or item.passes(document):
                        continue
                    violation = _judge(item, document)
                    if violation is not None:
                        found.append((item.index, violation))
                continue
            elements = _elements(document, scope)
            if not elements:
                continue
            table = [
                [all(c.holds(*_lookup(element, c.path)) for c in w) for w in conditions]
                for element in elements
            ]
            for item in prepared:
                violation = _first(item, elements, table)
                if violation is not None:
                    found.append((item.index, violation))
        return found


def violations(reads: Iterable[Read], document: JSONValue) -> list[Violation]:
    """`Plan(reads).violations(document)`, for one document."""
    return Plan(reads).violations(document)


def _first(item: _Prepared, elements: list[JSONValue], holds: list[list[bool]]) -> Violation | None:
    """The first failing element; a documented defect only when no element fails otherwise."""
    known: Violation | None = None
    for index, element in enumerate(elements):
        if (item.when >= 0 and not holds[index][item.when]) or item.passes(element):
            continue
        violation = _judge(item, element)
        if violation is None:
            continue
        if violation.known is None:
            return violation
        known = known or violation
    return known


def _judge(item: _Prepared, element: JSONValue) -> Violation | None:
    read = item.read
    value: JSONValue = None
    state = "absent"
    for path in read.paths:  # the first present, non-null value; null falls through, as `??`
        found: JSONValue = element
        for segment in path:
            if type(found) is not dict or segment not in found:
                break
            found = found[segment]
        else:
            if found is not None:
                value = found
                break
            state = "null"
    if value is None:
        return (
            None if item.nullable else Violation(read.name, BreakKind.MISSING, item.expected, state)
        )
    if item.classes and type(value) not in item.classes:
        got = type_of(value).value
        return Violation(read.name, BreakKind.TYPE_CHANGED, item.expected, got)
    if read.enum and not member(value, read.enum):
        known = read.known.get(value) if isinstance(value, str) else None
        return Violation(read.name, BreakKind.UNKNOWN_VALUE, item.expected, _short(value), known)
    return None


def _elements(document: JSONValue, scope: Segments) -> list[JSONValue]:
    """Every element the scope reaches; a missing or mistyped step reaches none."""
    level: list[JSONValue] = [document]
    for segment in scope:
        following: list[JSONValue] = []
        for value in level:
            if segment is EACH:
                if type(value) is list:
                    following.extend(value)
            elif type(value) is dict and segment in value:
                following.append(value[segment])
        level = following
    return level


def _lookup(element: JSONValue, path: Segments) -> tuple[JSONValue, bool]:
    value = element
    for segment in path:
        if type(value) is not dict or segment not in value:
            return None, False
        value = value[segment]
    return value, True


def _short(value: JSONValue) -> JSONValue:
    if isinstance(value, str) and len(value) > MAX_GOT:
        return value[:MAX_GOT] + "…"
    return type_of(value).value if isinstance(value, list | dict) else value
