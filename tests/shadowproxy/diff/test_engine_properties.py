"""Properties every profile keeps on any input: no exception, and a body equals itself.

The shadow can never hurt the client, and a profile that raises on an odd body would turn into
a counted internal error for every request on that route; these inputs mix the keys the
profiles read with arbitrary JSON so the odd shapes are actually reached.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from shadowproxy.diff.engine import DiffEngine
from shadowproxy.diff.profiles import PROFILES
from shadowproxy.types import Outcome, Side

from ..factories import aliases, exchange, observation

KEYS = st.sampled_from(
    [
        "task_id",
        "ticker",
        "date",
        "status",
        "progress",
        "current_stage",
        "stages",
        "name",
        "result",
        "compat",
        "error",
        "message",
        "code",
        "signals",
        "tasks",
        "total",
        "results",
        "type",
        "reports",
        "path",
        "recommendations",
        "decision",
        "confidence",
        "summary",
        "contract_version",
        "analysis_date",
        "detail",
        "position_id",
        "completed",
        "failed",
    ]
) | st.text(max_size=3)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-3, 120)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.sampled_from(
        ["running", "completed", "failed", "degraded_success", "portfolio", "用户取消"]
    )
    | st.text(max_size=4)
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=20,
)
ENGINE = DiffEngine()


@settings(max_examples=60, deadline=None)
@given(profile=st.sampled_from(sorted(PROFILES)), legacy=JSON, app=JSON)
def test_any_json_pair_gives_a_comparison(profile: str, legacy: Any, app: Any) -> None:
    values = ENGINE.compare_values(profile, legacy, app, aliases(), route="/r")
    assert values.outcome in set(Outcome)
    assert len(values.differences) <= 50


@settings(max_examples=60, deadline=None)
@given(profile=st.sampled_from(sorted(PROFILES)), value=JSON)
def test_a_body_equals_itself(profile: str, value: Any) -> None:
    values = ENGINE.compare_values(profile, value, value, aliases(), route="/r")
    assert values.outcome is Outcome.MATCH, values.differences


@settings(max_examples=40, deadline=None)
@given(
    profile=st.sampled_from(sorted(PROFILES)),
    legacy=st.binary(max_size=40),
    app=st.binary(max_size=40),
    statuses=st.tuples(
        st.sampled_from([200, 201, 404, 422, 500]), st.sampled_from([200, 400, 503])
    ),
)
def test_any_bytes_give_a_comparison(
    profile: str, legacy: bytes, app: bytes, statuses: tuple[int, int]
) -> None:
    asked = exchange(profile=profile)
    comparison = ENGINE(
        asked,
        observation(Side.LEGACY, statuses[0], legacy),
        observation(Side.APP, statuses[1], app),
        aliases(),
    )
    assert comparison.outcome in set(Outcome)
    assert comparison.exchange is asked
