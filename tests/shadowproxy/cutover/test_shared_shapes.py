"""Learned shapes in a real Redis: a replica that starts with nothing learned restores the most
learned replica's snapshot; a store that does not answer is said (StoreUnavailable)."""

from __future__ import annotations

import pytest

from shadowproxy.contracts.drift import DriftSettings, ShapeLearner
from shadowproxy.cutover.shared_shapes import SharedShapes
from shadowproxy.errors import StoreUnavailable
from shadowproxy.store.client import Store
from tests.shadowproxy.redis_server import RedisServer

KEY = "GET /api/analysis/status/{task_id}"


def learner_of(answers: int) -> ShapeLearner:
    learner = ShapeLearner(DriftSettings(min_responses=2))
    for n in range(answers):
        learner.learn(KEY, {"task_id": f"t{n}", "decision": "BUY", "confidence": 0.5})
    return learner


async def test_a_new_replica_starts_from_the_most_learned_snapshot(
    redis_server: RedisServer,
) -> None:
    stores = [Store(redis_server.url, replica=name) for name in ("a", "b", "new")]
    for store in stores:
        await store.start()
    try:
        a, b, new = (SharedShapes(store) for store in stores)
        await a.save(learner_of(3).snapshot())
        await b.save(learner_of(1).snapshot())
        fresh = ShapeLearner(DriftSettings(min_responses=2))
        assert await new.restore(fresh) == "a"
        assert fresh.report() == learner_of(3).report()
        assert fresh.report()[KEY]["learned"]
    finally:
        for store in stores:
            await store.close()


async def test_a_store_that_does_not_answer_is_said(redis_server: RedisServer) -> None:
    store = Store(redis_server.url, replica="a")
    await store.start()
    try:
        redis_server.kill()
        with pytest.raises(StoreUnavailable):
            await SharedShapes(store).restore(ShapeLearner())
    finally:
        await store.close()
