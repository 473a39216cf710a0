"""Key-field comparison of two canonical views: leaves, one-sided members, shape changes."""

from __future__ import annotations

from typing import Any

import pytest

from shadowproxy.diff.compare import compare_views, leaf_kind
from shadowproxy.diff.normalize import Flatten
from shadowproxy.diff.view import Collection, View
from shadowproxy.types import Difference, DiffKind


@pytest.mark.parametrize(
    ("legacy", "app", "tolerance", "kind"),
    [
        pytest.param(1, 1.0, 0.0, None, id="int-equals-float"),
        pytest.param(0.63, 0.635, 0.005, None, id="exactly-at-tolerance"),
        pytest.param(0.63, 0.6351, 0.005, DiffKind.CHANGED, id="just-beyond-tolerance"),
        pytest.param(True, 1, 0.0, DiffKind.TYPE_CHANGED, id="bool-is-not-a-number"),
        pytest.param(None, "HOLD", 0.0, DiffKind.CHANGED, id="null-against-value"),
        pytest.param(None, None, 0.0, None, id="both-null"),
        pytest.param("1", 1, 0.0, DiffKind.TYPE_CHANGED, id="string-vs-number"),
        pytest.param(["a"], ["a"], 0.0, None, id="equal-lists"),
    ],
)
def test_leaf_kind(legacy: Any, app: Any, tolerance: float, kind: DiffKind | None) -> None:
    assert leaf_kind(legacy, app, tolerance) is kind


def test_view_comparison_skips_what_a_side_cannot_express() -> None:
    legacy = View(
        {"status": "completed", "error.present": False},
        inexpressible=frozenset({"degraded", "error.code"}),
    )
    app = View({"status": "completed", "degraded": True, "error.present": False, "error.code": "x"})
    assert compare_views(legacy, app, tolerant=frozenset(), tolerance=0.0) == []


def test_one_sided_member_is_one_difference_with_its_fields() -> None:
    legacy = View(
        {"tasks[a].status": "running", "tasks[b].status": "completed"},
        collections={"tasks": Collection(("a", "b"), ordered=True)},
    )
    app = View(
        {"tasks[b].status": "failed"}, collections={"tasks": Collection(("b",), ordered=True)}
    )
    assert compare_views(legacy, app, tolerant=frozenset(), tolerance=0.0) == [
        Difference("tasks[a]", DiffKind.MISSING, legacy={"status": "running"}),
        Difference("tasks[b].status", DiffKind.CHANGED, legacy="completed", app="failed"),
    ]


@pytest.mark.parametrize(
    ("legacy", "app", "expected"),
    [
        pytest.param(
            {"accounts": ["a", "b"]},
            {"accounts": "a,b"},
            Difference(
                "accounts", DiffKind.TYPE_CHANGED, legacy={"[0]": "a", "[1]": "b"}, app="a,b"
            ),
            id="array-became-string",
        ),
        pytest.param(
            {"result": None},
            {"result": {"decision": "BUY"}},
            Difference("result", DiffKind.CHANGED, legacy=None, app={"decision": "BUY"}),
            id="null-became-object",
        ),
        pytest.param(
            {"logs": []},
            {"logs": ["started"]},
            Difference("logs", DiffKind.CHANGED, legacy=[], app={"[0]": "started"}),
            id="empty-array-filled",
        ),
    ],
)
def test_shape_changes_are_one_difference(legacy: Any, app: Any, expected: Difference) -> None:
    flatten = Flatten()
    views = View(flatten(legacy)), View(flatten(app))
    assert compare_views(*views, tolerant=frozenset(), tolerance=0.0) == [expected]
