"""`Inspector.observations`: raw answers, remembered bodies, exemplars for the diff log."""

from __future__ import annotations

import orjson

from shadowproxy.contracts.builtin import BUILTIN_CONTRACTS
from shadowproxy.contracts.drift import DriftSettings, ShapeLearner
from shadowproxy.contracts.inspect import EXEMPLAR_S, MEMO_SIZE, Inspector
from shadowproxy.types import JSONValue, Observation, Side

from ..factories import Clock
from .shapes import app_status, legacy_status

STATUS = "/api/analysis/status/{task_id}"


def answer(side: Side, document: JSONValue, status: int = 200) -> Observation:
    return Observation(
        side, status, (("Content-Type", "application/json"),), orjson.dumps(document)
    )


def test_repeated_bodies_give_the_same_findings_and_one_exemplar_a_minute() -> None:
    clock = Clock(0.0)
    inspector = Inspector(tuple(BUILTIN_CONTRACTS.values()), None, clock=clock)
    legacy, app = answer(Side.LEGACY, legacy_status()), answer(Side.APP, app_status())
    first = inspector.observations("GET", STATUS, Side.LEGACY, legacy, app)
    again = inspector.observations("GET", STATUS, Side.LEGACY, legacy, app)
    clock.now = EXEMPLAR_S
    later = inspector.observations("GET", STATUS, Side.LEGACY, legacy, app)
    assert first is not None and again is not None and later is not None  # noqa: PT018
    assert first.breaks == again.breaks == later.breaks
    assert {b.field for b in first.breaks if b.consumer == "legacy-dashboard"} >= {"decision"}
    assert (first.exemplar, again.exemplar, later.exemplar) == (True, False, True)


def test_a_hurt_client_is_always_an_exemplar() -> None:
    inspector = Inspector(tuple(BUILTIN_CONTRACTS.values()), None, clock=Clock(0.0))
    legacy, app = answer(Side.LEGACY, legacy_status()), answer(Side.APP, app_status())
    for _ in range(3):
        found = inspector.observations("GET", STATUS, Side.APP, legacy, app)
        assert found is not None
        assert found.hurt
        assert found.exemplar


def test_errors_and_non_json_answers_are_not_checked() -> None:
    inspector = Inspector(tuple(BUILTIN_CONTRACTS.values()), None)
    broken = Observation(Side.APP, 200, (), b"<html>")
    refused = answer(Side.LEGACY, {"detail": "Not Found"}, status=404)
    assert inspector.observations("GET", STATUS, Side.LEGACY, refused, broken) is None
    assert inspector.observations("GET", STATUS, Side.LEGACY, None, None) is None


def test_a_constant_legacy_body_is_still_learned_every_time() -> None:
    learner = ShapeLearner(DriftSettings(min_responses=5, learn_every=1))
    inspector = Inspector((), learner)
    legacy = answer(Side.LEGACY, {"status": "ok", "version": "1"})
    app = answer(Side.APP, {"status": "ok"})
    drift = []
    for _ in range(6):
        found = inspector.observations("GET", "/health", Side.LEGACY, legacy, app)
        drift.append(() if found is None else found.drift)
    assert all(not found for found in drift[:5])
    assert [d.field for d in drift[5]] == ["version"]


def test_the_memory_of_bodies_is_bounded() -> None:
    inspector = Inspector(tuple(BUILTIN_CONTRACTS.values()), None)
    for index in range(MEMO_SIZE + 50):
        document = app_status(ticker=f"T{index}")
        inspector.observations("GET", STATUS, Side.LEGACY, None, answer(Side.APP, document))
    assert len(inspector._memo) == MEMO_SIZE
