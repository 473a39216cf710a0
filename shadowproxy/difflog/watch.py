"""Comparisons someone is waiting for, by request id: how `shadowproxy replay` learns the verdict.

A replay registers the `X-Request-ID`s it is about to send (`expect`, the admin API's
`POST /watch`), sends the requests through the proxy, then asks for each (`result`,
`GET /watch/{id}`). Whatever the comparison turns out to be — a match, which the diff log does
not write by default, a mismatch, a skip — its record is built for the watcher with the diff
log's own redaction (`RecordBuilder`), so a replay reads exactly what a diff-log reader would.

Bounded: at most `MAX_WATCHED` ids at a time, each forgotten `TTL_S` after it was registered,
fetched or not. On the comparison path it costs one test of an empty dict while nobody watches.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shadowproxy.difflog.record import RecordBuilder
from shadowproxy.types import Comparison

MAX_WATCHED = 1000
TTL_S = 300.0


@dataclass(slots=True)
class _Watch:
    expires: float
    done: asyncio.Event = field(default_factory=asyncio.Event)
    records: list[dict[str, Any]] = field(default_factory=list)


class Watches:
    def __init__(
        self, builder: RecordBuilder, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._builder = builder
        self._clock = clock
        self._watched: dict[str, _Watch] = {}

    def __len__(self) -> int:
        return len(self._watched)

    def expect(self, request_ids: Iterable[str]) -> int:
        """Watch these ids from now on (how many distinct ones); ValueError when that would pass
        `MAX_WATCHED`. An id watched already keeps its watch (and its expiry)."""
        self._forget_expired()
        distinct = list(dict.fromkeys(request_ids))
        wanted = [rid for rid in distinct if rid not in self._watched]
        if len(self._watched) + len(wanted) > MAX_WATCHED:
            raise ValueError(
                f"at most {MAX_WATCHED} request ids are watched at a time"
                f" ({len(self._watched)} are now)"
            )
        expires = self._clock() + TTL_S
        for rid in wanted:
            self._watched[rid] = _Watch(expires)
        return len(distinct)

    def publish(self, comparison: Comparison) -> None:
        """The pipeline stage: keep the record of a watched request's comparison."""
        if not self._watched:
            return
        watch = self._live(comparison.exchange.request_id)
        if watch is None:
            return
        watch.records.append(self._builder.build(comparison, datetime.now(UTC)))
        watch.done.set()

    async def result(self, request_id: str, wait_s: float) -> list[dict[str, Any]] | None:
        """The records of `request_id` once there is one (waiting up to `wait_s`), [] when none
        came in time; None when the id is not watched (never, or no longer)."""
        watch = self._live(request_id)
        if watch is None:
            return None
        if not watch.done.is_set():
            try:
                await asyncio.wait_for(watch.done.wait(), wait_s)
            except TimeoutError:
                return []
        await asyncio.sleep(0)  # a request's websocket comparisons can publish in one turn
        return list(watch.records)

    def _live(self, request_id: str) -> _Watch | None:
        watch = self._watched.get(request_id)
        if watch is not None and watch.expires <= self._clock():
            del self._watched[request_id]
            return None
        return watch

    def _forget_expired(self) -> None:
        now = self._clock()
        for rid in [rid for rid, watch in self._watched.items() if watch.expires <= now]:
            del self._watched[rid]
