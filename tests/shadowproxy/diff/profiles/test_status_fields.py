"""The status profile's hand-inlined readers say what the rules they replace say.

Result fields are read in one pass over `result`, `compat` and the flat document instead of
twelve `FirstOf` paths; stage fields are named inline instead of through `obj`/`text`/
`stage_name`. The references are those rules as they read in the profile's docstring.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from shadowproxy.correlation import AppAliases
from shadowproxy.diff.normalize import FirstOf
from shadowproxy.diff.profile import ProjectionContext
from shadowproxy.diff.profiles.status import ResultFields, StatusDocument, stage_name
from shadowproxy.diff.view import items, obj, text
from shadowproxy.types import JSONValue, Side

REFERENCE = {
    "decision": FirstOf(("result", "decision"), ("compat", "decision"), ("decision",)),
    "confidence": FirstOf(("result", "confidence"), ("compat", "confidence"), ("confidence",)),
    "quant_rating": FirstOf(
        ("result", "signals", "quant", "rating"), ("compat", "quant_signal"), ("quant_signal",)
    ),
    "llm_rating": FirstOf(
        ("result", "signals", "llm", "rating"), ("compat", "llm_signal"), ("llm_signal",)
    ),
}
LEAF = st.none() | st.booleans() | st.integers(0, 2) | st.sampled_from(["BUY", "SELL", ""])


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A part of the shape, absent, or something else in its place."""
    return strategy | LEAF | st.lists(LEAF, max_size=2)


RATING = maybe(st.fixed_dictionaries({}, optional={"rating": LEAF}))
SIGNALS = maybe(st.fixed_dictionaries({}, optional={"quant": RATING, "llm": RATING}))
FLAT = dict.fromkeys(("decision", "confidence", "quant_signal", "llm_signal"), LEAF)
DOCUMENT = maybe(
    st.fixed_dictionaries(
        {},
        optional={
            "result": maybe(
                st.fixed_dictionaries(
                    {}, optional={"decision": LEAF, "confidence": LEAF, "signals": SIGNALS}
                )
            ),
            "compat": maybe(st.fixed_dictionaries({}, optional=FLAT)),
            **FLAT,
        },
    )
)


@settings(max_examples=300, deadline=None)
@given(document=DOCUMENT)
def test_result_fields_are_the_first_non_null_of_app_compat_and_flat(document: Any) -> None:
    assert ResultFields()(document) == {name: read(document) for name, read in REFERENCE.items()}


STAGE = maybe(
    st.fixed_dictionaries(
        {}, optional={"name": LEAF | st.sampled_from(["research", "risk"]), "status": LEAF}
    )
)


@settings(max_examples=200, deadline=None)
@given(stages=st.lists(STAGE, max_size=8))
def test_stages_are_named_by_their_own_name_or_their_position(stages: list[JSONValue]) -> None:
    expected: dict[str, JSONValue] = {}
    for index, entry in enumerate(items(stages)):
        stage = obj(entry)
        expected[f"stages.{text(stage.get('name')) or stage_name(index)}"] = stage.get("status")
    document: JSONValue = {"status": "running", "stages": stages}
    view = StatusDocument()(document, ProjectionContext(Side.LEGACY, AppAliases({})))
    assert {k: v for k, v in view.fields.items() if k.startswith("stages.")} == expected
