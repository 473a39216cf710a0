"""The structural diff behind the secondary report reports what deepdiff reported, without it.

`secondary_report` used `DeepDiff(view="tree")`; it now walks the two JSON values itself. The
reference here is that old report, rebuilt from deepdiff (skipped when deepdiff is not
installed), compared on random JSON and on the profiles' real documents, plus the deepdiff rules
the walk reproduces, each pinned by a case. The one thing allowed to differ is the order of the
array items deepdiff turned from removed + added into changed: it listed those in string-hash
order (PYTHONHASHSEED), the walk lists them in the items' order.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shadowproxy.diff.secondary import field_name, secondary_report, without_volatile
from shadowproxy.diff.structural import structural_diff
from shadowproxy.types import Difference, DiffKind, JSONValue

from . import documents as docs

_SECTIONS = {
    "values_changed": DiffKind.CHANGED,
    "type_changes": DiffKind.TYPE_CHANGED,
    "dictionary_item_removed": DiffKind.MISSING,
    "iterable_item_removed": DiffKind.MISSING,
    "dictionary_item_added": DiffKind.EXTRA,
    "iterable_item_added": DiffKind.EXTRA,
}


def deepdiff_report(legacy: JSONValue, app: JSONValue, *, limit: int) -> tuple[Difference, ...]:
    """The secondary report as it was: deepdiff over the bodies without their volatile keys."""
    deepdiff = pytest.importorskip("deepdiff")
    if not (
        (isinstance(legacy, dict) and isinstance(app, dict))
        or (isinstance(legacy, list) and isinstance(app, list))
    ):
        return ()
    report: Any = deepdiff.DeepDiff(without_volatile(legacy), without_volatile(app), view="tree")
    found: list[Difference] = []
    for section, kind in _SECTIONS.items():
        for level in report.get(section, ()):
            name = field_name(level.path(output_format="list"))
            if kind is DiffKind.MISSING:
                found.append(Difference(name, kind, legacy=level.t1))
            elif kind is DiffKind.EXTRA:
                found.append(Difference(name, kind, app=level.t2))
            else:
                found.append(Difference(name, kind, legacy=level.t1, app=level.t2))
    return tuple(found[:limit])


def assert_same_report(ours: tuple[Difference, ...], theirs: tuple[Difference, ...]) -> None:
    """Equal, but for the order of changed array items (deepdiff's came in hash order)."""
    if ours == theirs:
        return
    assert Counter(map(repr, ours)) == Counter(map(repr, theirs))

    def ordered(report: tuple[Difference, ...]) -> list[Difference]:
        return [d for d in report if not (d.kind is DiffKind.CHANGED and d.field.endswith("]"))]

    assert ordered(ours) == ordered(theirs)


# ---------------------------------------------------------------- random JSON

KEYS = st.sampled_from(["a", "b", "c", "status", "name", "created_at", "task_id", "__p", "x.y", ""])
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-2, 3)
    | st.sampled_from([0.0, 1.0, 0.5, 2.5])
    | st.sampled_from(["", "a", "b", "running", "completed"])
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=25,
)
CONTAINERS = st.lists(JSON, max_size=5) | st.dictionaries(KEYS, JSON, max_size=6)


def _edit(data: st.DataObject, value: JSONValue, depth: int = 0) -> JSONValue:
    """`value` with a few random edits, so most of two bodies agree as real pairs do."""
    choice = data.draw(st.integers(0, 9), label="edit")
    if choice == 0 or depth > 4:
        return data.draw(JSON, label="replacement")
    if isinstance(value, dict):
        edited = {k: _edit(data, v, depth + 1) for k, v in value.items() if choice != 1}
        if choice == 2:
            edited[data.draw(KEYS, label="key")] = data.draw(JSON, label="added")
        return edited
    if isinstance(value, list):
        items = [_edit(data, v, depth + 1) for v in value]
        if choice == 3 and items:
            del items[data.draw(st.integers(0, len(items) - 1), label="removed")]
        if choice == 4:
            items.insert(data.draw(st.integers(0, len(items)), label="at"), data.draw(JSON))
        return items
    return value


@settings(max_examples=300, deadline=None)
@given(data=st.data(), legacy=CONTAINERS, related=st.booleans())
def test_the_walk_reports_what_deepdiff_reported_on_random_json(
    data: st.DataObject, legacy: JSONValue, related: bool
) -> None:
    app = _edit(data, legacy) if related else data.draw(CONTAINERS, label="app")
    assert_same_report(
        secondary_report(legacy, app, limit=1000), deepdiff_report(legacy, app, limit=1000)
    )


# ---------------------------------------------------------------- the profiles' real documents

