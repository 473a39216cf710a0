"""The window triggers' arithmetic: what a comparison counts, thresholds, minimums, expiry."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import pytest

from shadowproxy.rollback.windows import (
    BUCKETS,
    EVIDENCE,
    Counts,
    Tally,
    Windows,
    WindowSettings,
    app_error_rate,
    cooldown_left,
    counts_of,
    parity_below_threshold,
)
from shadowproxy.types import Comparison, Observation, Outcome, RouteGroup, Side

from ..factories import changed, exchange, observation

ANALYSIS, REPORTS = RouteGroup.ANALYSIS, RouteGroup.REPORTS
OK, FAILED = observation(Side.APP, 200), observation(Side.APP, 503)
GONE = observation(Side.APP, None, error="connection refused")
SETTINGS = WindowSettings()  # 300 s, at least 20, 5% each


def seen(
    outcome: Outcome,
    app: Observation | None = OK,
    *,
    cid: str = "cmp",
    group: RouteGroup = ANALYSIS,
) -> Comparison:
    """A comparison the app answered; its legacy side answered 200 unless the outcome says not."""
    legacy_status = 500 if outcome in (Outcome.SHADOW_ERROR, Outcome.BOTH_ERROR) else 200
    legacy = observation(Side.LEGACY, legacy_status) if app is not None else None
    differences = (changed("progress", 40, 60),) if outcome is Outcome.MISMATCH else ()
    return Comparison(
        exchange(comparison_id=cid, route_group=group, authoritative=Side.APP),
        outcome,
        legacy=legacy,
        app=app,
        differences=differences,
    )


MATCH, MISMATCH = seen(Outcome.MATCH), seen(Outcome.MISMATCH)
APP_FAILED = seen(Outcome.AUTHORITATIVE_ERROR, FAILED)


def feed(windows: Windows, comparisons: Iterable[Comparison], now: float = 0.0) -> list[str]:
    """Observe each comparison at `now`; the names of the triggers that fired, in order."""
    fired = []
    for one in comparisons:
        hit = windows.observe(one, now)
        fired.append(hit.trigger.name if hit is not None else "")
    return fired


# ---------------------------------------------------------------- what a comparison counts


@pytest.mark.parametrize(
    ("comparison", "expected"),
    [
        pytest.param(MATCH, Counts(1, 1, 0, 1, 0), id="match"),
        pytest.param(MISMATCH, Counts(1, 1, 1, 1, 0), id="mismatch"),
        pytest.param(seen(Outcome.ACCEPTED), Counts(1, 1, 0, 1, 0), id="accepted"),
        pytest.param(seen(Outcome.INFLIGHT_SKEW), Counts(1, 1, 0, 1, 0), id="inflight-skew"),
        pytest.param(seen(Outcome.SKIPPED, None), Counts(1, 0, 0, 0, 0), id="skipped-unasked"),
        pytest.param(seen(Outcome.SKIPPED), Counts(1, 0, 0, 1, 0), id="skipped-asked"),
        pytest.param(APP_FAILED, Counts(1, 0, 0, 1, 1), id="app-5xx"),
        pytest.param(seen(Outcome.BOTH_ERROR, GONE), Counts(1, 0, 0, 1, 1), id="both-error"),
        pytest.param(seen(Outcome.SHADOW_ERROR), Counts(1, 0, 0, 1, 0), id="legacy-5xx"),
        # a 4xx is an answer: the status class is compared, it is no app error
        pytest.param(
            seen(Outcome.MISMATCH, observation(Side.APP, 404)), Counts(1, 1, 1, 1, 0), id="app-404"
        ),
    ],
)
def test_what_one_comparison_counts(comparison: Comparison, expected: Counts) -> None:
    assert counts_of(comparison) == expected


# ---------------------------------------------------------------- the evaluators


@pytest.mark.parametrize(
    ("counts", "settings", "fires"),
    [
        pytest.param(Counts(compared=20, mismatches=1), SETTINGS, False, id="at-threshold"),
        pytest.param(Counts(compared=20, mismatches=2), SETTINGS, True, id="above"),
        pytest.param(Counts(compared=19, mismatches=19), SETTINGS, False, id="below-minimum"),
        pytest.param(Counts(compared=100, mismatches=5), SETTINGS, False, id="exactly-5pct"),
        pytest.param(Counts(compared=100, mismatches=6), SETTINGS, True, id="6pct"),
        pytest.param(
            Counts(compared=3, mismatches=1),
            WindowSettings(min_comparisons=3, max_mismatch_ratio=0.0),
            True,
            id="zero-tolerance",
        ),
        pytest.param(
            Counts(compared=20, mismatches=20),
            WindowSettings(max_mismatch_ratio=1.0),
            False,
            id="never",
        ),
        # errors and skips are not in parity's denominator
        pytest.param(Counts(100, 19, 19, 100, 81), SETTINGS, False, id="errors-not-compared"),
    ],
)
def test_parity_below_threshold(counts: Counts, settings: WindowSettings, fires: bool) -> None:
    breach = parity_below_threshold(counts, settings)
    assert (breach is not None) is fires
    if breach is not None:
        assert (breach.count, breach.total) == (counts.mismatches, counts.compared)
        assert breach.threshold == settings.max_mismatch_ratio
        assert breach.trigger.name == "parity_below_threshold"


@pytest.mark.parametrize(
    ("counts", "settings", "fires"),
    [
        pytest.param(Counts(asked=20, app_errors=1), SETTINGS, False, id="at-threshold"),
        pytest.param(Counts(asked=20, app_errors=2), SETTINGS, True, id="above"),
        pytest.param(Counts(asked=19, app_errors=19), SETTINGS, False, id="below-minimum"),
        pytest.param(
            Counts(asked=10, app_errors=3),
            WindowSettings(min_comparisons=10, max_app_error_ratio=0.25),
            True,
            id="configured",
        ),
        # mismatches are no errors: a window full of them does not fire the error rate
        pytest.param(Counts(40, 40, 40, 40, 0), SETTINGS, False, id="mismatches-not-errors"),
    ],
)
def test_app_error_rate(counts: Counts, settings: WindowSettings, fires: bool) -> None:
    breach = app_error_rate(counts, settings)
    assert (breach is not None) is fires
    if breach is not None:
        assert (breach.count, breach.total) == (counts.app_errors, counts.asked)
        assert breach.ratio == counts.app_errors / counts.asked
        assert breach.trigger.name == "app_error_rate"


# ---------------------------------------------------------------- the sliding window


@pytest.mark.parametrize(
    ("offender", "trigger"),
    [(MISMATCH, "parity_below_threshold"), (APP_FAILED, "app_error_rate")],
)
def test_it_fires_on_the_comparison_that_crosses_the_threshold(
    offender: Comparison, trigger: str
) -> None:
    # 18 good ones, then two offenders: the 20th comparison makes 2 of 20 = 10% > 5%
    assert feed(Windows(), [MATCH] * 18 + [offender, offender]) == [""] * 19 + [trigger]


def test_skips_and_errors_do_not_fill_paritys_minimum() -> None:
    windows = Windows()
    noise = [seen(Outcome.SKIPPED, None), seen(Outcome.SHADOW_ERROR)] * 20
    assert feed(windows, [MATCH] * 17 + [MISMATCH, MISMATCH, *noise]) == [""] * 59
    counts = windows.counts(ANALYSIS, 0.0)
    assert (counts.comparisons, counts.compared, counts.mismatches) == (59, 19, 2)
    assert feed(windows, [MATCH]) == ["parity_below_threshold"]  # 2 of 20 compared


def test_the_error_rate_comes_first_when_both_fire() -> None:
    both = seen(Outcome.MISMATCH, FAILED)  # not a real engine outcome; both counts, on purpose
    assert feed(Windows(), [MATCH] * 18 + [both, both])[-1] == "app_error_rate"


@pytest.mark.parametrize(
    ("later", "fires"),
    [
        pytest.param(1059.9, True, id="still-in-the-window"),
        pytest.param(1060.0, False, id="left-the-window"),
        pytest.param(5000.0, False, id="long-after"),
    ],
)
def test_comparisons_leave_the_window(later: float, fires: bool) -> None:
    """60 s in 60 buckets of 1 s: what was added at 1000.0 leaves the window at 1060.0."""
    windows = Windows(WindowSettings(window_s=60))
    assert feed(windows, [MISMATCH, MISMATCH], now=1000.0) == ["", ""]
    fired = feed(windows, [MATCH] * 18, now=later)
    assert fired[-1] == ("parity_below_threshold" if fires else "")
    assert windows.counts(ANALYSIS, later).compared == (20 if fires else 18)


def test_memory_is_bounded_by_the_buckets() -> None:
    tally = Tally(window_s=60)
    for second in range(10_000):
        tally.add(MATCH, second / 3)
    assert len(tally) == BUCKETS
    assert tally.counts(10_000 / 3).comparisons <= 3 * 60 + 3


def test_a_clock_that_steps_back_adds_to_the_newest_bucket() -> None:
    tally = Tally(window_s=60)
    tally.add(MATCH, 100.0)
    tally.add(MISMATCH, 90.0)
    assert len(tally) == 1
    assert tally.counts(100.0).mismatches == 1


def test_evidence_is_the_last_offenders_still_in_the_window() -> None:
    windows = Windows(WindowSettings(window_s=60, min_comparisons=29))
    old = [seen(Outcome.MISMATCH, cid="old")]
    assert feed(windows, old, now=0.0) == [""]
    offenders = [seen(Outcome.MISMATCH, cid=f"m{n}") for n in range(8)]
    feed(windows, [MATCH] * 20 + offenders, now=100.0)  # "old" left the window
    hit = windows.observe(MATCH, 100.0)
    assert hit is not None
    assert hit.evidence == tuple(f"m{n}" for n in range(8 - EVIDENCE, 8))
    assert (hit.breach.count, hit.breach.total, hit.comparisons) == (8, 29, 29)


def test_groups_have_their_own_windows_and_reset_forgets_one() -> None:
    windows = Windows()
    reports = replace(MISMATCH, exchange=replace(MISMATCH.exchange, route_group=REPORTS))
    feed(windows, [MISMATCH] * 10 + [reports] * 10)
    assert windows.counts(ANALYSIS, 0.0).compared == 10
    assert windows.counts(REPORTS, 0.0).compared == 10
    windows.reset(ANALYSIS)
    assert windows.counts(ANALYSIS, 0.0) == Counts()
    assert windows.counts(REPORTS, 0.0).compared == 10


@pytest.mark.parametrize(
    "bad",
    [
        {"window_s": 0},
        {"window_s": float("inf")},
        {"min_comparisons": 0},
        {"max_mismatch_ratio": 1.5},
        {"max_app_error_ratio": -0.1},
    ],
)
def test_settings_refuse_nonsense(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        WindowSettings(**bad)


def test_the_defaults() -> None:
    assert WindowSettings() == WindowSettings(300.0, 20, 0.05, 0.05)


# ---------------------------------------------------------------- the cooldown


@pytest.mark.parametrize(
    ("rolled_back_at", "now", "cooldown_s", "left"),
    [
        pytest.param(None, 5000.0, 600.0, 0.0, id="never-rolled-back"),
        pytest.param(1000.0, 1100.0, 600.0, 500.0, id="in-the-cooldown"),
        pytest.param(1000.0, 1600.0, 600.0, 0.0, id="just-over"),
        pytest.param(1000.0, 9000.0, 600.0, 0.0, id="long-over"),
        pytest.param(1000.0, 1000.0, 0.0, 0.0, id="no-cooldown"),
        pytest.param(1000.0, 400.0, 600.0, 600.0, id="clock-stepped-back"),
    ],
)
def test_cooldown_left(
    rolled_back_at: float | None, now: float, cooldown_s: float, left: float
) -> None:
    assert cooldown_left(rolled_back_at, now, cooldown_s) == left
