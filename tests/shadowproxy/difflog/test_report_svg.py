"""The report's inline SVG charts: scaled axes, bars per bucket, lines broken at empty buckets."""

from __future__ import annotations

import re

import pytest

from shadowproxy.difflog.report_svg import Series, bars, duration, lines

STARTS = [1_776_081_600.0 + 60 * i for i in range(4)]


def ms(value: float) -> str:
    return f"{value:g} ms"


def test_bars_draw_each_series_of_each_non_empty_bucket() -> None:
    chart = bars(
        "a <b> chart",
        STARTS,
        60,
        [
            Series("records", "records", [4, 0, 8, 3]),
            Series("mismatches", "mismatch", [1, 0, 8, 0]),
        ],
    )
    assert chart.startswith('<svg class="chart" viewBox="0 0 640 190"')
    assert "<title>a &lt;b&gt; chart</title>" in chart
    assert chart.count('class="s-records"') == 3  # the empty bucket has no bar
    assert chart.count('class="s-mismatch"') == 2
    assert "<title>04-13 12:02 + 1 min: records 8, mismatches 8</title>" in chart
    axis = re.findall(r'text-anchor="end">([^<]+)</text>', chart)
    assert axis[:3] == ["0", "5", "10"]  # 8 rounds up to 10


def rects(chart: str, name: str) -> list[tuple[float, float]]:
    """The (top, bottom) of each bar of series `name`."""
    found = re.findall(rf'<rect class="s-{name}" x="[^"]+" y="([^"]+)" width="[^"]+" '
                       r'height="([^"]+)"/>', chart)  # fmt: skip
    return [(float(y), round(float(y) + float(h), 1)) for y, h in found]


def test_stacked_bars_stand_on_the_stacked_ones_before_them() -> None:
    chart = bars(
        "stacked",
        STARTS,
        60,
        [
            Series("records", "records", [10, 0, 4, 0]),
            Series("mismatches", "mismatch", [4, 0, 0, 0], stacked=True),
            Series("noise", "noise", [6, 0, 3, 2], stacked=True),
        ],
    )
    (records, *_), (mismatch,) = rects(chart, "records"), rects(chart, "mismatch")
    noise = rects(chart, "noise")
    baseline = 10.0 + 154  # _TOP + _PLOT_H
    assert records == (10.0, baseline)  # 10 of a 10 high axis: the whole plot
    assert mismatch[1] == baseline
    assert noise[0] == (records[0], mismatch[0])  # 4 + 6 = 10: up to the top, on the mismatches
    assert noise[1][1] == noise[2][1] == baseline  # no mismatches under them: from the baseline
    assert "<title>04-13 12:00 + 1 min: records 10, mismatches 4, noise 6</title>" in chart
    tall = bars("sum", STARTS[:1], 60, [Series("a", "a", [3], stacked=True),
                                        Series("b", "b", [4], stacked=True)])  # fmt: skip
    assert re.findall(r'text-anchor="end">([^<]+)</text>', tall)[2] == "10"  # 7 stacked: 10


def test_lines_break_where_a_bucket_has_no_value() -> None:
    chart = lines(
        "latency", STARTS, 60, [Series("app p50", "app-p50", [10.0, None, 30.0, 40.0])], ms
    )
    [path] = re.findall(r'<path class="s-app-p50" d="([^"]+)"/>', chart)
    assert [step[0] for step in path.split(" ") if step[0].isalpha()] == ["M", "M", "L"]
    assert chart.count('class="hit"') == 3  # a hover target per bucket with a value
    assert "app p50 30 ms" in chart


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(1, "1 s"), (30, "30 s"), (300, "5 min"), (10800, "3 h"), (604800, "7 d"), (90, "90 s")],
)
def test_duration(seconds: int, words: str) -> None:
    assert duration(seconds) == words
