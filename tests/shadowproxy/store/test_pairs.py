"""Correlation across replicas through a real Redis: a pair learned on one replica is found by
the other, a lookup waits for a create in flight on another replica, and a store that does not
answer is said (StoreUnavailable), never guessed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import pytest

from shadowproxy.correlation import CorrelationMap
from shadowproxy.errors import StoreUnavailable
from shadowproxy.store.client import Store
from shadowproxy.store.pairs import SharedPairs
from shadowproxy.types import Side
from tests.shadowproxy.redis_server import RedisServer, until


@asynccontextmanager
async def replica(name: str, url: str) -> AsyncIterator[tuple[CorrelationMap, SharedPairs]]:
    correlation = CorrelationMap()
    store = Store(url, replica=name)
    shared = SharedPairs(store, ttl_s=correlation.ttl_s, on_pair=correlation.remote)
    correlation.share(shared)
    shared.start()
    await store.start()
    try:
        yield correlation, shared
    finally:
        await store.close()


async def test_a_pair_learned_on_one_replica_is_known_to_the_other(
    redis_server: RedisServer,
) -> None:
    async with replica("a", redis_server.url) as (a, _), replica("b", redis_server.url) as (b, _):
        a.learn("legacy-1", "app-1")
        assert await b.resolve("legacy-1", Side.APP, timeout_s=2.0) == "app-1"
        assert await b.resolve("app-1", Side.LEGACY, timeout_s=2.0) == "legacy-1"
        assert b.twin("legacy-1", Side.APP) == "app-1"  # cached: the authoritative call finds it


async def test_a_replica_started_later_finds_the_pair_in_the_store(
    redis_server: RedisServer,
) -> None:
    async with replica("a", redis_server.url) as (a, a_shared):
        a.learn("legacy-2", "app-2")
        await until(lambda: a_shared.pending == 0)
        async with replica("c", redis_server.url) as (c, _):  # missed the announcement
            assert c.twin("legacy-2", Side.APP) is None
            assert await c.resolve("legacy-2", Side.APP, timeout_s=2.0) == "app-2"


async def test_a_lookup_waits_for_a_create_in_flight_on_another_replica(
    redis_server: RedisServer,
) -> None:
    async with (
        replica("a", redis_server.url) as (a, a_shared),
        replica("b", redis_server.url) as (
            b,
            _,
        ),
    ):
        token = a.begin_create()
        await until(lambda: a_shared.pending == 0)
        lookup = asyncio.ensure_future(b.resolve("legacy-3", Side.APP, timeout_s=5.0))
        await asyncio.sleep(0.3)
        assert not lookup.done()  # waiting for A's create
        a.learn("legacy-3", "app-3")
        a.end_create(token)
        assert await lookup == "app-3"


async def test_an_unknown_id_with_no_create_in_flight_is_uncorrelated_without_waiting(
    redis_server: RedisServer,
) -> None:
    async with replica("a", redis_server.url) as (a, a_shared):
        looks: list[object] = []
        creating = a_shared.creating

        async def counted(among: Sequence[str] | None = None) -> list[str]:
            looks.append(among)
            return await creating(among)

        a_shared.creating = counted  # type: ignore[method-assign]
        assert await a.resolve("nobody", Side.APP, timeout_s=5.0) is None
        assert looks == [None]  # one look at the creates in flight: none, so no wait, no poll


async def test_a_store_that_does_not_answer_is_said_not_guessed(
    redis_server: RedisServer,
) -> None:
    async with replica("a", redis_server.url) as (a, _):
        a.learn("legacy-4", "app-4")
        redis_server.kill()
        assert await a.resolve("legacy-4", Side.APP, timeout_s=1.0) == "app-4"  # known here
        with pytest.raises(StoreUnavailable):
            await a.resolve("legacy-5", Side.APP, timeout_s=1.0)


async def test_a_flow_sampled_out_on_one_replica_is_sampled_out_on_the_other(
    redis_server: RedisServer,
) -> None:
    async with (
        replica("a", redis_server.url) as (a, a_shared),
        replica("b", redis_server.url) as (
            b,
            _,
        ),
    ):
        a.mark_sampled_out("legacy-6")
        await until(lambda: a_shared.pending == 0)
        assert not b.is_sampled_out("legacy-6")
        assert await b.resolve("legacy-6", Side.APP, timeout_s=2.0) is None
        assert b.is_sampled_out("legacy-6")  # so its shadow is `sampled_out`, not uncorrelated
