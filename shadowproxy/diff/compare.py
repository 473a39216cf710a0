"""Key-field comparison of two canonical views: the differences a profile cares about.

Numbers compare by value (1 == 1.0); leaves named in `tolerant` (confidence) are equal within the
configured tolerance; null against a value is `changed`, a different JSON type is `type_changed`.
A collection member one side lacks is one `missing`/`extra` difference carrying its fields, and its
fields are not compared one by one. For ordered collections the common members are compared in
sequence (less the members a side cannot place); a different sequence is one `reordered`
difference on `<collection>.order`.
"""

from __future__ import annotations

from collections.abc import Mapping

from shadowproxy.diff.view import View, member
from shadowproxy.types import Difference, DiffKind, JSONValue

# floating-point slack so that a delta of exactly the tolerance (0.63 vs 0.635) is within it
_EPSILON = 1e-9
# Python 3.11 looks an enum member up on its class through `EnumType.__getattr__`'s slow hook
# (~0.2 µs, ten times a plain attribute): the per-comparison paths use these names instead.
_CHANGED, _TYPE_CHANGED = DiffKind.CHANGED, DiffKind.TYPE_CHANGED
_MISSING, _EXTRA = DiffKind.MISSING, DiffKind.EXTRA


def compare_views(
    legacy: View, app: View, *, tolerant: frozenset[str], tolerance: float
) -> list[Difference]:
    """Every key-field difference: legacy's fields in its order, then the app's own.

    This runs for every mirrored request, most of them matches, so a field whose two leaves are
    of one exact type and `==` (floats aside: `leaf_kind` compares them, with their tolerance)
    costs one test: whether a side cannot express it or it lies in a one-sided member only
    matters for a field that would differ, so those are checked after, not before.
    """
    differences, one_sided = _collections(legacy, app)
    suffixes = legacy.inexpressible | app.inexpressible
    dotted = tuple("." + suffix for suffix in suffixes)
    skipped = tuple(one_sided)

    def ignored(name: str) -> bool:
        """`not (legacy.expresses(name) and app.expresses(name))`, or inside a one-sided member."""
        return (
            name in suffixes
            or (bool(dotted) and name.endswith(dotted))
            or (bool(skipped) and name.startswith(skipped))
        )

    left_fields, right_fields = legacy.fields, app.fields
    for name, left in left_fields.items():
        if name in right_fields:
            right = right_fields[name]
            kind_of = type(left)
            if kind_of is type(right) and kind_of is not float and left == right:
                continue
            if ignored(name):
                continue
            leaf = name.rsplit(".", 1)[-1]
            kind = leaf_kind(left, right, tolerance if leaf in tolerant else 0.0)
            if kind is not None:
                differences.append(Difference(name, kind, legacy=left, app=right))
        elif not ignored(name):
            differences.append(Difference(name, _MISSING, legacy=left))
    for name, right in right_fields.items():
        if name not in left_fields and not ignored(name):
            differences.append(Difference(name, _EXTRA, app=right))
    return _reshaped(differences, legacy, app)


def leaf_kind(legacy: JSONValue, app: JSONValue, tolerance: float = 0.0) -> DiffKind | None:
    """How two leaves differ, or None when they are equal (within `tolerance` for numbers)."""
    if _number(legacy) and _number(app):
        assert isinstance(legacy, int | float)
        assert isinstance(app, int | float)
        return None if abs(legacy - app) <= tolerance + _EPSILON else _CHANGED
    if legacy is None or app is None:
        return None if legacy is app else _CHANGED
    if _json_type(legacy) != _json_type(app):
        return _TYPE_CHANGED
    return None if legacy == app else _CHANGED


