"""Inline SVG charts for the HTML report: bars of counts and lines of latencies over time.

No script and no external resource: each chart is one `<svg class="chart">` with a `viewBox`
(it scales with the page and prints), axes labelled in UTC, and a `<title>` per time bucket that a
browser shows on hover. Colours are CSS classes (`s-<name>`) the page's stylesheet defines.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

WIDTH, HEIGHT = 640, 190
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 12, 10, 26
_PLOT_W, _PLOT_H = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM


@dataclass(frozen=True, slots=True)
class Series:
    label: str
    name: str  # the CSS class suffix: `s-<name>`
    values: Sequence[float | None]  # one per time bucket; None where there is nothing
    stacked: bool = False  # bars: on top of the stacked series before it, not from the baseline


def bars(title: str, starts: Sequence[float], width_s: int, series: Sequence[Series]) -> str:
    """Counts per bucket, each series drawn over the ones before it: from the baseline, or a
    `stacked` one on top of the stacked ones before it (parts of one whole: mismatches and noise
    of the records)."""
    peaks = [
        max(
            [
                sum(s.values[i] or 0 for s in series if s.stacked),
                *(s.values[i] or 0 for s in series),
            ]
        )
        for i in range(len(starts))
    ]
    top = _nice_top(max(peaks, default=0))
    step = _PLOT_W / max(len(starts), 1)
    parts = []
    for i, start in enumerate(starts):
        values = [s.values[i] or 0 for s in series]
        if not any(values):
            continue
        x, base, rects = _LEFT + i * step + step * 0.1, 0.0, []
        for s, v in zip(series, values, strict=True):
            low = base if s.stacked else 0.0
            if s.stacked:
                base += v
            if v:
                high, bottom = _y(low + v, top), _y(low, top)
                rects.append(
                    f'<rect class="s-{s.name}" x="{x:.1f}" y="{high:.1f}" '
                    f'width="{max(step * 0.8, 0.5):.1f}" height="{bottom - high:.1f}"/>'
                )
        parts.append(f"<g>{_tip(start, width_s, series, i, _count)}{''.join(rects)}</g>")
    return _frame(title, starts, width_s, top, _count, "".join(parts))


def lines(
    title: str,
    starts: Sequence[float],
    width_s: int,
    series: Sequence[Series],
    unit: Callable[[float], str],
) -> str:
    """One line per series through the buckets' middles, broken where a bucket has no value."""
    top = _nice_top(max((v or 0 for s in series for v in s.values), default=0))
    step = _PLOT_W / max(len(starts), 1)
    paths = []
    for s in series:
        commands, pen_down = [], False
        for i, value in enumerate(s.values):
            if value is None:
                pen_down = False
                continue
            commands.append(
                f"{'L' if pen_down else 'M'}{_LEFT + (i + 0.5) * step:.1f} {_y(value, top):.1f}"
            )
            pen_down = True
        if commands:
            paths.append(f'<path class="s-{s.name}" d="{" ".join(commands)}"/>')
    tips = "".join(
        f'<rect class="hit" x="{_LEFT + i * step:.1f}" y="{_TOP}" width="{step:.1f}" '
        f'height="{_PLOT_H}">{_tip(start, width_s, series, i, unit)}</rect>'
        for i, start in enumerate(starts)
        if any(s.values[i] is not None for s in series)
    )
    return _frame(title, starts, width_s, top, unit, "".join(paths) + tips)


def _frame(
    title: str,
    starts: Sequence[float],
    width_s: int,
    top: float,
    unit: Callable[[float], str],
    body: str,
) -> str:
    grid = "".join(
        f'<line class="grid" x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{_y(v, top):.1f}" '
        f'y2="{_y(v, top):.1f}"/><text class="axis" x="{_LEFT - 6}" y="{_y(v, top) + 4:.1f}" '
        f'text-anchor="end">{escape(unit(v))}</text>'
        for v in (0, top / 2, top)
    )
    end = (starts[-1] + width_s) if starts else 0.0
    marks: list[tuple[float, str, float]] = [(starts[0] if starts else 0.0, "start", _LEFT)]
    if len(starts) > 2:
        marks.append(
            (starts[len(starts) // 2], "middle", _LEFT + _PLOT_W * (len(starts) // 2) / len(starts))
        )
    marks.append((end, "end", WIDTH - _RIGHT))
    labels = "".join(
        f'<text class="axis" x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="{anchor}">'
        f"{escape(_when(moment, width_s))}</text>"
        for moment, anchor, x in marks
    )
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>{grid}{body}"
        f'<line class="baseline" x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{_TOP + _PLOT_H}" '
        f'y2="{_TOP + _PLOT_H}"/>{labels}</svg>'
    )


def _tip(
    start: float, width_s: int, series: Sequence[Series], i: int, unit: Callable[[float], str]
) -> str:
    said = ", ".join(
        f"{s.label} {'-' if s.values[i] is None else unit(s.values[i] or 0)}" for s in series
    )
    span = f"{_when(start, width_s)} + {duration(width_s)}"
    return f"<title>{escape(f'{span}: {said}')}</title>"


def _y(value: float, top: float) -> float:
    return _TOP + _PLOT_H - (value / top) * _PLOT_H


def _nice_top(peak: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above `peak` (1 for nothing)."""
    if peak <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(peak))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= peak)


def _count(value: float) -> str:
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}"


def _when(moment: float, width_s: int) -> str:
    pattern = (
        "%m-%d %H:%M:%S" if width_s < 60 else "%Y-%m-%d" if width_s >= 86400 else "%m-%d %H:%M"
    )
    return datetime.fromtimestamp(moment, UTC).strftime(pattern)


def duration(seconds: int) -> str:
    """`30 s`, `5 min`, `3 h`, `7 d`: a bucket's width in words."""
    for size, suffix in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {suffix}"
    return f"{seconds} s"
