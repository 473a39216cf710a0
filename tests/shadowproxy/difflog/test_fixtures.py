"""Replayable fixtures: one per mismatch signature, the records that cannot be replayed counted by
why, the fixture document, the body a replay sends, and the verdict on what a replay got."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from shadowproxy.difflog.fixtures import (
    CHANGED,
    FIXTURE_VERSION,
    GONE,
    NOT_COMPARED,
    STILL,
    Collector,
    body_bytes,
    verdict,
)
from shadowproxy.difflog.record import RecordBuilder
from shadowproxy.difflog.signatures import describe, key
from shadowproxy.types import Comparison, Outcome, SentRequest

from ..factories import exchange
from .logs import STATUS, TASKS, WS, changed, cid, record, side, ts

DECISION = [changed("decision")]
STAGE = [changed("tasks[AAPL_1].stage", "trading", "research")]


def collected(*records: dict[str, Any]) -> Collector:
    collector = Collector()
    for found in records:
        collector.add(found)
    return collector


def mismatch(n: int, when: str, route: str = STATUS, **extra: Any) -> dict[str, Any]:
    """A mismatch record (decision changed unless `differences` says otherwise)."""
    return record(n, when, "mismatch", route, **({"differences": DECISION} | extra))


def request(**fields: Any) -> dict[str, Any]:
    """A record's `request` section: JSON headers, nothing withheld, no body unless given."""
    section: dict[str, Any] = {
        "headers": [["Accept", "application/json"]],
        "withheld": [],
        "body_bytes": None,
        "encoding": None,
        "body": None,
    }
    return section | fields


def one_fixture(*records: dict[str, Any]) -> dict[str, Any]:
    fixtures = collected(*records).fixtures()
    assert len(fixtures) == 1
    return fixtures[0]


# ---------------------------------------------------------------- collecting


@pytest.mark.parametrize(
    "outcome",
    ["match", "accepted", "noise", "skipped", "shadow_error", "authoritative_error",
     "both_error", "inflight_skew"],
)  # fmt: skip
def test_only_mismatches_are_collected(outcome: str) -> None:
    collector = collected(record(1, ts(12, 10, 0), outcome, differences=DECISION))
    assert collector.kept == {}
    assert collector.fixtures() == []
    assert collector.left_out() == {}


def test_one_fixture_per_signature_however_many_records_repeat_it() -> None:
    collector = collected(
        mismatch(1, ts(12, 10, 0)),
        mismatch(2, ts(12, 10, 5)),
        mismatch(3, ts(12, 10, 1)),
        record(4, ts(12, 10, 2), "match"),
    )
    [fixture] = collector.fixtures()
    assert fixture["seen"] == {"count": 3, "first": ts(12, 10, 0), "last": ts(12, 10, 5)}
    assert fixture["signature"]["route"] == STATUS
    assert fixture["signature"]["differences"] == [{"field": "decision", "kind": "changed"}]
    assert collector.left_out() == {}


def test_the_latest_replayable_record_is_the_one_kept() -> None:
    # added out of time order: the kept one is the latest by `ts`, not the last added
    fixture = one_fixture(
        mismatch(1, ts(12, 10, 0)),
        mismatch(2, ts(12, 10, 9)),
        mismatch(3, ts(12, 10, 4)),
    )
    assert fixture["comparison_id"] == cid(2)
    assert fixture["seen"]["count"] == 3


def test_of_two_records_at_the_same_moment_the_later_added_is_kept() -> None:
    fixture = one_fixture(mismatch(1, ts(12, 10, 0)), mismatch(2, ts(12, 10, 0)))
    assert fixture["comparison_id"] == cid(2)


def test_records_of_different_values_share_a_signature() -> None:
    fixture = one_fixture(
        mismatch(1, ts(12, 10, 0), differences=[changed("decision", "BUY", "HOLD")]),
        mismatch(2, ts(12, 10, 1), differences=[changed("decision", "SELL", "BUY")]),
    )
    assert fixture["seen"]["count"] == 2
    assert fixture["recorded"]["differences"] == [changed("decision", "SELL", "BUY")]


@pytest.mark.parametrize(
    ("unreplayable", "why"),
    [
        pytest.param(
            record(1, ts(13, 12, 8), "mismatch", WS, "ws_analysis", differences=DECISION),
            "websocket",
            id="websocket",
        ),
        pytest.param(
            mismatch(1, ts(12, 10, 0), request=None), "no request recorded", id="schema-1"
        ),
        pytest.param(
            mismatch(1, ts(12, 10, 0), request={"withheld": []}),
            "no request recorded",
            id="no-headers",
        ),
        pytest.param(
            mismatch(1, ts(12, 10, 0), request=request(body_bytes=70_000)),
            "request body not kept",
            id="body-over-64k",
        ),
    ],
)
def test_a_signature_with_no_replayable_record_is_left_out_and_counted(
    unreplayable: dict[str, Any], why: str
) -> None:
    collector = collected(unreplayable)
    assert collector.fixtures() == []
    assert collector.left_out() == {why: 1}
    [kept] = collector.kept.values()
    assert (kept.count, kept.record) == (1, None)


