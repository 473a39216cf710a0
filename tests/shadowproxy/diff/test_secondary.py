"""Rule 6: the full-body secondary report (deepdiff) informs and never decides; volatile keys,
large bodies and differently shaped bodies get none of it."""

from __future__ import annotations

import pytest

from shadowproxy.diff.secondary import dotted, secondary_report
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
