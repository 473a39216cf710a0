"""The `request` section of a record: what `diffs fixtures` replays, with no secret in it."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from shadowproxy.difflog.record import MAX_REQUEST_BODY, RecordBuilder
from shadowproxy.types import Comparison, Outcome, SentRequest
from tests.shadowproxy.factories import exchange

MOMENT = datetime(2026, 4, 13, 12, 0, tzinfo=UTC)


def section(sent: SentRequest | None, redact: tuple[str, ...] = ()) -> object:
    comparison = Comparison(exchange(), Outcome.MISMATCH, request=sent)
    return RecordBuilder.create(redact).build(comparison, MOMENT)["request"]


def test_secret_headers_are_withheld_by_name_and_the_rest_kept_in_order() -> None:
    sent = SentRequest(
        (
            ("Accept", "application/json"),
            ("Authorization", "Bearer s3cret"),
            ("X-Note", "see ?token=abc"),
            ("Cookie", "session=1"),
            ("accept", "text/plain"),
        ),
        None,
    )
    assert section(sent) == {
        "headers": [
            ["Accept", "application/json"],
            ["X-Note", "see ?token=[REDACTED]"],
            ["accept", "text/plain"],
        ],
        "withheld": ["authorization", "cookie"],
        "body_bytes": None,
        "encoding": None,
        "body": None,
    }


def test_a_json_body_is_kept_parsed_and_redacted_like_difference_values() -> None:
    body = b'{"ticker": "AAPL", "api_key": "k", "account": {"pin": "1234"}}'
    found = section(SentRequest((), body), redact=("account.pin",))
    assert isinstance(found, dict)
    assert (found["encoding"], found["body_bytes"]) == ("json", len(body))
    assert found["body"] == {
        "ticker": "AAPL",
        "api_key": "[REDACTED]",
        "account": {"pin": "[REDACTED]"},
    }


@pytest.mark.parametrize(
    ("body", "encoding", "kept"),
    [
        pytest.param(
            b"ticker=AAPL&password=x", "text", "ticker=AAPL&password=[REDACTED]", id="text"
        ),
        pytest.param(
            b"\xff\x00\x01", "base64", base64.b64encode(b"\xff\x00\x01").decode(), id="bin"
        ),
        pytest.param(b"", None, None, id="empty"),
        pytest.param(b"x" * (MAX_REQUEST_BODY + 1), None, None, id="too-large"),
    ],
)
def test_other_bodies(body: bytes, encoding: str | None, kept: str | None) -> None:
    found = section(SentRequest((), body))
    assert isinstance(found, dict)
    assert (found["encoding"], found["body"], found["body_bytes"]) == (encoding, kept, len(body))


def test_no_request_no_section() -> None:
    assert section(None) is None
