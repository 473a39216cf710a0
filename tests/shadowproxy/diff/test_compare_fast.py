"""The key-field comparison's fast path finds what the rule as written finds.

`compare_views` skips a field whose two leaves are of one exact type and `==` before asking
whether a side can express it or whether it lies in a one-sided member; `reference` is the
comparison in the order the rule states it (`View.expresses` on both views, then the one-sided
prefixes, then `leaf_kind` for every common field), the slow path it must agree with.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from shadowproxy.diff.compare import _collections, _reshaped, compare_views, leaf_kind
from shadowproxy.diff.view import Collection, View
from shadowproxy.types import Difference, DiffKind, JSONValue

TOLERANT = frozenset({"confidence"})


def reference(legacy: View, app: View, tolerance: float) -> list[Difference]:
    found, one_sided = _collections(legacy, app)  # members and order: not the fast path
    names = [*legacy.fields, *(n for n in app.fields if n not in legacy.fields)]
    for name in names:
        if not (legacy.expresses(name) and app.expresses(name)):
            continue
        if any(name.startswith(prefix) for prefix in one_sided):
            continue
        if name not in app.fields:
            found.append(Difference(name, DiffKind.MISSING, legacy=legacy.fields[name]))
        elif name not in legacy.fields:
            found.append(Difference(name, DiffKind.EXTRA, app=app.fields[name]))
        else:
            left, right = legacy.fields[name], app.fields[name]
            leaf = name.rsplit(".", 1)[-1]
            kind = leaf_kind(left, right, tolerance if leaf in TOLERANT else 0.0)
            if kind is not None:
                found.append(Difference(name, kind, legacy=left, app=right))
    return _reshaped(found, legacy, app)


LEAVES: st.SearchStrategy[Any] = (
    st.none()
    | st.booleans()
    | st.sampled_from([0, 1, 2, 0.0, 1.0, 0.63, 0.635, 0.64, 1e-10])
    | st.sampled_from(["", "a", "completed"])
    | st.sampled_from([[], {}, [1], [True], {"a": 1}])
)
NAMES = st.sampled_from(
    [
        "status",
        "degraded",
        "confidence",
        "error.code",
        "error.present",
        "tasks[A].status",
        "tasks[A].degraded",
        "tasks[B].confidence",
        "tasks[B]",
        "x.confidence",
    ]
)
SUFFIXES = st.frozensets(st.sampled_from(["degraded", "error.code", "confidence"]), max_size=2)
MEMBERS = st.lists(st.sampled_from(["A", "B"]), unique=True).map(tuple)


def views(fields: dict[str, JSONValue], hidden: frozenset[str], members: tuple[str, ...]) -> View:
    return View(fields, collections={"tasks": Collection(members)}, inexpressible=hidden)


@settings(max_examples=300, deadline=None)
@given(
    legacy=st.dictionaries(NAMES, LEAVES, max_size=8),
    app=st.dictionaries(NAMES, LEAVES, max_size=8),
    hidden=st.tuples(SUFFIXES, SUFFIXES),
    members=st.tuples(MEMBERS, MEMBERS),
    tolerance=st.sampled_from([0.0, 0.005]),
)
def test_the_fast_comparison_finds_what_the_rule_finds(
    legacy: dict[str, JSONValue],
    app: dict[str, JSONValue],
    hidden: tuple[frozenset[str], frozenset[str]],
    members: tuple[tuple[str, ...], tuple[str, ...]],
    tolerance: float,
) -> None:
    left = views(legacy, hidden[0], members[0])
    right = views(app, hidden[1], members[1])
    found = compare_views(left, right, tolerant=TOLERANT, tolerance=tolerance)
    assert found == reference(left, right, tolerance)


def test_equal_leaves_of_another_type_or_a_float_are_still_compared_by_the_rule() -> None:
    legacy = View({"a": True, "b": 1, "confidence": 0.63, "d": 0.5})
    app = View({"a": 1, "b": 1.0, "confidence": 0.635, "d": 0.5 + 1e-12})
    found = compare_views(legacy, app, tolerant=TOLERANT, tolerance=0.005)
    assert [(d.field, d.kind) for d in found] == [("a", DiffKind.TYPE_CHANGED)]
