"""The nesting guard's fast paths give the answer of the plain walk.

`parse_body` used to walk every parsed body to find out whether it nests deeper than
`MAX_DEPTH`; now it first counts the brackets of the text (`may_be_too_deep`), which cannot
say "shallow" of a deep body, and `too_deep` walks level by level holding only containers.
`reference_too_deep` is the walk as it was, over every node.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shadowproxy.diff.profile import MAX_DEPTH, BodyKind, may_be_too_deep, parse_body, too_deep
from shadowproxy.types import JSONValue, Side

from ..factories import observation


def reference_too_deep(value: JSONValue, limit: int = MAX_DEPTH) -> bool:
    stack: list[tuple[JSONValue, int]] = [(value, 0)]
    while stack:
        current, depth = stack.pop()
        if isinstance(current, dict | list):
            if depth >= limit:
                return True
            children = current.values() if isinstance(current, dict) else current
            stack.extend((child, depth + 1) for child in children)
    return False


def nested(depth: int, leaf: JSONValue = 1) -> JSONValue:
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"k[": value}
    return value


TEXT = st.text(alphabet='[]{}a"\\', max_size=4)  # strings holding brackets count too
JSON = st.recursive(
    st.none() | st.integers(-(2**63), 2**63 - 1) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(value=JSON | st.integers(0, 80).map(nested), limit=st.integers(0, 70))
def test_the_level_walk_answers_as_the_node_walk(value: JSONValue, limit: int) -> None:
    assert too_deep(value, limit) == reference_too_deep(value, limit)
    if reference_too_deep(value, limit):
        assert may_be_too_deep(orjson.dumps(value), limit)  # never "shallow" when it is deep


@pytest.mark.parametrize("depth", [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 200])
def test_a_body_too_deep_by_one_level_is_refused_and_one_level_less_is_parsed(depth: int) -> None:
    body = orjson.dumps(nested(depth))
    answer = observation(Side.APP, 200, body, content_type="application/json")
    if reference_too_deep(orjson.loads(body)):
        with pytest.raises(ValueError, match="nests deeper than 64 levels"):
            parse_body(BodyKind.JSON, answer)
    else:
        assert parse_body(BodyKind.JSON, answer) == orjson.loads(body)


def test_brackets_inside_strings_only_make_the_walk_run() -> None:
    document: Any = {"logs": ["[" * 100, "{" * 100]}
    body = orjson.dumps(document)
    assert may_be_too_deep(body)
    assert parse_body(BodyKind.JSON, observation(Side.LEGACY, 200, document)) == document
