"""The noise table: A/A and legacy-vs-app tallies over a sliding window, the classification of
each field family (unmeasured, quiet, noisy, signal), and the split of a comparison's
differences into mismatches and noise. Pure: the clock is the test's."""

from __future__ import annotations

import random

import pytest

from shadowproxy.diff import noise as noise_module
from shadowproxy.diff.noise import NoiseConfig, NoiseState, NoiseTable, key
from shadowproxy.types import Difference, DiffKind

from ..factories import Clock

ROUTE = "/api/analysis/status/{task_id}"


def changed(field: str) -> Difference:
    return Difference(field, DiffKind.CHANGED, legacy="a", app="b")


def table(clock: Clock, **config: float) -> NoiseTable:
    settings = NoiseConfig(
        threshold=float(config.get("threshold", 0.05)),
        min_count=int(config.get("min_count", 20)),
        window_s=float(config.get("window_s", 600.0)),
    )
    return NoiseTable(settings, clock=clock)


def feed(noise: NoiseTable, *, samples: int, differ: int, field: str = "llm_rating") -> None:
    """`samples` A/A samples and as many L/A comparisons, `differ` of each differing on field."""
    for n in range(samples):
        found = [changed(field)] if n < differ else []
        noise.sampled(ROUTE, found)
        noise.compared(ROUTE, found)


def state(noise: NoiseTable, field: str = "llm_rating") -> NoiseState:
    return {(f.route, f.field): f.state for f in noise.fields()}[(ROUTE, field)]


def test_a_field_legacy_differs_on_with_itself_becomes_noisy_only_with_enough_samples() -> None:
    clock = Clock()
    noise = table(clock)
    feed(noise, samples=19, differ=10)
    assert state(noise) is NoiseState.UNMEASURED
    assert noise.split(ROUTE, (changed("llm_rating"),)).noise == ()
    feed(noise, samples=1, differ=0)
    clock.now += 1.0  # the classification is at most a second old
    assert state(noise) is NoiseState.NOISY
    found = noise.fields()[0]
    assert (found.aa_samples, found.aa_differed, found.rate) == (20, 10, 0.5)
    split = noise.split(ROUTE, (changed("llm_rating"), changed("decision")))
    assert [d.field for d in split.remaining] == ["decision"]
    assert [d.field for d in split.noise] == ["llm_rating"]
    assert split.noise[0].reason == (
        "noise: legacy differs with itself on 50% of 20 reads (legacy vs app 50% of 20)"
    )


def test_a_field_below_the_threshold_is_quiet_and_its_differences_stay_mismatches() -> None:
    clock = Clock()
    noise = table(clock, threshold=0.1)
    feed(noise, samples=100, differ=5)
    assert state(noise) is NoiseState.QUIET
    assert noise.split(ROUTE, (changed("llm_rating"),)).remaining == (changed("llm_rating"),)


def test_legacy_and_app_differing_clearly_more_than_the_noise_is_signal_not_noise() -> None:
    """Diffy's rule: a noisy field hides no regression. 30% noise, the app differs every time."""
    clock = Clock()
    noise = table(clock)
    for n in range(100):
        noise.sampled(ROUTE, [changed("llm_rating")] if n % 10 < 3 else [])
        noise.compared(ROUTE, [changed("llm_rating")])
    assert state(noise) is NoiseState.SIGNAL
    assert noise.split(ROUTE, (changed("llm_rating"),)).noise == ()


def test_equal_noise_on_both_comparisons_is_noise_whatever_the_sampling_luck() -> None:
    """A field random on each instance differs A/A and L/A alike: never mistaken for signal."""
    rng = random.Random(7)
    for _ in range(20):
        clock = Clock()
        noise = table(clock)
        for _ in range(40):
            noise.sampled(ROUTE, [changed("x")] if rng.random() < 2 / 3 else [])
        for _ in range(200):
            noise.compared(ROUTE, [changed("x")] if rng.random() < 2 / 3 else [])
        assert state(noise, "x") is NoiseState.NOISY


def test_a_member_one_side_lacks_is_state_never_noise() -> None:
    """The secondary gets no writes: the tasks it lacks say nothing about nondeterminism."""
    clock = Clock()
    noise = table(clock)
    lacking = Difference("tasks[AAPL_1]", DiffKind.MISSING, legacy={"status": "running"})
    for _ in range(50):
        noise.sampled(ROUTE, [lacking])
        noise.compared(ROUTE, [lacking])
    assert noise.fields() == ()
    assert noise.split(ROUTE, (lacking,)).remaining == (lacking,)


def test_fields_are_counted_by_family_so_every_member_shares_one_rate() -> None:
    clock = Clock()
    noise = table(clock)
    for n in range(30):
        found = [changed(f"tasks[T{n}].progress")]
        noise.sampled(ROUTE, found)
        noise.compared(ROUTE, found)
    assert [(f.field, f.state) for f in noise.fields()] == [("tasks[].progress", NoiseState.NOISY)]
    assert noise.split(ROUTE, (changed("tasks[OTHER].progress"),)).remaining == ()


def test_samples_leave_the_window_and_the_field_goes_back_to_unmeasured() -> None:
    clock = Clock()
    noise = table(clock, window_s=300.0)
    feed(noise, samples=40, differ=40)
    assert state(noise) is NoiseState.NOISY
    clock.now += 150.0
    feed(noise, samples=10, differ=0)
    found = noise.fields()[0]
    assert (found.aa_samples, found.aa_differed) == (50, 40)
    clock.now += 160.0  # the first 40 are older than the window now
    assert noise.fields() == ()  # no A/A difference left in the window
    assert noise.totals() == {key("aa", ROUTE): 10, key("la", ROUTE): 10}


def test_other_replicas_totals_count_with_this_ones() -> None:
    clock = Clock()
    here, there = table(clock), table(clock)
    feed(there, samples=30, differ=30)
    feed(here, samples=5, differ=5)
    assert state(here) is NoiseState.UNMEASURED
    here.share(there.totals)
    clock.now += 1.0
    assert state(here) is NoiseState.NOISY
    assert here.fields()[0].aa_samples == 35


def test_the_classification_is_recomputed_at_most_once_a_second() -> None:
    clock = Clock()
    noise = table(clock)
    assert noise.split(ROUTE, (changed("llm_rating"),)).noise == ()  # classified: nothing
    feed(noise, samples=30, differ=30)
    assert noise.split(ROUTE, (changed("llm_rating"),)).noise == ()  # not again yet
    clock.now += 1.0
    assert len(noise.split(ROUTE, (changed("llm_rating"),)).noise) == 1


def test_the_counted_families_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(noise_module, "MAX_KEYS", 10)
    clock = Clock()
    noise = table(clock)
    for n in range(50):  # a body keyed by data: a new family every time
        noise.sampled(ROUTE, [changed(f"positions.T{n}")])
    totals = noise.totals()
    assert len(totals) <= 11
    assert totals[key("aa", ROUTE)] == 50  # the route's samples are still all counted
