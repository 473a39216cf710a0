"""Flags shared by replicas through a real Redis: a flip on one is obeyed by the other within a
second, concurrent rollbacks are recorded once, and an unreachable store degrades safely."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from shadowproxy.errors import StoreUnavailable
from shadowproxy.rollback.flags import Flags
from shadowproxy.rollback.shared_flags import SharedFlags
from shadowproxy.store import doc
from shadowproxy.store.client import Store
from shadowproxy.store.stream import SharedEvents
from shadowproxy.types import RouteGroup, Side
from tests.shadowproxy.redis_server import RedisServer, until

ENV = dict.fromkeys(RouteGroup, Side.LEGACY)
Rollbacks = list[tuple[str, RouteGroup, str]]


@asynccontextmanager
async def replica(
    name: str, url: str, state: Path, rollbacks: Rollbacks | None = None
) -> AsyncIterator[tuple[Flags, SharedFlags, SharedEvents]]:
    on_rollback = None
    if rollbacks is not None:

        def on_rollback(group: RouteGroup, trigger: str, mode: str) -> None:
            rollbacks.append((name, group, trigger))

    flags = Flags(ENV, state / name, on_rollback=on_rollback)
    store = Store(url, replica=name)
    shared = SharedFlags(flags, store)
    events = SharedEvents(store)
    flags.events.share(name, events.append)
    shared.start()
    events.start()
    await store.start()
    try:
        yield flags, shared, events
    finally:
        await store.close()


@pytest.mark.parametrize("path", ["announcement", "periodic_check"])
async def test_a_flip_on_one_replica_is_obeyed_by_the_other(
    redis_server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """By the announcement (the periodic check is put out of reach), or by the periodic check
    alone when the announcement is lost (B is not subscribed)."""
    if path == "announcement":
        monkeypatch.setattr(doc, "CHECK_EVERY_S", 3600.0)
    async with (
        replica("a", redis_server.url, tmp_path) as (a, a_shared, _),
        replica("b", redis_server.url, tmp_path) as (b, b_shared, _),
    ):
        if path == "periodic_check":
            b_shared._store._handlers.clear()
        a.set_authoritative(RouteGroup.REPORTS, Side.APP, reason="canary", actor="operator")
        assert await a_shared.settled(2.0)
        await until(lambda: b.authoritative(RouteGroup.REPORTS) is Side.APP)
        assert b.version == a.version
        assert b.overrides()[RouteGroup.REPORTS].reason == "canary"


async def test_rollbacks_fired_on_both_replicas_at_once_are_made_and_recorded_once(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    rollbacks: Rollbacks = []
    async with (
        replica("a", redis_server.url, tmp_path, rollbacks) as (a, a_shared, a_events),
        replica("b", redis_server.url, tmp_path, rollbacks) as (b, b_shared, _),
    ):
        a.set_authoritative(RouteGroup.ANALYSIS, Side.APP, reason="cutover")
        assert await a_shared.settled(2.0)
        await until(lambda: b.authoritative(RouteGroup.ANALYSIS) is Side.APP)
        for flags in (a, b):  # the same evidence seen by both: both guards fire
            flags.set_authoritative(
                RouteGroup.ANALYSIS, Side.LEGACY, reason="parity", actor="auto:parity"
            )
        assert await a_shared.settled(2.0)
        assert await b_shared.settled(2.0)
        await until(lambda: a.version == b.version)
        assert a.authoritative(RouteGroup.ANALYSIS) is b.authoritative(RouteGroup.ANALYSIS)
        assert a.authoritative(RouteGroup.ANALYSIS) is Side.LEGACY
        assert [(group, trigger) for _, group, trigger in rollbacks] == [
            (RouteGroup.ANALYSIS, "parity")
        ]
        await until(lambda: a_events.pending == 0)
        trail = await a_events.read(since=None, limit=100)
        assert [(e["action"], e["actor"]) for e in trail] == [
            ("flip", "operator"),
            ("rollback", "auto:parity"),
        ]
        assert {e["replica"] for e in trail} <= {"a", "b"}


async def test_without_the_store_a_move_to_the_app_is_refused_and_a_rollback_waits_for_it(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    async with (
        replica("a", redis_server.url, tmp_path) as (a, a_shared, a_events),
        replica("b", redis_server.url, tmp_path) as (b, _, _),
    ):
        a.set_authoritative(RouteGroup.PORTFOLIO, Side.APP, reason="canary")
        assert await a_shared.settled(2.0)
        await until(lambda: b.authoritative(RouteGroup.PORTFOLIO) is Side.APP)

        redis_server.kill()
        await until(lambda: not a_shared.available)
        with pytest.raises(StoreUnavailable):
            a.set_authoritative(RouteGroup.REPORTS, Side.APP, reason="while down")
        a.rollback(reason="incident", actor="operator")
        assert a.authoritative(RouteGroup.PORTFOLIO) is Side.LEGACY  # at once, here
        assert b.authoritative(RouteGroup.PORTFOLIO) is Side.APP  # B keeps its last known flags
        assert not await a_shared.settled(0.5)
        assert a.pending == 1

        redis_server.start()  # back, and empty: the first replica to notice seeds it
        await until(lambda: b.authoritative(RouteGroup.PORTFOLIO) is Side.LEGACY, 10.0)
        assert await a_shared.settled(5.0)
        assert a.pending == 0
        await until(lambda: a.version == b.version)
        await until(lambda: a_events.pending == 0)
        trail = await a_events.read(since=None, limit=100)
        assert [e["action"] for e in trail if e["replica"] == "a"][-1:] == ["rollback"]
