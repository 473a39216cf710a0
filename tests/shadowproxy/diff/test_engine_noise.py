"""The engine with a noise table: differences on a field measured as noisy are outcome `noise`
(each with its measured rate), a real difference beside them is still a `mismatch`, known
differences are applied first, every two-body comparison is a legacy-vs-app sample, and
`self_differences` makes an A/A sample of two answers of one side."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from shadowproxy.diff.engine import DiffEngine
from shadowproxy.diff.noise import NoiseConfig, NoiseState, NoiseTable
from shadowproxy.types import AcceptedDifference, Difference, DiffKind, Observation, Outcome, Side

from ..factories import Clock, observation
from .documents import IDS, STATUS_ROUTE, legacy_ok, legacy_state, status_exchange

CONFIG = NoiseConfig(threshold=0.05, min_count=20, window_s=600.0)


def noisy_engine(*known: AcceptedDifference) -> tuple[DiffEngine, NoiseTable, Clock]:
    """An engine whose table measured `llm_rating` on the status route as noisy (50%)."""
    clock = Clock(0.0)
    table = NoiseTable(CONFIG, clock=clock)
    flip = itertools.cycle([[Difference("llm_rating", DiffKind.CHANGED)], []])
    for found in itertools.islice(flip, 40):
        table.sampled(STATUS_ROUTE, found)
        table.compared(STATUS_ROUTE, found)
    clock.now += 1.0
    engine = DiffEngine(noise=table)
    engine.known.add(known)  # this engine's own set: the default config's stays as it is
    return engine, table, clock


def app_side(**changes: Any) -> Observation:
    return observation(Side.APP, 200, legacy_state(**changes))  # a legacy-shaped app answer


def test_a_difference_on_a_noisy_field_is_noise_with_its_measured_rate() -> None:
    engine, _, _ = noisy_engine()
    legacy = legacy_ok(legacy_state(llm_signal="BUY"))
    comparison = engine(status_exchange(), legacy, app_side(llm_signal="SELL"), IDS)
    assert comparison.outcome is Outcome.NOISE
    assert comparison.differences == ()
    assert [(d.field, d.legacy, d.app) for d in comparison.noise] == [("llm_rating", "BUY", "SELL")]
    assert comparison.noise[0].reason is not None
    assert comparison.noise[0].reason.startswith("noise: legacy differs with itself on 50% of")
    assert comparison.reason == "noise: llm_rating"


def test_a_real_difference_beside_the_noise_is_still_a_mismatch() -> None:
    engine, _, _ = noisy_engine()
    legacy = legacy_ok(legacy_state(llm_signal="BUY", decision="OVERWEIGHT"))
    app = app_side(llm_signal="SELL", decision="UNDERWEIGHT")
    comparison = engine(status_exchange(), legacy, app, IDS)
    assert comparison.outcome is Outcome.MISMATCH
    assert [d.field for d in comparison.differences] == ["decision"]
    assert [d.field for d in comparison.noise] == ["llm_rating"]
    assert comparison.reason == "differs on decision"


def test_a_known_difference_is_accepted_before_noise_is_asked() -> None:
    entry = AcceptedDifference(STATUS_ROUTE, "llm_rating", "LLM ratings are not reproducible")
    engine, _, _ = noisy_engine(entry)
    legacy = legacy_ok(legacy_state(llm_signal="BUY"))
    comparison = engine(status_exchange(), legacy, app_side(llm_signal="SELL"), IDS)
    assert comparison.outcome is Outcome.ACCEPTED
    assert comparison.noise == ()


def test_without_a_noise_table_nothing_is_noise() -> None:
    legacy = legacy_ok(legacy_state(llm_signal="BUY"))
    comparison = DiffEngine()(status_exchange(), legacy, app_side(llm_signal="SELL"), IDS)
    assert comparison.outcome is Outcome.MISMATCH


def test_every_comparison_of_two_bodies_is_a_legacy_vs_app_sample() -> None:
    engine, table, clock = noisy_engine()
    before = table.fields()[0].la_compared
    legacy = legacy_ok(legacy_state())
    for _ in range(3):
        engine(status_exchange(), legacy, app_side(), IDS)  # matches count too
    engine(status_exchange(), legacy, observation(Side.APP, 404, {"detail": "gone"}), IDS)
    clock.now += 1.0
    found = table.fields()[0]
    assert found.la_compared == before + 3  # a status difference is no two-body comparison
    assert found.state is NoiseState.NOISY


def test_self_differences_compares_two_answers_of_one_side() -> None:
    engine = DiffEngine()
    first = legacy_ok(legacy_state(llm_signal="BUY"))
    second = legacy_ok(legacy_state(llm_signal="SELL"))
    found = engine.self_differences("status_document", STATUS_ROUTE, first, second, IDS)
    assert found is not None
    assert [(d.field, d.kind) for d in found] == [("llm_rating", DiffKind.CHANGED)]
    same = engine.self_differences("status_document", STATUS_ROUTE, first, first, IDS)
    assert same == ()


def test_self_differences_says_nothing_about_a_document_still_in_flight() -> None:
    engine = DiffEngine()
    running = legacy_ok(legacy_state(status="running", done=2))
    later = legacy_ok(legacy_state(status="running", done=3))
    assert engine.self_differences("status_document", STATUS_ROUTE, running, later, IDS) is None


def test_self_differences_refuses_a_body_the_profile_cannot_read() -> None:
    engine = DiffEngine()
    broken = observation(Side.LEGACY, 200, b"not json", content_type="application/json")
    with pytest.raises(ValueError, match="not JSON"):
        engine.self_differences("status_document", STATUS_ROUTE, broken, broken, IDS)
