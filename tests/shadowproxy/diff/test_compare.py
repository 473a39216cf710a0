"""Building blocks: leaves, flat views, normalizers, known-difference patterns, deepdiff paths."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from shadowproxy.diff.compare import compare_views, leaf_kind
from shadowproxy.diff.known import KnownDifferences
from shadowproxy.diff.normalize import ErrorShape, Flatten, PathTail, StatusWord
from shadowproxy.diff.secondary import dotted, secondary_report
from shadowproxy.diff.view import Collection, View
from shadowproxy.types import AcceptedDifference, Difference, DiffKind


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


@pytest.mark.parametrize(
    ("error", "shaped"),
    [
        pytest.param(None, {"present": False}, id="none"),
        pytest.param("  ", {"present": False}, id="blank"),
        pytest.param(
            "Unknown error", {"present": True, "message": "Unknown error"}, id="legacy-text"
        ),
        pytest.param(
            "Traceback (most recent call last):\n  ...\n"
            "ANALYSIS_ERROR:first\nANALYSIS_ERROR:last one \n",
            {"present": True, "message": "last one"},
            id="stderr-tail",
        ),
        pytest.param(
            {
                "code": "analysis_failed",
                "message": "openai provider API key not configured",
                "retryable": False,
            },
            {
                "present": True,
                "message": "openai provider API key not configured",
                "code": "analysis_failed",
            },
            id="app-object",
        ),
    ],
)
def test_error_shape(error: Any, shaped: dict[str, Any]) -> None:
    assert ErrorShape()(error) == shaped


@pytest.mark.parametrize(
    ("status", "message", "word"),
    [
        pytest.param("degraded_success", None, ("completed", True), id="degraded-success"),
        pytest.param("failed", "用户取消", ("cancelled", False), id="legacy-cancel"),
        pytest.param("failed", "boom", ("failed", False), id="failed"),
        pytest.param("running", None, ("running", False), id="running"),
        pytest.param(None, None, (None, False), id="absent"),
    ],
)
def test_status_word(status: Any, message: str | None, word: tuple[str | None, bool]) -> None:
    assert StatusWord()(status, message) == word


@pytest.mark.parametrize(
    ("path", "tail"),
    [
        pytest.param("/srv/legacy/results/AAPL/2026-04-13", "AAPL/2026-04-13", id="posix"),
        pytest.param("C:\\data\\results\\AAPL\\2026-04-13", "AAPL/2026-04-13", id="windows"),
        pytest.param("/results/x/results/AAPL/2026-04-13", "AAPL/2026-04-13", id="last-segment"),
        pytest.param("/srv/elsewhere/AAPL", "/srv/elsewhere/AAPL", id="no-marker"),
    ],
)
def test_path_tail(path: str, tail: str) -> None:
    assert PathTail("results")(path) == tail


@pytest.mark.parametrize(
    ("pattern", "field", "accepted"),
    [
        pytest.param(
            "tasks[*].error.code", "tasks[AAPL_1].error.code", True, id="brackets-are-literal"
        ),
        pytest.param("tasks[*].error.code", "tasks[AAPL_1].error.message", False, id="other-leaf"),
        pytest.param("signals.order", "signals.order", True, id="exact"),
        pytest.param("signals", "signals.order", False, id="whole-field-only"),
        pytest.param("*", "anything[1].at.all", True, id="star"),
    ],
)
def test_known_difference_field_patterns(pattern: str, field: str, accepted: bool) -> None:
    known = KnownDifferences(
        [AcceptedDifference("*", pattern, "r")], today=lambda: dt.date(2026, 1, 1)
    )
    split = known.split("/any", [Difference(field, DiffKind.CHANGED)])
    assert bool(split.accepted) is accepted
    assert split.reasons == (("r",) if accepted else ())


@pytest.mark.parametrize(
    ("path", "name"),
    [
        pytest.param("root['a'][0]['b']", "a[0].b", id="nested"),
        pytest.param("root[2]", "[2]", id="array-root"),
        pytest.param("root['it\\'s']", "it's", id="quote"),
        pytest.param("root", "body", id="root"),
    ],
)
def test_deepdiff_paths_become_field_paths(path: str, name: str) -> None:
    assert dotted(path) == name


def test_secondary_report_needs_the_same_shape_and_respects_the_limit() -> None:
    assert secondary_report({"a": 1}, [1], limit=5) == ()
    legacy = {f"k{i}": i for i in range(10)}
    app = {f"k{i}": i + 1 for i in range(10)}
    report = secondary_report(legacy, app, limit=4)
    assert len(report) == 4
    assert all(d.kind is DiffKind.CHANGED for d in report)
    removed = secondary_report(
        {"a": 1, "keep": 2, "created_at": "x"}, {"keep": 2, "created_at": "y", "b": [1]}, limit=5
    )
    assert removed == (
        Difference("a", DiffKind.MISSING, legacy=1),
        Difference("b", DiffKind.EXTRA, app=[1]),
    )


def test_a_bad_expiry_is_a_sentence() -> None:
    with pytest.raises(
        ValueError, match=r"known difference \(\*, decision\): expires must be a date"
    ):
        KnownDifferences([AcceptedDifference("*", "decision", "r", "next week")])
