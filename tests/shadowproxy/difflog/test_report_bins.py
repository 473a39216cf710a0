"""The report's bounded summaries: tallies that fold their long tail, fixed-bin latency
histograms, time buckets that widen as the span grows."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shadowproxy.difflog.report_bins import (
    MAX_BUCKETS,
    WIDTHS,
    LatencyHistogram,
    Tallies,
    TimeBuckets,
    bin_value,
    latency_bin,
)


def test_tallies_keep_first_last_and_the_first_example() -> None:
    tallies: Tallies[str] = Tallies(capacity=10)
    for ts, example in ((5.0, "a"), (2.0, "b"), (9.0, "c"), (None, "d")):
        tallies.add("key", ts, example)
    [(key, tally)] = tallies.top(5)
    assert (key, tally.count, tally.first, tally.last, tally.example) == ("key", 4, 2.0, 9.0, "a")


def test_tallies_fold_the_rarest_keys_past_twice_their_capacity() -> None:
    tallies: Tallies[str] = Tallies(capacity=2)
    for key, times in (("a", 5), ("b", 3), ("c", 1), ("d", 1)):
        for n in range(times):
            tallies.add(key, float(n), key)
    assert len(tallies.entries) == 4
    assert tallies.folded == 0
    tallies.add("e", 0.0, "e")  # a fifth key: the two rarest are folded first
    assert {key: t.count for key, t in tallies.entries.items()} == {"a": 5, "b": 3, "e": 1}
    assert tallies.folded == 2
    assert [key for key, _ in tallies.top(2)] == ["a", "b"]


def test_a_tally_keeps_the_first_detail_or_with_latest_the_latest_by_time() -> None:
    first: Tallies[str] = Tallies(capacity=4)
    latest: Tallies[str] = Tallies(capacity=4, latest=True)
    for tallies in (first, latest):
        for ts, detail in ((10.0, "at 10"), (30.0, "at 30"), (20.0, "at 20"), (None, "undated")):
            tallies.add("k", ts, f"cmp-{ts}", detail)
        tallies.add("k", 40.0, "cmp-40")  # no detail: the one kept stays
    assert first.entries["k"].detail == "at 10"
    assert latest.entries["k"].detail == "at 30"  # not the one read last, nor the undated one
    assert (latest.entries["k"].count, latest.entries["k"].example) == (5, "cmp-10.0")


@given(st.floats(min_value=0.011, max_value=9e6))
def test_a_latency_reads_back_within_two_and_a_half_percent(ms: float) -> None:
    assert bin_value(latency_bin(ms)) == pytest.approx(ms, rel=0.0247)


def test_latency_bins_at_the_edges() -> None:
    assert (bin_value(latency_bin(0.0)), bin_value(latency_bin(-1.0))) == (0.0, 0.0)
    assert latency_bin(0.005) == latency_bin(0.01) == 0
    assert latency_bin(1e9) == latency_bin(1e8)  # past 10 000 s: the last bin


def test_histograms_merge_and_read_nearest_rank_quantiles() -> None:
    first, second = LatencyHistogram(), LatencyHistogram()
    for ms in (1.0, 2.0, 3.0):
        first.add(latency_bin(ms))
    for ms in (100.0, 200.0):
        second.add(latency_bin(ms))
    first.merge(second)
    assert first.count == 5
    assert first.quantile(0.5) == bin_value(latency_bin(3.0))  # rank 3 of 5
    assert first.quantile(0.95) == bin_value(latency_bin(200.0))
    assert first.quantile(0.2) == bin_value(latency_bin(1.0))
    assert LatencyHistogram().quantile(0.5) is None


@dataclass
class Count:
    n: int = 0

    def merge(self, other: Count) -> None:
        self.n += other.n


def test_the_widths_divide_each_other() -> None:
    assert all(b % a == 0 for a, b in itertools.pairwise(WIDTHS))


def test_buckets_widen_and_merge_as_the_span_grows() -> None:
    buckets: TimeBuckets[Count] = TimeBuckets(Count)
    for second in range(0, 86400, 7):  # one day, one event every 7 s
        buckets.at(1_776_081_600.0 + second).n += 1
    series = list(buckets.series())
    assert buckets.width == 900  # 15 min: the first width that fits a day in 120 buckets
    assert len(series) == 96
    assert sum(c.n for _, c in series if c) == len(range(0, 86400, 7))
    assert all(start % 900 == 0 for start, _ in series)


def test_buckets_take_records_out_of_order_and_leave_gaps_empty() -> None:
    buckets: TimeBuckets[Count] = TimeBuckets(Count)
    for ts in (100.0, 50.0, 100.5, 160.0, 40.0):
        buckets.at(ts).n += 1
    assert buckets.width == 5  # 40 .. 160 s: 121 one-second buckets would be one too many
    series = list(buckets.series())
    assert len(series) == 25 <= MAX_BUCKETS
    assert sum(c.n for _, c in series if c) == 5
    assert series[0][0] <= 40.0
    assert series[-1][0] + buckets.width > 160.0
    assert any(c is None for _, c in series)