def _collections(legacy: View, app: View) -> tuple[list[Difference], list[str]]:
    differences: list[Difference] = []
    one_sided: list[str] = []
    for name in dict.fromkeys([*legacy.collections, *app.collections]):
        left = legacy.collections.get(name)
        right = app.collections.get(name)
        left_keys = left.keys if left else ()
        right_keys = right.keys if right else ()
        right_set, left_set = set(right_keys), set(left_keys)
        for key in left_keys:
            if key not in right_set:
                prefix = member(name, key)
                one_sided.append(prefix + ".")
                differences.append(
                    Difference(prefix, DiffKind.MISSING, legacy=_member_fields(legacy, prefix))
                )
        for key in right_keys:
            if key not in left_set:
                prefix = member(name, key)
                one_sided.append(prefix + ".")
                differences.append(
                    Difference(prefix, DiffKind.EXTRA, app=_member_fields(app, prefix))
                )
        ordered = bool(left and left.ordered) or bool(right and right.ordered)
        unplaced = (left.unplaced if left else frozenset()) | (
            right.unplaced if right else frozenset()
        )
        common_left = [key for key in left_keys if key in right_set and key not in unplaced]
        common_right = [key for key in right_keys if key in left_set and key not in unplaced]
        if ordered and common_left != common_right:
            differences.append(
                Difference(
                    f"{name}.order",
                    DiffKind.REORDERED,
                    legacy=list[JSONValue](common_left),
                    app=list[JSONValue](common_right),
                )
            )
    return differences, one_sided


def _reshaped(differences: list[Difference], legacy: View, app: View) -> list[Difference]:
    """A leaf on one side where the other has an object or array is one difference, not many.

    Flat views would otherwise report `accounts` extra and `accounts[0]` missing for a list that
    became a string; null or an empty container against a filled one of that kind is `changed`,
    as null against any value is.
    """
    one_sided = [d for d in differences if d.kind is _MISSING or d.kind is _EXTRA]
    if not one_sided:
        return differences
    containers = {DiffKind.EXTRA: _containers(legacy), DiffKind.MISSING: _containers(app)}
    reshaped: dict[str, Difference] = {}
    for difference in one_sided:
        opener = containers[difference.kind].get(difference.field)
        if opener is None:
            continue
        if difference.kind is DiffKind.EXTRA:
            leaf, tree = difference.app, _member_fields(legacy, difference.field)
            kind = _container_kind(leaf, opener)
            reshaped[difference.field] = Difference(difference.field, kind, legacy=tree, app=leaf)
        else:
            leaf, tree = difference.legacy, _member_fields(app, difference.field)
            kind = _container_kind(leaf, opener)
            reshaped[difference.field] = Difference(difference.field, kind, legacy=leaf, app=tree)
    if not reshaped:
        return differences
    return [
        reshaped.get(difference.field, difference)
        for difference in differences
        if difference.field in reshaped or not _inside(difference.field, reshaped)
    ]


def _containers(view: View) -> dict[str, str]:
    """Every path that has fields below it in the view -> '[' (array) or '.' (object)."""
    found: dict[str, str] = {}
    for name in view.fields:
        for index, char in enumerate(name):
            if char in ".[" and index:
                found.setdefault(name[:index], char)
    return found


def _inside(field: str, prefixes: Mapping[str, object]) -> bool:
    return any(field[:index] in prefixes for index, char in enumerate(field) if char in ".[")


def _under(field: str, prefix: str) -> bool:
    return field.startswith(prefix) and field[len(prefix) : len(prefix) + 1] in (".", "[")


def _container_kind(leaf: JSONValue, opener: str) -> DiffKind:
    if leaf is None or (opener == "[" and leaf == []) or (opener == "." and leaf == {}):
        return DiffKind.CHANGED
    return DiffKind.TYPE_CHANGED


def _member_fields(view: View, prefix: str) -> JSONValue:
    """The fields below `prefix`, relative to it: what a one-sided member or subtree held."""
    return {
        name[len(prefix) :].removeprefix("."): value
        for name, value in view.fields.items()
        if _under(name, prefix)
    }


def _number(value: JSONValue) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _json_type(value: JSONValue) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"
