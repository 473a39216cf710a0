"""The filters every `diffs` subcommand shares, with exact counts over the sample folder
(tests/shadowproxy/difflog/logs.py lists its records)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from shadowproxy.difflog.filters import Selection, Tally, parse_moment, select, selected
from shadowproxy.difflog.read import Skips
from shadowproxy.difflog.segments import segment_files

from .logs import REPORT, TASKS, WS, changed, cid, record, sample, ts

NOW = datetime(2026, 4, 13, 12, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        pytest.param("45s", NOW - timedelta(seconds=45), id="seconds"),
        pytest.param("30m", NOW - timedelta(minutes=30), id="minutes"),
        pytest.param(" 1h ", NOW - timedelta(hours=1), id="hours"),
        pytest.param("2d", NOW - timedelta(days=2), id="days"),
        pytest.param("2026-12-01T10:00", datetime(2026, 12, 1, 10, tzinfo=UTC), id="naive-utc"),
        pytest.param("2026-12-01", datetime(2026, 12, 1, tzinfo=UTC), id="date"),
        pytest.param("2026-12-01T10:00Z", datetime(2026, 12, 1, 10, tzinfo=UTC), id="zulu"),
        pytest.param(
            "2026-12-01T12:00+02:00",
            datetime(2026, 12, 1, 12, tzinfo=timezone(timedelta(hours=2))),
            id="offset",
        ),
    ],
)
def test_moments(text: str, moment: datetime) -> None:
    assert parse_moment(text, now=NOW) == moment


@pytest.mark.parametrize("text", ["yesterday", "1w", "-1h", "1.5h", "", "2026-13-01"])
def test_a_bad_moment_says_what_it_takes(text: str) -> None:
    with pytest.raises(ValueError, match="an age like 30m, 1h or 2d, or an ISO date"):
        parse_moment(text, now=NOW)


def count(folder: Path, selection: Selection) -> tuple[list[int], Tally]:
    tally = Tally()
    found = selected(segment_files(folder), selection, Skips(), tally)
    return [int(r["comparison_id"][:2]) for r in found], tally


def at(day: int, hour: int, minute: int) -> datetime:
    return datetime(2026, 4, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("selection", "numbers"),
    [
        pytest.param(Selection(), list(range(1, 16)), id="everything"),
        pytest.param(Selection(outcome="mismatch"), [1, 2, 5, 6, 9, 10, 12, 13, 15], id="outcome"),
        pytest.param(Selection(outcome="skipped"), [3, 11], id="skipped"),
        pytest.param(Selection(group="reports"), [10, 11], id="group"),
        pytest.param(Selection(group="system"), [], id="group-without-records"),
        pytest.param(Selection(route=TASKS), [5, 6, 9, 13], id="route"),
        pytest.param(Selection(route=WS, group="ws_analysis"), [12], id="route-and-group"),
        pytest.param(Selection(field="decision"), [1, 2, 15], id="field"),
        pytest.param(Selection(field="tasks[].stage"), [5, 6, 9, 13], id="field-family"),
        pytest.param(Selection(field="tasks[AAPL_1].stage"), [5, 6, 9], id="field-exact"),
        pytest.param(Selection(field="tasks"), [], id="field-no-prefix-match"),
        pytest.param(Selection(field="error.cancel_notice"), [], id="accepted-is-no-difference"),
        pytest.param(Selection(consumer="legacy-dashboard"), [8], id="consumer-shared-not"),
        pytest.param(Selection(consumer="v1alpha1-dashboard"), [12], id="consumer-shadow"),
        pytest.param(Selection(consumer="nobody"), [], id="consumer-unknown"),
        pytest.param(Selection(since=at(13, 0, 0)), list(range(5, 16)), id="since-day"),
        pytest.param(Selection(until=at(13, 0, 0)), [1, 2, 3, 4], id="until-day"),
        pytest.param(
            Selection(since=at(13, 12, 5), until=at(13, 12, 21)),
            [9, 10, 11, 12, 13],
            id="since-inclusive-until-exclusive",
        ),
        pytest.param(
            Selection(since=datetime(2026, 4, 13, 14, 5, tzinfo=timezone(timedelta(hours=2)))),
            [9, 10, 11, 12, 13, 14, 15],
            id="since-with-offset",
        ),
        pytest.param(
            Selection(outcome="mismatch", route=REPORT, since=at(13, 12, 0)), [10], id="combined"
        ),
    ],
)
def test_selections(tmp_path: Path, selection: Selection, numbers: list[int]) -> None:
    assert count(sample(tmp_path), selection)[0] == numbers


def test_the_tally_counts_what_was_read_and_the_window_newest(tmp_path: Path) -> None:
    folder = sample(tmp_path)
    _, tally = count(folder, Selection(outcome="skipped", until=at(13, 12, 10)))
    # the window's newest ignores the other filters: `signatures` judges "still occurring" on it
    assert (tally.read, tally.selected) == (15, 2)
    assert tally.newest == ts(13, 12, 8)


def test_the_window_prunes_segments_by_their_day() -> None:
    selection = Selection(since=at(13, 12, 0), until=at(14, 1, 0))
    assert (selection.first_day, selection.last_day) == ("2026-04-13", "2026-04-14")
    assert (Selection().first_day, Selection().last_day) == ("", "9999-12-31")


def test_select_alone() -> None:
    records = [record(n, ts(13, 12, n), "match") for n in range(1, 4)]
    tally = Tally()
    found = list(select(records, Selection(since=at(13, 12, 2)), tally))
    assert [r["ts"] for r in found] == [ts(13, 12, 2), ts(13, 12, 3)]
    assert (tally.read, tally.selected) == (3, 2)


def test_noise_is_an_outcome_and_no_differing_field() -> None:
    noise = [{"field": "updated_at", "kind": "changed", "legacy": 1, "app": 2, "reason": "r"}]
    records = [
        record(1, ts(13, 12, 1), "noise", noise=noise),
        record(2, ts(13, 12, 2), "mismatch", differences=[changed("decision")], noise=noise),
        record(3, ts(13, 12, 3), "match"),
    ]

    def chosen(selection: Selection) -> list[str]:
        return [r["comparison_id"] for r in select(records, selection, Tally())]

    assert chosen(Selection(outcome="noise")) == [cid(1)]
    assert chosen(Selection(outcome="mismatch")) == [cid(2)]
    assert chosen(Selection(field="updated_at")) == []  # like accepted: `differences` only
    assert chosen(Selection(field="decision")) == [cid(2)]


def test_replicas_select_the_records_any_of_them_wrote() -> None:
    names = ["a", "b", "c", None]  # None: a record from before schema 3 names no replica
    records = [record(n, ts(13, 12, n), "match", replica=name) for n, name in enumerate(names)]

    def chosen(*replicas: str) -> list[str | None]:
        selection = Selection(replicas=frozenset(replicas))
        return [r["replica"] for r in select(records, selection, Tally())]

    assert chosen() == names
    assert chosen("b") == ["b"]
    assert chosen("a", "c") == ["a", "c"]
    assert chosen("nobody") == []