def test_the_kind_ws_alone_makes_a_record_a_websocket_one() -> None:
    # an HTTP route, with a full request section: still a websocket record by its `kind`
    collector = collected(mismatch(1, ts(12, 10, 0), kind="ws"))
    assert collector.left_out() == {"websocket": 1}
    assert collector.fixtures() == []


def test_a_kept_empty_body_is_replayable() -> None:
    # body_bytes 0: an empty body, nothing to keep, nothing lost
    fixture = one_fixture(mismatch(1, ts(12, 10, 0), request=request(body_bytes=0)))
    assert fixture["request"]["encoding"] is None
    assert body_bytes(fixture) is None


def test_left_out_counts_signatures_not_records() -> None:
    collector = collected(
        mismatch(1, ts(12, 10, 0), request=None),
        mismatch(2, ts(12, 10, 1), request=None),
        mismatch(3, ts(12, 10, 2), TASKS, differences=STAGE, request=None),
        record(4, ts(13, 12, 8), "mismatch", WS, "ws_analysis", differences=DECISION),
        mismatch(5, ts(12, 10, 3), request=request(body_bytes=100_000), differences=[]),
    )
    assert collector.fixtures() == []
    assert collector.left_out() == {
        "no request recorded": 2,
        "websocket": 1,
        "request body not kept": 1,
    }


@pytest.mark.parametrize("replayable_first", [True, False], ids=["replayable-first", "last"])
def test_a_signature_with_one_replayable_record_is_written(replayable_first: bool) -> None:
    good = mismatch(1, ts(12, 10, 0))
    bad = mismatch(2, ts(12, 10, 5), request=None)
    collector = collected(*((good, bad) if replayable_first else (bad, good)))
    [fixture] = collector.fixtures()
    assert fixture["comparison_id"] == cid(1)  # the replayable one, though older
    # the unreplayable record still counts as seen
    assert fixture["seen"] == {"count": 2, "first": ts(12, 10, 0), "last": ts(12, 10, 5)}
    assert collector.left_out() == {}


def test_fixtures_are_the_most_frequent_first_then_the_first_seen() -> None:
    collector = collected(
        mismatch(1, ts(12, 10, 5)),  # A: 1 record, first seen 10:05
        mismatch(2, ts(12, 10, 1), TASKS, differences=STAGE),  # B: 3 records
        mismatch(3, ts(12, 10, 2), TASKS, differences=STAGE),
        mismatch(4, ts(12, 10, 3), TASKS, differences=STAGE),
        mismatch(5, ts(12, 10, 0), app=side(500), differences=[]),  # C: 1 record, 10:00
        mismatch(6, ts(12, 9, 0), request=None, differences=STAGE),  # D: left out, 1 record
    )
    order = [(f["signature"]["route"], f["seen"]["count"]) for f in collector.fixtures()]
    assert order == [(TASKS, 3), (STATUS, 1), (STATUS, 1)]
    ids = [f["comparison_id"] for f in collector.fixtures()]
    assert ids == [cid(4), cid(5), cid(1)]
    assert collector.left_out() == {"no request recorded": 1}


# ---------------------------------------------------------------- the fixture document


def test_the_fixture_document() -> None:
    sent = request(
        headers=[["Accept", "application/json"], ["Content-Type", "application/json"]],
        withheld=["authorization", "cookie"],
        body_bytes=18,
        encoding="json",
        body={"ticker": "AAPL"},
    )
    latest = mismatch(
        2,
        ts(12, 10, 7),
        method="POST",
        path="/api/analysis/status/AAPL_1?api_key=[REDACTED]",
        app=side(200, 9.5),
        request=sent,
    )
    fixture = one_fixture(mismatch(1, ts(12, 10, 0)), latest)
    assert set(fixture) == {
        "fixture", "signature", "seen", "comparison_id", "request", "recorded",
    }  # fmt: skip
    assert fixture["fixture"] == FIXTURE_VERSION == 1
    assert fixture["signature"] == {
        "id": key(latest).id,
        "route_group": "analysis",
        "route": STATUS,
        "differences": [{"field": "decision", "kind": "changed"}],
        "legacy_status": 200,
        "app_status": 200,
        "breaks": [],
    }
    assert fixture["signature"]["id"] == key(mismatch(1, ts(12, 10, 0))).id
    assert fixture["seen"] == {"count": 2, "first": ts(12, 10, 0), "last": ts(12, 10, 7)}
    assert fixture["comparison_id"] == cid(2)
    assert fixture["request"] == {
        "method": "POST",
        "path": "/api/analysis/status/AAPL_1?api_key=[REDACTED]",
        "headers": [["Accept", "application/json"], ["Content-Type", "application/json"]],
        "withheld": ["authorization", "cookie"],
        "encoding": "json",
        "body": {"ticker": "AAPL"},
    }
    assert "body_bytes" not in fixture["request"]
    assert fixture["recorded"] == {
        "legacy": side(200, 1.5),
        "app": side(200, 9.5),
        "differences": DECISION,
    }
    assert orjson.loads(orjson.dumps(fixture)) == fixture  # what is written is JSON


