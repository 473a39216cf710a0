"""The canonical comparable view: what a profile makes of one side's body before diffing.

A view is flat on purpose: `fields` maps a dotted path (`stages.research`, `tasks[<id>].status`)
to a JSON leaf, so a difference names exactly one field and known differences can match it by
pattern. Collections (`tasks`, `signals`, `rows`) list their member keys so that a member one side
lacks is reported once as `tasks[<id>]` rather than once per field, and ordered collections can be
checked for `reordered`. Lifecycle scopes tell the engine which fields belong to an item that may
still be in flight (rule 4 of `diff.outcome`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from shadowproxy.types import JSONValue

IN_FLIGHT_STATUSES = frozenset({"running", "pending"})


def is_terminal(status: str | None) -> bool:
    """Only a side that says it is still running gets the in-flight tolerance.

    A status word outside both vocabularies (`succeeded`, `done`) is a contract change, not a
    moment of the lifecycle, so it is compared strictly like a terminal one; a missing status
    tells nothing and stays in flight.
    """
    return status is not None and status not in IN_FLIGHT_STATUSES


@dataclass(frozen=True, slots=True)
class Collection:
    """Member keys of a keyed collection in the view, in the order the body listed them."""

    keys: tuple[str, ...]
    ordered: bool = False  # True when a different order of the same keys is a difference
    # members whose position a side cannot express (left out of the order check)
    unplaced: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """Where an analysis or batch stands: compared with tolerance while either side runs."""

    terminal: bool
    progress: int | None = None  # 0..100, None when the shape has no progress
    stage: int | None = None  # stage index, or tickers done for a batch


@dataclass(frozen=True, slots=True)
class View:
    fields: Mapping[str, JSONValue]
    collections: Mapping[str, Collection] = field(default_factory=dict)
    # field-name suffixes this side's shape cannot express (legacy `degraded`): never compared
    inexpressible: frozenset[str] = frozenset()
    # field prefix ("" = whole document, "tasks[<id>]." = one item) -> lifecycle of that scope
    scopes: Mapping[str, Lifecycle] = field(default_factory=dict)
    task_id: str | None = None
    ticker: str | None = None
    date: str | None = None

    @property
    def terminal(self) -> bool:
        """The document as a whole is terminal when every lifecycle scope in it is."""
        return all(scope.terminal for scope in self.scopes.values())

    def expresses(self, name: str) -> bool:
        return not any(
            name == suffix or name.endswith("." + suffix) for suffix in self.inexpressible
        )


class MemberKeys:
    """Member keys in body order; a repeated key gets `#2`, `#3` so no member hides another."""

    def __init__(self) -> None:
        self._keys: list[str] = []
        self._seen: set[str] = set()

    def add(self, key: str | None) -> str:
        base = key if key is not None else f"#{len(self._keys)}"
        unique, count = base, 1
        while unique in self._seen:
            count += 1
            unique = f"{base}#{count}"
        self._keys.append(unique)
        self._seen.add(unique)
        return unique

    def collection(
        self, *, ordered: bool = False, unplaced: frozenset[str] = frozenset()
    ) -> Collection:
        return Collection(tuple(self._keys), ordered=ordered, unplaced=unplaced)


def member(collection: str, key: str) -> str:
    """The field path of one collection member: `tasks[AAPL_20260413_120000_ab12cd]`."""
    return f"{collection}[{key}]"


def text(value: JSONValue) -> str | None:
    return value if isinstance(value, str) else None


def obj(value: JSONValue) -> dict[str, JSONValue]:
    """A JSON object, or an empty one for anything else: projections read shapes defensively."""
    return value if isinstance(value, dict) else {}


def items(value: JSONValue) -> list[JSONValue]:
    return value if isinstance(value, list) else []


def dig(value: JSONValue, *path: str) -> JSONValue:
    """Follow object keys; None when any step is missing or not an object."""
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value
