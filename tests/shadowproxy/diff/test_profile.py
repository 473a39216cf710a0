"""What a profile is given: parsed JSON or CSV, or a bounded digest of bytes, never too deep."""

from __future__ import annotations

from typing import Any

import pytest

from shadowproxy.types import DiffKind, Outcome, Side

from ..factories import aliases, exchange, observation
from .documents import ENGINE, compare

JSON = "application/json"


def test_bytes_differences_carry_a_bounded_digest_not_the_body() -> None:
    body = b"x" * 10_000
    comparison = ENGINE(
        exchange(profile="bytes_equal"),
        observation(Side.LEGACY, 200, body, content_type=JSON),
        observation(Side.APP, 200, b"y", content_type=JSON),
        aliases(),
    )
    difference = comparison.differences[0]
    assert isinstance(difference.legacy, str)
    assert difference.legacy.startswith("10000 bytes, sha256 ")
    assert len(difference.legacy) < 64


def test_a_body_nested_too_deep_is_compared_as_bytes() -> None:
    deep = observation(Side.LEGACY, 200, b"[" * 500 + b"]" * 500, content_type=JSON)
    also_deep = observation(Side.APP, 200, deep.body, content_type=JSON)
    comparison = ENGINE(exchange(profile="json_equal"), deep, also_deep, aliases())
    assert comparison.outcome is Outcome.MATCH
    assert comparison.secondary == ()
    empty = observation(Side.APP, 200, b"[]", content_type=JSON)
    changed = ENGINE(exchange(profile="json_equal"), deep, empty, aliases())
    assert [(d.field, d.kind) for d in changed.differences] == [("body", DiffKind.CHANGED)]


def test_a_parsed_value_nested_too_deep_is_refused_with_a_sentence() -> None:
    deep: Any = []
    for _ in range(100):
        deep = [deep]
    with pytest.raises(ValueError, match="the app value nests deeper than 64 levels"):
        compare("status_document", {}, deep)


def test_a_csv_that_does_not_parse_is_compared_as_bytes() -> None:
    huge_cell = b'ticker,summary\nAAPL,"' + b"x" * 200_000 + b'"\n'
    comparison = ENGINE(
        exchange(profile="csv"),
        observation(Side.LEGACY, 200, huge_cell, content_type="text/csv"),
        observation(Side.APP, 200, b"\xff", content_type="text/csv"),
        aliases(),
    )
    assert [(d.field, d.kind) for d in comparison.differences] == [("body", DiffKind.CHANGED)]
