"""Wire drift: learn which paths legacy's answers always carry, find app answers that lack them.

For APIs no consumer contract declares, and as a safety net for those one does. Per surface key
(method and route template, plus the message type on a websocket) the learner counts, over
legacy's answers, how often each path is present and with which JSON types; arrays fold to `[*]`
(a path under `a[*]` is present when any element has it). A path is *expected* once its parent
was seen in at least `min_responses` answers and the path in at least `presence` of those; an app
answer whose parent is there but the path is not, or whose type there legacy never sent, is a
drift finding. Emptiness is not drift: `a[*]` itself is never expected.

Bounded: at most `max_paths` paths per key and `max_keys` keys (new ones beyond are not learned),
and a document is walked through at most `ELEMENTS` elements of each array. Amortized: every
answer is learned until the key has `min_responses`, then one in `learn_every`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shadowproxy.contracts.model import type_of
from shadowproxy.types import BreakKind, DriftFinding, JSONValue, child_path

ELEMENTS = 16  # array elements walked per array (the shape of a list is in its first rows)
MAX_DEPTH = 32
SNAPSHOT_VERSION = 1


@dataclass(frozen=True, slots=True)
class DriftSettings:
    min_responses: int = 50
    presence: float = 0.99
    max_paths: int = 256
    max_keys: int = 256
    learn_every: int = 10

    def __post_init__(self) -> None:
        if min(self.min_responses, self.max_paths, self.max_keys, self.learn_every) < 1:
            raise ValueError("drift counts must be at least 1")
        if not 0.0 < self.presence <= 1.0:
            raise ValueError(f"drift presence must be in (0, 1], got {self.presence!r}")


@dataclass(slots=True)
class _Path:
    seen: int = 0
    types: set[str] = field(default_factory=set)


@dataclass(slots=True)
class _Shape:
    responses: int = 0
    offered: int = 0  # answers offered for learning (learned or sampled out)
    paths: dict[str, _Path] = field(default_factory=dict)
    overflow: int = 0  # sightings of paths not kept because the key had max_paths
    expected: dict[str, tuple[float, frozenset[str]]] | None = None  # cache; None when stale


Shape = dict[str, set[str]]  # path -> the JSON types found there


def flatten(document: JSONValue) -> Shape:
    """Every path of a document (arrays folded to `[*]`) with the JSON types found there."""
    out: dict[str, set[str]] = {}
    stack: list[tuple[str, JSONValue, int]] = [("", document, 0)]
    while stack:
        path, value, depth = stack.pop()
        if path:
            out.setdefault(path, set()).add(type_of(value).value)
        if depth >= MAX_DEPTH:
            continue
        if isinstance(value, dict):
            for key, item in value.items():
                stack.append((child_path(path, key), item, depth + 1))
        elif isinstance(value, list):
            for item in value[:ELEMENTS]:
                stack.append((f"{path}[*]", item, depth + 1))
    return out


def parent_of(path: str) -> str:
    if path.endswith("[*]"):
        return path[:-3]
    dot = path.rfind(".")
    return path[:dot] if dot > 0 else ""


class ShapeLearner:
    def __init__(self, settings: DriftSettings | None = None) -> None:
        self.settings = settings or DriftSettings()
        self._shapes: dict[str, _Shape] = {}
        self.changed = False  # something was learned since the last snapshot

    def learn(self, key: str, document: JSONValue) -> None:
        self.learn_shape(key, flatten(document))

    def learn_shape(self, key: str, present: Shape) -> None:
        """`learn` of a document already flattened (the inspector keeps recent ones)."""
        """Count one legacy 2xx answer (sampled once the key has enough)."""
        shape = self._shape(key)
        if shape is None:
            return
        shape.offered += 1
        if shape.responses >= self.settings.min_responses and (
            shape.offered % self.settings.learn_every
        ):
            return
        shape.responses += 1
        for path, types in present.items():
            entry = shape.paths.get(path)
            if entry is None:
                if len(shape.paths) >= self.settings.max_paths:
                    shape.overflow += 1
                    continue
                entry = shape.paths[path] = _Path()
            entry.seen += 1
            entry.types |= types
        shape.expected = None
        self.changed = True

    def learned(self, key: str) -> int:
        """How many answers the key has learned: its findings change only when this does."""
        shape = self._shapes.get(key)
        return 0 if shape is None else shape.responses

    def check(
        self, key: str, document: JSONValue, message: str | None = None
    ) -> list[DriftFinding]:
        """Drift of one app answer against what legacy's answers carry; [] before enough."""
        return self.check_shape(key, flatten(document), message)

    def check_shape(
        self, key: str, present: Shape, message: str | None = None
    ) -> list[DriftFinding]:
        """`check` of a document already flattened."""
        shape = self._shapes.get(key)
        if shape is None or shape.responses < self.settings.min_responses:
            return []
        found: list[DriftFinding] = []
        for path, (ratio, types) in self._expected(shape).items():
            parent = parent_of(path)
            if parent and parent not in present:
                continue  # judged only where its parent is (an empty list, a null object)
            if parent and not ({"object", "array"} & present[parent]):
                continue
            got = present.get(path)
            expected = "|".join(sorted(types))
            if got is None:
                if not path.endswith("[*]"):
                    found.append(
                        DriftFinding(path, BreakKind.MISSING, ratio, expected, None, message)
                    )
            elif not got <= types:
                shown = "|".join(sorted(got))
                found.append(
                    DriftFinding(path, BreakKind.TYPE_CHANGED, ratio, expected, shown, message)
                )
        return found

    def _expected(self, shape: _Shape) -> dict[str, tuple[float, frozenset[str]]]:
        if shape.expected is None:
            expected: dict[str, tuple[float, frozenset[str]]] = {}
            for path, entry in shape.paths.items():
                parent = parent_of(path)
                base = shape.responses if not parent else shape.paths.get(parent, _Path()).seen
                if (
                    base >= self.settings.min_responses
                    and entry.seen >= base * self.settings.presence
                ):
                    expected[path] = (round(entry.seen / base, 4), frozenset(entry.types))
            shape.expected = expected
        return shape.expected

    def _shape(self, key: str) -> _Shape | None:
        shape = self._shapes.get(key)
        if shape is None and len(self._shapes) < self.settings.max_keys:
            shape = self._shapes[key] = _Shape()
        return shape

    # ------------------------------------------------------------------ persistence, admin

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready state: what is persisted in the state dir and shown by the admin API."""
        self.changed = False
        return {
            "version": SNAPSHOT_VERSION,
            "routes": {
                key: {
                    "responses": shape.responses,
                    "offered": shape.offered,
                    "overflow": shape.overflow,
                    "paths": {
                        path: {"seen": entry.seen, "types": sorted(entry.types)}
                        for path, entry in sorted(shape.paths.items())
                    },
                }
                for key, shape in sorted(self._shapes.items())
            },
        }

    def report(self) -> dict[str, Any]:
        """Per key: answers learned, and the expected paths with their presence and types."""
        return {
            key: {
                "responses": shape.responses,
                "learned": shape.responses >= self.settings.min_responses,
                "paths_kept": len(shape.paths),
                "paths_not_kept": shape.overflow,
                "expected": {
                    path: {"presence": ratio, "types": sorted(types)}
                    for path, (ratio, types) in sorted(self._expected(shape).items())
                },
            }
            for key, shape in sorted(self._shapes.items())
        }

    def restore(self, data: Mapping[str, Any]) -> None:
        """Load a snapshot; ValueError when it is not one (the caller decides what to say)."""
        version = data.get("version") if isinstance(data, Mapping) else None
        if type(version) is not int or version != SNAPSHOT_VERSION:
            raise ValueError("not a drift snapshot of version 1")
        routes = data.get("routes")
        if not isinstance(routes, Mapping):
            raise ValueError("a drift snapshot needs a 'routes' table")
        shapes: dict[str, _Shape] = {}
        for key, raw in list(routes.items())[: self.settings.max_keys]:
            paths = raw.get("paths") if isinstance(raw, Mapping) else None
            if not isinstance(key, str) or not isinstance(paths, Mapping):
                raise ValueError(f"drift snapshot entry {key!r} is malformed")
            shape = _Shape(
                responses=_count(raw.get("responses")),
                offered=_count(raw.get("offered")),
                overflow=_count(raw.get("overflow")),
            )
            for path, entry in list(paths.items())[: self.settings.max_paths]:
                if not isinstance(entry, Mapping) or not isinstance(entry.get("types"), list):
                    raise ValueError(f"drift snapshot path {path!r} of {key!r} is malformed")
                shape.paths[str(path)] = _Path(
                    _count(entry.get("seen")), set(map(str, entry["types"]))
                )
            shapes[key] = shape
        self._shapes = shapes


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected a count, got {value!r}")
    return value
