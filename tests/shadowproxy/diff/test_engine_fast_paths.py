"""The engine's fast paths give the comparison of its slow path.

- Byte-equal bodies are parsed once; a profile whose view depends on the value alone
  (`side_free`) projects that value once for both sides. The slow path is two parses and two
  projections: `compare_values` on two separately parsed values, or the same engine with the
  profile's `side_free` turned off.
- `side_free` is a promise each profile makes: its view is the same whichever side and id map
  it projects for. A profile that breaks it would hide an id difference on byte-equal bodies.
- A comparison with no difference at all skips the known differences (rule 5): its reason is
  still the in-flight note when result fields were withheld.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shadowproxy.diff.engine import DiffEngine
from shadowproxy.diff.profile import BodyKind, ProjectionContext
from shadowproxy.diff.profiles import PROFILES
from shadowproxy.diff.secondary import secondary_report
from shadowproxy.types import Comparison, Outcome, Side

from ..factories import aliases, exchange, observation
from . import documents as docs
from .documents import IDS, app_ok, app_status, legacy_ok, legacy_state, status_exchange

APP_ID, LEGACY_ID = "AAPL_20260413_120000_9f8e7d", "AAPL_20260413_120000_ab12cd"
IDS_USED = aliases({APP_ID: LEGACY_ID, "pos-app": "pos-legacy", "x": "y"})
KEYS = st.sampled_from(
    [
        "task_id",
        "position_id",
        "ticker",
        "date",
        "status",
        "progress",
        "stages",
        "name",
        "result",
        "compat",
        "decision",
        "error",
        "message",
        "tasks",
        "signals",
        "reports",
        "recommendations",
        "summary",
        "type",
        "results",
        "total",
        "path",
        "a",
    ]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-3, 120)
    | st.sampled_from([0.5, 0.63])
    | st.sampled_from([APP_ID, LEGACY_ID, "pos-app", "x", "running", "completed", "port_1"])
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=20,
)
JSON_PROFILES = sorted(name for name, p in PROFILES.items() if p.body is BodyKind.JSON)
ENGINE = DiffEngine()


def verdict(comparison: Comparison) -> tuple[Any, ...]:
    return (
        comparison.outcome,
        comparison.differences,
        comparison.accepted,
        comparison.reason,
        comparison.task_id,
        comparison.ticker,
        comparison.date,
    )


@settings(max_examples=150, deadline=None)
@given(profile=st.sampled_from(JSON_PROFILES), value=JSON)
def test_byte_equal_bodies_compare_as_two_separately_parsed_ones(profile: str, value: Any) -> None:
    body = orjson.dumps(value)
    asked = exchange(profile=profile)
    fast = ENGINE(
        asked, observation(Side.LEGACY, 200, body), observation(Side.APP, 200, body), IDS_USED
    )
    legacy, app = orjson.loads(body), orjson.loads(body)
    slow = ENGINE.compare_values(profile, legacy, app, IDS_USED, route=asked.route)
    assert verdict(fast) == (
        slow.outcome,
        slow.differences,
        slow.accepted,
        slow.reason,
        slow.task_id,
        slow.ticker,
        slow.date,
    )
    assert fast.secondary == secondary_report(legacy, app, limit=50) == ()


def strings(value: Any) -> set[str]:
    if isinstance(value, dict):
        return {*value, *(s for child in value.values() for s in strings(child))}
    if isinstance(value, list):
        return {s for child in value for s in strings(child)}
    return {value} if isinstance(value, str) else set()


def views_differ(profile: str, value: Any) -> bool:
    """Whether the two sides' views of one value differ when every string has a legacy twin."""
    ids = aliases({text: f"legacy twin of {text}" for text in strings(value)})  # any read shows
    project = PROFILES[profile]
    legacy = project(value, ProjectionContext(Side.LEGACY, ids))
    return project(value, ProjectionContext(Side.APP, ids)) != legacy