PAIRS: dict[str, tuple[JSONValue, JSONValue]] = {
    "status": (docs.legacy_state(), docs.app_status()),
    "status running": (
        docs.legacy_state(status="running", done=2),
        docs.app_status(status="running", done=3),
    ),
    "status mismatch": (
        docs.legacy_state(),
        docs.app_status(result=docs.app_result(decision="SELL")),
    ),
    "status failed": (
        docs.legacy_state(status="failed", error="ANALYSIS_ERROR:boom"),
        docs.app_status(status="failed", error={"code": "analysis_failed", "message": "boom"}),
    ),
    "cancelled": (docs.cancelled_legacy(), docs.cancelled_app(None)),
    "batch": (docs.legacy_batch(), docs.app_batch(completed=1)),
    "tasks": (
        docs.legacy_tasks(
            docs.legacy_item(docs.AAPL_L, "AAPL"), docs.legacy_item(docs.MSFT_L, "MSFT")
        ),
        docs.app_tasks(
            docs.app_item(docs.MSFT_A, "MSFT", status="running", progress=40),
            docs.app_item(docs.AAPL_A, "AAPL"),
        ),
    ),
    "same shape": (docs.legacy_state(), docs.legacy_state(decision="SELL", progress=80)),
}


@pytest.mark.parametrize("limit", [1, 3, 50])
@pytest.mark.parametrize("pair", list(PAIRS))
def test_the_walk_reports_what_deepdiff_reported_on_real_documents(pair: str, limit: int) -> None:
    legacy, app = PAIRS[pair]
    assert secondary_report(legacy, app, limit=limit) == deepdiff_report(legacy, app, limit=limit)


# ---------------------------------------------------------------- deepdiff's rules, pinned


@pytest.mark.parametrize(
    ("legacy", "app", "expected"),
    [
        pytest.param([1, 2], [1, 2.0], [], id="scalars-aligned-1-matches-2.0"),
        pytest.param([1], [True], [], id="scalars-aligned-1-matches-true"),
        pytest.param(
            [{"a": 1}], [{"a": True}], [("[0].a", DiffKind.TYPE_CHANGED)], id="objects-by-index"
        ),
        pytest.param([0, 1, 2, 3], [9, 0, 1, 2, 3], [("[0]", DiffKind.EXTRA)], id="aligned-insert"),
        pytest.param(
            [1, 2], [2, 3], [("[0]", DiffKind.CHANGED), ("[1]", DiffKind.CHANGED)], id="by-index"
        ),
        pytest.param(
            {"a": 1, "b": 2, "c": 3},
            {"a": 1, "d": 2, "e": 3, "f": 4},
            [("body", DiffKind.CHANGED)],
            id="few-shared-keys-whole-object",
        ),
        pytest.param({"__p": 1, "a": 1}, {"__p": 2, "a": 1}, [], id="private-keys-ignored"),
        pytest.param({"a": 1}, {"a": 1.0}, [("a", DiffKind.TYPE_CHANGED)], id="int-vs-float"),
        pytest.param({"a": None}, {"a": 0}, [("a", DiffKind.TYPE_CHANGED)], id="null-vs-value"),
    ],
)
def test_deepdiffs_rules_hold(legacy: JSONValue, app: JSONValue, expected: list[Any]) -> None:
    report = secondary_report(legacy, app, limit=50)
    assert [(d.field, d.kind) for d in report] == expected
    assert report == deepdiff_report(legacy, app, limit=50)


def test_an_item_removed_and_added_at_one_index_is_changed_after_the_others() -> None:
    # aligned: 2 inserted at [0], 0 at [2] replaced by 2 (removed, then added at that index)
    legacy: JSONValue = {"x": 1, "l": [0, 1, 0]}
    app: JSONValue = {"x": 2, "l": [2, 0, 2, 1]}
    report = structural_diff(legacy, app, frozenset())
    assert (report.removed_items, report.added_items) == ([], [((((), "l"), 0), None, 2)])
    assert secondary_report(legacy, app, limit=50) == (
        Difference("x", DiffKind.CHANGED, legacy=1, app=2),
        Difference("l[2]", DiffKind.CHANGED, legacy=0, app=2),
        Difference("l[0]", DiffKind.EXTRA, app=2),
    )
    assert secondary_report(legacy, app, limit=50) == deepdiff_report(legacy, app, limit=50)


def test_reported_values_leave_out_volatile_keys_and_the_same_value_is_never_walked() -> None:
    legacy: JSONValue = {"keep": 1}
    app: JSONValue = {"keep": 1, "new": {"created_at": "t", "v": [{"path": "/x", "w": 1}]}}
    assert secondary_report(legacy, app, limit=5) == (
        Difference("new", DiffKind.EXTRA, app={"v": [{"w": 1}]}),
    )
    shared: JSONValue = {"a": [1, {"b": 2}]}
    assert secondary_report(shared, shared, limit=5) == ()
