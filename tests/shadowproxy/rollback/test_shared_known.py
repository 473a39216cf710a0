"""Runtime known differences shared by replicas through a real Redis: accepted on one, applied by
every one; withdrawn on one, gone everywhere; refused (nothing changed) without the store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from shadowproxy.diff.known import KnownDifferences
from shadowproxy.errors import StoreUnavailable
from shadowproxy.rollback.accepted import Acceptances
from shadowproxy.rollback.shared_known import SharedAcceptances
from shadowproxy.store.client import Store
from tests.shadowproxy.redis_server import RedisServer, until

from .test_accepted import CONFIGURED, accepted, entry


@asynccontextmanager
async def replica(
    name: str, url: str, state: Path
) -> AsyncIterator[tuple[Acceptances, SharedAcceptances]]:
    acceptances = Acceptances(KnownDifferences([CONFIGURED]), state / name)
    store = Store(url, replica=name)
    shared = SharedAcceptances(acceptances, store)
    shared.start()
    await store.start()
    try:
        yield acceptances, shared
    finally:
        await store.close()


async def test_an_acceptance_made_on_one_replica_applies_on_every_one(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    async with (
        replica("a", redis_server.url, tmp_path) as (a, a_shared),
        replica("b", redis_server.url, tmp_path) as (b, _),
    ):
        assert not await a_shared.accept("sig-1", [entry("tasks[*].stage", "sig-1")])
        assert accepted(a.known, "tasks[0].stage")
        await until(lambda: accepted(b.known, "tasks[0].stage"))
        assert accepted(b.known, "confidence")  # the configured ones stay

        assert await a_shared.accept("sig-1", [entry("progress", "sig-1")])  # a renewal
        await until(lambda: accepted(b.known, "progress"))
        assert not accepted(b.known, "tasks[0].stage")

        gone = await a_shared.withdraw("sig-1")
        assert [e.field for e in gone] == ["progress"]
        await until(lambda: not accepted(b.known, "progress"))
        assert b.runtime() == ()
        assert await a_shared.withdraw("sig-1") == ()  # nothing left to withdraw


async def test_without_the_store_an_acceptance_is_refused_and_nothing_changes(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    async with replica("a", redis_server.url, tmp_path) as (a, a_shared):
        redis_server.kill()
        with pytest.raises(StoreUnavailable):
            await a_shared.accept("sig-2", [entry("progress", "sig-2")])
        assert not accepted(a.known, "progress")
        assert a.runtime() == ()


async def test_a_store_that_comes_back_empty_is_seeded_with_the_acceptances(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    async with replica("a", redis_server.url, tmp_path) as (_, a_shared):
        await a_shared.accept("sig-3", [entry("progress", "sig-3")])
        redis_server.restart()
        async with replica("c", redis_server.url, tmp_path) as (c, _):
            await until(lambda: accepted(c.known, "progress"))