# every shape the profiles read ids from, so a profile that reads them shows it on one of them
DOCUMENTS: list[Any] = [
    legacy_state(),
    app_status(),
    app_status(status="running", done=2),
    docs.legacy_batch(),
    docs.app_batch(),
    docs.legacy_tasks(docs.legacy_item(docs.AAPL_L, "AAPL")),
    docs.app_tasks(docs.app_item(docs.AAPL_A, "AAPL"), docs.app_item(docs.MSFT_A, "MSFT")),
    {"task_id": APP_ID, "status": "accepted", "ticker": "AAPL", "date": "2026-04-13"},
    {"accounts": [{"name": "main", "positions": [{"position_id": "p-1", "ticker": "AAPL"}]}]},
    {"signals": [{"ticker": "AAPL", "date": "2026-04-13", "result": {"direction": 1}}]},
    {"reports": [{"ticker": "AAPL", "date": "2026-04-13", "path": "/data/results/AAPL/r.md"}]},
    {"recommendations": [{"ticker": "AAPL", "date": "2026-04-13", "decision": "BUY"}]},
]
SIDE_FREE = sorted(name for name, p in PROFILES.items() if p.side_free)


@pytest.mark.parametrize("profile", SIDE_FREE)
def test_a_side_free_profile_projects_one_view_for_both_sides(profile: str) -> None:
    assert not [doc for doc in DOCUMENTS if views_differ(profile, doc)]


@settings(max_examples=200, deadline=None)
@given(profile=st.sampled_from(SIDE_FREE), value=JSON)
def test_a_side_free_profile_projects_one_view_of_any_json(profile: str, value: Any) -> None:
    assert not views_differ(profile, value)


@pytest.mark.parametrize(
    "profile", sorted(n for n, p in PROFILES.items() if not p.side_free and p.body is BodyKind.JSON)
)
def test_every_other_profile_reads_the_side_or_ids_of_some_document(profile: str) -> None:
    assert [doc for doc in DOCUMENTS if views_differ(profile, doc)]


def test_the_status_profile_is_not_side_free_an_app_id_is_mapped() -> None:
    project = PROFILES["status_document"]
    assert not project.side_free
    document: Any = {"task_id": APP_ID, "status": "completed"}
    legacy = project(document, ProjectionContext(Side.LEGACY, IDS_USED))
    app = project(document, ProjectionContext(Side.APP, IDS_USED))
    assert (legacy.task_id, app.task_id) == (APP_ID, LEGACY_ID)
    body = orjson.dumps(document)
    same = ENGINE(
        exchange(profile="status_document"),
        observation(Side.LEGACY, 200, body),
        observation(Side.APP, 200, body),
        IDS_USED,
    )
    assert same.outcome is Outcome.MISMATCH  # byte-equal, yet the app names another task
    assert [d.field for d in same.differences] == ["task_id"]


BODIES = {
    "json": (b'{"a": [1, {"b": "x"}], "total": 2}', "application/json"),
    "csv": (b"ticker,decision\r\nAAPL,BUY\r\n", "text/csv"),
    "not json": (b"{broken", "application/json"),
    "pdf": (b"%PDF-1.7 ...", "application/pdf"),
}


@pytest.mark.parametrize("body", list(BODIES))
@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_byte_equal_bodies_compare_alike_with_the_fast_path_turned_off(
    profile: str, body: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw, content_type = BODIES[body]
    legacy = observation(Side.LEGACY, 200, raw, content_type=content_type)
    app = observation(Side.APP, 200, bytes(raw), content_type=content_type)
    asked = exchange(profile=profile)
    fast = ENGINE(asked, legacy, app, IDS)
    monkeypatch.setattr(type(PROFILES[profile]), "side_free", False)
    assert verdict(ENGINE(asked, legacy, app, IDS)) == verdict(fast)


def test_withheld_result_fields_are_still_the_reason_of_a_comparison_with_nothing_left() -> None:
    legacy = legacy_state(status="running", done=2)
    app = app_status(status="running", done=2)
    app["result"] = {"decision": "SELL"}  # a result field while running: not compared
    comparison = ENGINE(status_exchange(), legacy_ok(legacy), app_ok(app), IDS)
    assert comparison.outcome is Outcome.MATCH
    assert comparison.differences == comparison.accepted == ()
    assert comparison.reason == "1 result field(s) not compared while in flight"
