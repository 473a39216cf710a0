"""Rule 6: the full-body secondary report (deepdiff) informs and never decides; volatile keys,
large bodies and differently shaped bodies get none of it."""

from __future__ import annotations

import pytest

from shadowproxy.diff.secondary import secondary_report
from shadowproxy.types import Difference, DiffKind, JSONValue, Outcome, Side

from ..factories import aliases, exchange, observation
from .documents import ENGINE, IDS, app_ok, app_status, legacy_ok, legacy_state, status_exchange


def test_rule_6_secondary_never_changes_the_outcome_and_skips_volatile_fields() -> None:
    comparison = ENGINE(status_exchange(), legacy_ok(legacy_state()), app_ok(app_status()), IDS)
    assert comparison.outcome is Outcome.MATCH
    fields = {d.field for d in comparison.secondary}
    assert "status" in fields
    assert "result" in fields
    assert not {"created_at", "request_id", "task_id", "elapsed_seconds"} & fields
    assert not any("completed_at" in field for field in fields)


def test_large_bodies_get_key_fields_but_no_secondary_report() -> None:
    legacy: JSONValue = {"rows": [{"i": i, "v": "x" * 20} for i in range(600)]}
    app: JSONValue = {"rows": [{"i": i, "v": "y" * 20} for i in range(600)]}
    comparison = ENGINE(
        exchange(profile="json_equal"),
        observation(Side.LEGACY, 200, legacy),
        observation(Side.APP, 200, app),
        aliases(),
    )
    assert comparison.outcome is Outcome.MISMATCH
    assert len(comparison.differences) == 50
    assert comparison.secondary == ()


@pytest.mark.parametrize(
    ("legacy", "app", "field"),
    [
        pytest.param({"a": [{"b": 1}]}, {"a": [{"b": 2}]}, "a[0].b", id="nested"),
        pytest.param([1, 2, 3], [1, 2, 4], "[2]", id="array-root"),
        pytest.param({"it's": 1}, {"it's": 2}, "it's", id="apostrophe"),
        pytest.param({"x": {"it's": 1}}, {"x": {"it's": 2}}, "x.it's", id="nested-apostrophe"),
        pytest.param({"600519.SS": 1}, {"600519.SS": 2}, '["600519.SS"]', id="dot"),
        pytest.param({"p": {"a.b": 1}}, {"p": {"a.b": 2}}, 'p["a.b"]', id="nested-dot"),
        pytest.param({"a[0]": 1}, {"a[0]": 2}, '["a[0]"]', id="brackets"),
        pytest.param({'say "hi"': 1}, {'say "hi"': 2}, '["say \\"hi\\""]', id="double-quote"),
        pytest.param({"x": {"": 1}}, {"x": {"": 2}}, 'x[""]', id="empty-key"),
        pytest.param({"决策": "BUY"}, {"决策": "SELL"}, "决策", id="non-ascii"),
        pytest.param({"a b": 1}, {"a b": 2}, "a b", id="space"),
        pytest.param({"back\\slash": 1}, {"back\\slash": 2}, "back\\slash", id="backslash"),
    ],
)
def test_awkward_keys_are_reported_at_their_own_path(
    legacy: JSONValue, app: JSONValue, field: str
) -> None:
    [difference] = secondary_report(legacy, app, limit=5)
    assert difference.field == field
    assert difference.kind is DiffKind.CHANGED
    # the key-field view (json_equal's flattening) names the same field the same way
    comparison = ENGINE(
        exchange(profile="json_equal"),
        observation(Side.LEGACY, 200, legacy),
        observation(Side.APP, 200, app),
        aliases(),
    )
    assert [d.field for d in comparison.differences] == [field]


def test_keys_that_would_collide_when_dotted_keep_their_own_fields() -> None:
    legacy: JSONValue = {"a.b": 1, "a": {"b": 1}}
    app: JSONValue = {"a.b": 2, "a": {"b": 1}}  # only the dotted key changed
    comparison = ENGINE(
        exchange(profile="json_equal"),
        observation(Side.LEGACY, 200, legacy),
        observation(Side.APP, 200, app),
        aliases(),
    )
    assert [(d.field, d.legacy, d.app) for d in comparison.differences] == [('["a.b"]', 1, 2)]


def test_secondary_report_needs_the_same_shape_and_respects_the_limit() -> None:
    assert secondary_report({"a": 1}, [1], limit=5) == ()
    legacy: JSONValue = {f"k{i}": i for i in range(10)}
    app: JSONValue = {f"k{i}": i + 1 for i in range(10)}
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