def test_the_signature_of_a_status_only_mismatch() -> None:
    only = mismatch(1, ts(12, 10, 0), app=side(500), differences=[])
    fixture = one_fixture(only)
    assert fixture["signature"]["id"] == key(only).id
    assert (fixture["signature"]["legacy_status"], fixture["signature"]["app_status"]) == (200, 500)
    assert fixture["signature"]["differences"] == []
    assert fixture["recorded"]["app"] == side(500)


def test_a_record_without_method_or_path_falls_back_to_get_and_the_route() -> None:
    bare = mismatch(1, ts(12, 10, 0))
    del bare["method"], bare["path"]
    fixture = one_fixture(bare)
    assert (fixture["request"]["method"], fixture["request"]["path"]) == ("GET", STATUS)


# ---------------------------------------------------------------- the body sent again


def fixture_with(encoding: str | None, body: Any) -> dict[str, Any]:
    return {"request": {"encoding": encoding, "body": body}}


def test_a_json_body_is_serialized_again_by_meaning() -> None:
    body = {"ticker": "AAPL", "date": "2026-04-12", "depth": [1, 2.5, None, True]}
    sent = body_bytes(fixture_with("json", body))
    assert sent == b'{"ticker":"AAPL","date":"2026-04-12","depth":[1,2.5,null,true]}'
    assert sent is not None
    assert orjson.loads(sent) == body


@pytest.mark.parametrize(
    ("body", "sent"),
    [
        pytest.param([1, "two"], b'[1,"two"]', id="array"),
        pytest.param("just a string", b'"just a string"', id="string"),
        pytest.param(0, b"0", id="number"),
        pytest.param(None, b"null", id="null"),
    ],
)
def test_any_json_document_is_a_body(body: Any, sent: bytes) -> None:
    assert body_bytes(fixture_with("json", body)) == sent


def test_a_text_body_is_its_utf8() -> None:
    assert body_bytes(fixture_with("text", "ticker=AAPL&note=größer")) == (
        "ticker=AAPL&note=größer".encode()
    )


def test_a_base64_body_is_decoded() -> None:
    assert body_bytes(fixture_with("base64", "AP+AAQ==")) == b"\x00\xff\x80\x01"


def test_no_encoding_is_no_body() -> None:
    assert body_bytes(fixture_with(None, None)) is None
    assert body_bytes({"request": {}}) is None


@pytest.mark.parametrize(
    ("sent", "encoding"),
    [
        pytest.param(b'{"ticker": "AAPL",  "shares": 10}', "json", id="json"),
        pytest.param(b"ticker=AAPL&shares=10", "text", id="text"),
        pytest.param(b"\x89PNG\r\n\x1a\n\x00\xff", "base64", id="binary"),
    ],
)
def test_a_built_record_round_trips_to_the_body_sent(sent: bytes, encoding: str) -> None:
    built = RecordBuilder.create(()).build(
        Comparison(
            exchange(route=STATUS, path="/api/analysis/status/AAPL_1", method="POST"),
            Outcome.MISMATCH,
            differences=(),
            request=SentRequest((("Content-Type", "application/octet-stream"),), sent),
        ),
        datetime(2026, 4, 12, 10, 0, tzinfo=UTC),
    )
    fixture = one_fixture(built)
    assert fixture["request"]["encoding"] == encoding
    replayed = body_bytes(fixture)
    if encoding == "json":
        assert replayed is not None
        assert orjson.loads(replayed) == orjson.loads(sent)  # the meaning, not the spacing
    else:
        assert replayed == sent


# ---------------------------------------------------------------- the verdict on a replay


@pytest.fixture
def fixture() -> dict[str, Any]:
    return one_fixture(mismatch(1, ts(12, 10, 0)))


