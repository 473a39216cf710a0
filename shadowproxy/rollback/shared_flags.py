"""The flags of a scale-out: one document in the shared store, every replica obeying it.

Each replica's `Flags` applies a change at once and hands it here (`submit`). The worker sends
changes in order: it reads the shared document, makes the change on it and writes it back by
compare-and-set (`store.doc`), re-reading when another replica came first, so changes made on
several replicas at once are serialised, none lost. The replica whose write made the change
confirms it (`Flags.adopt` with the change): it alone logs, counts and audits it, so a rollback
fired by evidence several replicas saw is recorded once. An automatic rollback that finds its
groups already on legacy changes nothing and is dropped quietly; an operator's call is always
recorded. Every other replica adopts the new document on the store's announcement, or within
`CHECK_EVERY_S` if the announcement was missed.

When the store is unreachable the replica keeps serving with its last known flags; rollbacks
still apply here and wait (retried, logged, never dropped) until the store is back. When the
store comes back empty (a Redis restart without persistence) the first replica to notice seeds
it with its confirmed state.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any

import structlog

from shadowproxy.errors import StoreUnavailable
from shadowproxy.rollback.flags import (
    FlagChange,
    Flags,
    FlagState,
    state_document,
    state_from_document,
)
from shadowproxy.store.client import Store, raise_if_cancelled
from shadowproxy.store.doc import SharedDoc

RETRY_S = 0.5
DOCUMENT = "flags"

log = structlog.get_logger(__name__)


class SharedFlags:
    def __init__(self, flags: Flags, store: Store) -> None:
        self._flags = flags
        self._store = store
        self._doc = SharedDoc(store, DOCUMENT, self._remote, self._seed)
        self._queue: deque[FlagChange] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        store.on_up(self._woken)  # after the document's own refresh: send what waited
        flags.share(self)

    @property
    def available(self) -> bool:
        return self._store.available

    def start(self) -> None:
        self._doc.start()
        self._store.tasks.spawn(self._work(), name="shared flags")

    def submit(self, change: FlagChange) -> None:
        self._queue.append(change)
        self._idle.clear()
        self._wake.set()

    async def settled(self, timeout_s: float) -> bool:
        """Wait (bounded) until every submitted change is in the store; whether it is."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._idle.wait()
        return self._idle.is_set()

    # ------------------------------------------------------------------ the store's side

    def _remote(self, version: int, body: dict[str, Any]) -> None:
        """Another replica's change (or a seed): adopt it, unless this replica knows newer."""
        if version <= self._flags.version:
            return
        try:
            state = state_from_document(body)
        except ValueError as exc:
            log.error("shared_flags_unreadable", error=str(exc))
            return
        self._flags.adopt(state, version)

    async def _woken(self) -> None:
        self._wake.set()

    async def _seed(self) -> None:
        confirmed = self._flags.confirmed
        version = await self._doc.commit(
            0, state_document(confirmed), floor=self._flags.version + 1
        )
        if version is not None:
            log.warning("shared_flags_seeded", store=self._store.where, flags_version=version)
            self._flags.adopt(confirmed, version)

    async def _work(self) -> None:
        waiting = False
        while True:
            raise_if_cancelled()
            if not self._queue:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            try:
                await self._send(self._queue[0])
            except StoreUnavailable:
                if not waiting:
                    log.error(
                        "flag_change_pending",
                        store=self._store.where,
                        pending=len(self._queue),
                        hint="applied on this replica; sent when the store answers again",
                    )
                waiting = True
                await asyncio.sleep(RETRY_S)
                continue
            if waiting:
                log.info("flag_changes_sent", store=self._store.where)
                waiting = False
            self._queue.popleft()

    async def _send(self, change: FlagChange) -> None:
        """Make one change on the shared document, re-reading until no other replica interferes."""
        while True:
            found = await self._doc.load()
            if found is None:
                await self._seed()
                continue
            version, body = found
            try:
                before = state_from_document(body)
            except ValueError as exc:
                log.error("shared_flags_unreadable", error=str(exc))
                before = FlagState({})
            after = change.applied(before)
            if change.automatic and _sides(after) == _sides(before):
                self._flags.drop(change)  # another replica made this rollback already
                self._remote(version, body)
                return
            written = await self._doc.commit(version, state_document(after))
            if written is not None:
                self._flags.adopt(after, written, change=change, before=before)
                return


def _sides(state: FlagState) -> dict[str, str]:
    return {group.value: override.side.value for group, override in state.overrides.items()}
