"""Rule 6, the secondary report: a full-body deepdiff for bodies that share a shape.

It is informative only (it never changes an outcome) and is the one place deepdiff is used: its
report is translated here into our `Difference`s so nothing outside sees a `DeepDiff`. Volatile
keys are dropped before diffing wherever they occur: timestamps, per-process ids and filesystem
paths differ between two independently running backends by construction.

deepdiff costs about half a millisecond per node, so bodies above `MAX_BODY_BYTES` (together)
get no secondary report: a 30 KiB list would hold the caller for a quarter of a second, and the
key-field comparison has already judged it.
"""

from __future__ import annotations

from typing import Any

from deepdiff import DeepDiff

from shadowproxy.types import Difference, DiffKind, JSONValue, child_path

MAX_BODY_BYTES = 16 * 1024
VOLATILE_KEYS = frozenset(
    {
        "created_at",
        "timestamp",
        "completed_at",
        "added_at",
        "elapsed",
        "elapsed_seconds",
        "request_id",
        "task_id",
        "position_id",
        "result_ref",
        "path",
    }
)
_KINDS = {
    "values_changed": DiffKind.CHANGED,
    "type_changes": DiffKind.TYPE_CHANGED,
    "dictionary_item_removed": DiffKind.MISSING,
    "iterable_item_removed": DiffKind.MISSING,
    "dictionary_item_added": DiffKind.EXTRA,
    "iterable_item_added": DiffKind.EXTRA,
}


def secondary_report(legacy: JSONValue, app: JSONValue, *, limit: int) -> tuple[Difference, ...]:
    """Differences between two whole bodies (objects or arrays both), at most `limit` of them."""
    if not (
        (isinstance(legacy, dict) and isinstance(app, dict))
        or (isinstance(legacy, list) and isinstance(app, list))
    ):
        return ()
    report = DeepDiff(_stable(legacy), _stable(app), view="tree")
    found: list[Difference] = []
    for section, kind in _KINDS.items():
        for level in report.get(section, ()):
            found.append(_difference(kind, field_name(level.path(output_format="list")), level))
    return tuple(found[:limit])


def _stable(value: JSONValue) -> JSONValue:
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in VOLATILE_KEYS}
    if isinstance(value, list):
        return [_stable(item) for item in value]
    return value


def _difference(kind: DiffKind, name: str, level: Any) -> Difference:
    if kind is DiffKind.MISSING:
        return Difference(name, kind, legacy=_json(level.t1))
    if kind is DiffKind.EXTRA:
        return Difference(name, kind, app=_json(level.t2))
    return Difference(name, kind, legacy=_json(level.t1), app=_json(level.t2))


def field_name(steps: list[str | int]) -> str:
    """deepdiff's path as a list of keys and indices (never its quoted text form, which quotes
    a key holding an apostrophe differently) as our field path, e.g. `a[0].b`."""
    name = ""
    for step in steps:
        name = child_path(name, step)
    return name or "body"


def _json(value: Any) -> JSONValue:
    """deepdiff hands back the parsed values themselves; anything else is shown as text."""
    if value is None or isinstance(value, bool | int | float | str | list | dict):
        return value  # parsed from JSON, so JSON all the way down
    return str(value)