def test_no_records_is_not_compared(fixture: dict[str, Any]) -> None:
    judged = verdict(fixture, [])
    assert judged.verdict == "not compared"
    assert judged == (NOT_COMPARED, None, "no comparison in time", None)


def test_the_same_signature_is_still_there(fixture: dict[str, Any]) -> None:
    again = mismatch(7, ts(14, 9, 0), differences=[changed("decision", "SELL", "BUY")])
    judged = verdict(fixture, [again])
    assert judged.verdict == STILL == "still there"
    assert judged.outcome == "mismatch"
    assert judged.detail == "decision changed" == describe(key(again))
    assert judged.comparison_id == cid(7)


def test_another_signature_is_changed_and_named(fixture: dict[str, Any]) -> None:
    other = mismatch(8, ts(14, 9, 0), differences=STAGE)
    judged = verdict(fixture, [other])
    new_id = key(other).id
    assert new_id != fixture["signature"]["id"]
    assert judged.verdict == CHANGED == "changed"
    assert judged.outcome == "mismatch"
    assert judged.detail == f"now {new_id}: tasks[].stage changed"
    assert judged.comparison_id == cid(8)


def test_another_status_pair_is_another_signature(fixture: dict[str, Any]) -> None:
    judged = verdict(fixture, [mismatch(8, ts(14, 9, 0), app=side(500))])
    assert judged.verdict == CHANGED
    assert judged.detail.startswith("now ")
    assert judged.detail.endswith(": decision changed")


@pytest.mark.parametrize("outcome", ["shadow_error", "authoritative_error", "both_error"])
def test_an_error_is_changed_with_its_reason(fixture: dict[str, Any], outcome: str) -> None:
    failed = record(9, ts(14, 9, 0), outcome, app=side(None, 10000.0, "timeout"),
                    reason="app timeout")  # fmt: skip
    assert verdict(fixture, [failed]) == (CHANGED, outcome, "app timeout", cid(9))


def test_an_error_without_a_reason_names_its_outcome(fixture: dict[str, Any]) -> None:
    failed = record(9, ts(14, 9, 0), "both_error")
    assert verdict(fixture, [failed]) == (CHANGED, "both_error", "both_error", cid(9))


@pytest.mark.parametrize("reason", ["queue_full", "sampled_out", "uncorrelated"])
def test_a_skip_is_not_compared_with_its_reason(fixture: dict[str, Any], reason: str) -> None:
    skipped = record(10, ts(14, 9, 0), "skipped", reason=reason, legacy=None, app=None)
    assert verdict(fixture, [skipped]) == (NOT_COMPARED, "skipped", reason, cid(10))


def test_a_skip_without_a_reason_says_skipped(fixture: dict[str, Any]) -> None:
    skipped = record(10, ts(14, 9, 0), "skipped", legacy=None, app=None)
    assert verdict(fixture, [skipped]) == (NOT_COMPARED, "skipped", "skipped", cid(10))


@pytest.mark.parametrize("outcome", ["match", "accepted", "inflight_skew"])
def test_no_mismatch_now_is_gone(fixture: dict[str, Any], outcome: str) -> None:
    assert verdict(fixture, [record(11, ts(14, 9, 0), outcome)]) == (GONE, outcome, "", cid(11))


def test_noise_now_is_gone_and_names_the_noisy_fields(fixture: dict[str, Any]) -> None:
    """The divergence replayed differs now only where legacy differs with itself."""
    rate = "noise: legacy differs with itself on 31% of 64 reads (legacy vs app 29% of 200)"
    noise = [{**changed(f"tasks[{t}].updated_at", 1, 2), "reason": rate} for t in ("A", "B")]
    noise.append({**changed("progress", 0.1, 0.2), "reason": rate})
    judged = verdict(fixture, [record(11, ts(14, 9, 0), "noise", noise=noise)])
    assert judged == (GONE, "noise", "noise only: tasks[].updated_at, progress", cid(11))


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        pytest.param(
            [record(11, ts(14, 9, 0), "match"), mismatch(12, ts(14, 9, 1))], STILL, id="then-again"
        ),
        pytest.param(
            [mismatch(12, ts(14, 9, 0)), record(11, ts(14, 9, 1), "match")], GONE, id="then-gone"
        ),
        pytest.param(
            [mismatch(12, ts(14, 9, 0)), record(13, ts(14, 9, 1), "skipped", reason="queue_full")],
            NOT_COMPARED,
            id="then-skipped",
        ),
    ],
)
def test_with_several_records_the_last_is_judged(
    fixture: dict[str, Any], records: list[dict[str, Any]], expected: str
) -> None:
    judged = verdict(fixture, records)
    assert judged.verdict == expected
    assert judged.comparison_id == records[-1]["comparison_id"]
