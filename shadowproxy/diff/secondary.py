"""Rule 6, the secondary report: a full-body structural diff for bodies that share a shape.

It is informative only (it never changes an outcome). The diff is `structural.structural_diff`,
which reports what deepdiff reported here before (same sections, paths and values) at a
fifteenth of its cost; its findings are translated here into our `Difference`s. Volatile keys
are dropped wherever they occur, in what is compared and in the values reported: timestamps,
per-process ids and filesystem paths differ between two independently running backends by
construction.

Bodies above `MAX_BODY_BYTES` (together) get no secondary report: aligning two long arrays of
scalars is quadratic at worst, a large list of changed rows would hold the caller for a while,
and the key-field comparison has already judged it.
"""

from __future__ import annotations

from typing import Any

from shadowproxy.diff.structural import Finding, steps, structural_diff
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

# Python 3.11 looks an enum member up on its class through `EnumType.__getattr__`'s slow hook
# (~0.2 µs, ten times a plain attribute); a report names a kind per finding, so once here.
_CHANGED, _TYPE_CHANGED = DiffKind.CHANGED, DiffKind.TYPE_CHANGED
_MISSING, _EXTRA = DiffKind.MISSING, DiffKind.EXTRA


def secondary_report(legacy: JSONValue, app: JSONValue, *, limit: int) -> tuple[Difference, ...]:
    """Differences between two whole bodies (objects or arrays both), at most `limit` of them.

    In deepdiff's section order: changed values, changed types, removed keys and items, added
    keys and items; only the first `limit` findings are turned into `Difference`s.
    """
    if not (
        (isinstance(legacy, dict) and isinstance(app, dict))
        or (isinstance(legacy, list) and isinstance(app, list))
    ):
        return ()
    report = structural_diff(legacy, app, VOLATILE_KEYS)
    sections: tuple[tuple[DiffKind, list[Finding]], ...] = (
        (_CHANGED, report.changed),
        (_TYPE_CHANGED, report.types),
        (_MISSING, report.removed_keys),
        (_MISSING, report.removed_items),
        (_EXTRA, report.added_keys),
        (_EXTRA, report.added_items),
    )
    total = sum(len(findings) for _, findings in sections)
    room = min(total, limit) if limit >= 0 else max(total + limit, 0)  # what [:limit] would keep
    found: list[Difference] = []
    for kind, findings in sections:
        for path, left, right in findings[: room - len(found)]:
            found.append(_difference(kind, field_name(steps(path)), left, right))
    return tuple(found)


def without_volatile(value: JSONValue) -> JSONValue:
    """A reported value without its volatile keys, as the diff saw it."""
    if isinstance(value, dict):
        return {k: without_volatile(v) for k, v in value.items() if k not in VOLATILE_KEYS}
    if isinstance(value, list):
        return [without_volatile(item) for item in value]
    return value


def _difference(kind: DiffKind, name: str, legacy: JSONValue, app: JSONValue) -> Difference:
    if kind is _MISSING:
        return Difference(name, kind, legacy=_shown(legacy))
    if kind is _EXTRA:
        return Difference(name, kind, app=_shown(app))
    return Difference(name, kind, legacy=_shown(legacy), app=_shown(app))


def field_name(steps: list[str | int]) -> str:
    """A path as a list of keys and indices (never a quoted text form, which would quote a key
    holding an apostrophe differently) as our field path, e.g. `a[0].b`."""
    name = ""
    for step in steps:
        name = child_path(name, step)
    return name or "body"


def _shown(value: Any) -> JSONValue:
    """A value as the report shows it: containers without their volatile keys, scalars as they
    are; anything else (not from a JSON body) as text."""
    if isinstance(value, dict | list):
        return without_volatile(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
