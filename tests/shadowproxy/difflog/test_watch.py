"""Watches: the records of the comparisons a replay waits for, by request id, bounded in number
and in time."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

import pytest

from shadowproxy.difflog.record import RecordBuilder
from shadowproxy.difflog.watch import MAX_WATCHED, TTL_S, Watches
from shadowproxy.types import Comparison, Outcome, RouteGroup, Side, SkipReason

from ..factories import changed, comparison, exchange, observation

SHORT_WAIT_S = 0.05


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


def watches(clock: FakeClock | None = None, redact: tuple[str, ...] = ()) -> Watches:
    builder = RecordBuilder.create(redact)
    return Watches(builder) if clock is None else Watches(builder, clock=clock)


def compared(request_id: str, comparison_id: str = "cmp-1") -> Comparison:
    """A mismatch of one analysis read, both sides answering 200 with different decisions."""
    made = comparison(RouteGroup.ANALYSIS, changed("decision", "BUY", "HOLD"))
    return replace(
        made,
        exchange=replace(made.exchange, request_id=request_id, comparison_id=comparison_id),
        legacy=observation(Side.LEGACY, 200, {"decision": "BUY"}),
        app=observation(Side.APP, 200, {"decision": "HOLD"}),
    )


async def test_a_comparison_nobody_watches_is_not_kept() -> None:
    watched = watches()
    watched.publish(compared("req-1"))
    assert len(watched) == 0
    assert await watched.result("req-1", SHORT_WAIT_S) is None


async def test_a_comparison_of_another_request_is_not_kept() -> None:
    watched = watches()
    watched.expect(["req-1"])
    watched.publish(compared("req-2"))
    assert await watched.result("req-2", SHORT_WAIT_S) is None
    assert await watched.result("req-1", SHORT_WAIT_S) == []


async def test_a_watched_comparison_is_its_built_record() -> None:
    watched = watches()
    watched.expect(["req-1", "req-9"])
    watched.publish(compared("req-1", comparison_id="cmp-42"))
    records = await watched.result("req-1", SHORT_WAIT_S)
    assert records is not None
    [built] = records
    assert (built["request_id"], built["outcome"], built["comparison_id"]) == (
        "req-1",
        "mismatch",
        "cmp-42",
    )
    assert built["event"] == "shadow_comparison"
    assert built["route_group"] == "analysis"
    assert built["legacy"]["status"] == built["app"]["status"] == 200
    assert built["differences"] == [
        {"field": "decision", "kind": "changed", "legacy": "BUY", "app": "HOLD"}
    ]
    assert built["ts"].endswith("Z")
    # the other watched id has nothing yet
    assert await watched.result("req-9", SHORT_WAIT_S) == []


async def test_the_record_is_redacted_like_the_diff_log() -> None:
    watched = watches(redact=("account.pin",))
    watched.expect(["req-1"])
    made = compared("req-1")
    watched.publish(replace(made, differences=(changed("account.pin", "1234", "5678"),)))
    records = await watched.result("req-1", SHORT_WAIT_S)
    assert records is not None
    assert [(d["field"], d["legacy"], d["app"]) for d in records[0]["differences"]] == [
        ("account.pin", "[REDACTED]", "[REDACTED]")
    ]
    assert "1234" not in str(records)


async def test_a_skip_is_kept_with_its_reason() -> None:
    watched = watches()
    watched.expect(["req-1"])
    skipped = Comparison(
        exchange(request_id="req-1"), Outcome.SKIPPED, reason=SkipReason.SAMPLED_OUT.value
    )
    watched.publish(skipped)
    records = await watched.result("req-1", SHORT_WAIT_S)
    assert records is not None
    assert [(r["outcome"], r["reason"], r["legacy"], r["app"]) for r in records] == [
        ("skipped", "sampled_out", None, None)
    ]


async def test_every_comparison_of_a_request_is_kept_in_order() -> None:
    watched = watches()
    watched.expect(["req-1"])
    watched.publish(compared("req-1", comparison_id="cmp-1"))
    watched.publish(compared("req-1", comparison_id="cmp-2"))
    records = await watched.result("req-1", SHORT_WAIT_S)
    assert records is not None
    assert [r["comparison_id"] for r in records] == ["cmp-1", "cmp-2"]


async def test_a_result_can_be_read_again() -> None:
    watched = watches()
    watched.expect(["req-1"])
    watched.publish(compared("req-1"))
    first = await watched.result("req-1", SHORT_WAIT_S)
    second = await watched.result("req-1", 0)
    assert first is not None
    assert second == first
    assert second is not first  # a copy: the caller cannot change what is kept
    first.clear()
    assert await watched.result("req-1", 0) == second


async def test_no_comparison_in_time_is_an_empty_list() -> None:
    watched = watches()
    watched.expect(["req-1"])
    assert await watched.result("req-1", SHORT_WAIT_S) == []
    assert await watched.result("req-1", 0) == []
    # still watched: a comparison that comes later is kept
    watched.publish(compared("req-1"))
    records = await watched.result("req-1", SHORT_WAIT_S)
    assert records is not None
    assert [r["request_id"] for r in records] == ["req-1"]


async def test_a_waiter_gets_the_record_published_meanwhile() -> None:
    watched = watches()
    watched.expect(["req-1"])
    waiting = asyncio.create_task(watched.result("req-1", 10))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert not waiting.done()  # it is waiting: nothing was published yet
    watched.publish(compared("req-1", comparison_id="cmp-7"))
    records = await waiting
    assert records is not None
    assert [(r["request_id"], r["comparison_id"]) for r in records] == [("req-1", "cmp-7")]


async def test_two_waiters_of_one_request_both_get_it() -> None:
    watched = watches()
    watched.expect(["req-1"])
    waiters = [asyncio.create_task(watched.result("req-1", 10)) for _ in range(2)]
    await asyncio.sleep(0)
    watched.publish(compared("req-1"))
    for records in await asyncio.gather(*waiters):
        assert records is not None
        assert [r["request_id"] for r in records] == ["req-1"]


# ---------------------------------------------------------------- bounded in number


def test_no_more_than_max_watched_ids() -> None:
    watched = watches()
    watched.expect(f"req-{n}" for n in range(MAX_WATCHED))
    assert len(watched) == MAX_WATCHED
    with pytest.raises(ValueError, match=r"^at most 1000 request ids are watched at a time") as exc:
        watched.expect(["one-more"])
    assert f"({MAX_WATCHED} are now)" in str(exc.value)
    assert len(watched) == MAX_WATCHED


async def test_a_refused_expect_adds_none_of_its_ids() -> None:
    watched = watches()
    watched.expect(f"req-{n}" for n in range(MAX_WATCHED - 1))
    with pytest.raises(ValueError, match="at most"):
        watched.expect(["new-1", "new-2"])  # one would fit, two do not: neither is added
    assert len(watched) == MAX_WATCHED - 1
    assert await watched.result("new-1", 0) is None
    assert await watched.result("new-2", 0) is None
    watched.expect(["new-1"])  # the room that is left is still there
    assert len(watched) == MAX_WATCHED


def test_duplicate_ids_count_once() -> None:
    watched = watches()
    assert watched.expect(["req-1", "req-1", "req-2", "req-1"]) == 2
    assert len(watched) == 2
    watched.expect(["req-2", "req-1"])  # watched already: nothing new
    assert len(watched) == 2


def test_ids_watched_already_do_not_count_against_the_bound() -> None:
    watched = watches()
    ids = [f"req-{n}" for n in range(MAX_WATCHED)]
    watched.expect(ids)
    watched.expect(ids[:10])  # full, but nothing new is asked for
    assert len(watched) == MAX_WATCHED


async def test_expecting_again_keeps_what_was_published() -> None:
    watched = watches()
    watched.expect(["req-1"])
    watched.publish(compared("req-1"))
    watched.expect(["req-1"])
    records = await watched.result("req-1", 0)
    assert records is not None
    assert len(records) == 1


# ---------------------------------------------------------------- bounded in time


async def test_an_expired_watch_keeps_nothing_and_answers_none_at_once() -> None:
    clock = FakeClock()
    watched = watches(clock)
    watched.expect(["old"])
    clock.now += TTL_S
    watched.publish(compared("old"))
    assert await watched.result("old", 0) is None
    assert len(watched) == 0


async def test_an_expired_watch_is_forgotten_on_the_next_expect() -> None:
    clock = FakeClock()
    watched = watches(clock)
    watched.expect(["old"])
    watched.publish(compared("old"))
    clock.now += TTL_S + 1
    watched.expect(["new"])
    assert await watched.result("old", 0) is None
    assert await watched.result("new", 0) == []
    assert len(watched) == 1
    watched.publish(compared("old"))  # no longer watched: not kept again
    assert await watched.result("old", 0) is None


async def test_a_watch_lives_ttl_seconds_from_when_it_was_registered() -> None:
    clock = FakeClock()
    watched = watches(clock)
    watched.expect(["first"])
    clock.now += TTL_S / 2
    watched.expect(["second"])
    clock.now += TTL_S / 2 - 0.25  # first: just short of TTL_S (binary-exact steps)
    watched.expect([])
    assert len(watched) == 2
    clock.now += 0.25  # first: exactly TTL_S, second: half of it
    watched.expect([])
    assert await watched.result("first", 0) is None
    assert await watched.result("second", 0) == []
    clock.now += TTL_S / 2
    watched.expect([])
    assert len(watched) == 0
    assert await watched.result("second", 0) is None


def test_expired_watches_free_room() -> None:
    clock = FakeClock()
    watched = watches(clock)
    watched.expect(f"old-{n}" for n in range(MAX_WATCHED))
    with pytest.raises(ValueError, match="at most"):
        watched.expect(["new-0"])
    clock.now += TTL_S + 1
    watched.expect(f"new-{n}" for n in range(MAX_WATCHED))
    assert len(watched) == MAX_WATCHED


async def test_an_expired_id_can_be_watched_again_afresh() -> None:
    clock = FakeClock()
    watched = watches(clock)
    watched.expect(["req-1"])
    watched.publish(compared("req-1"))
    clock.now += TTL_S + 1
    watched.expect(["req-1"])  # forgotten first, then registered anew: no old record
    assert await watched.result("req-1", 0) == []
