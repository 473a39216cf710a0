"""The runtime known differences of a scale-out: one document in the shared store.

`shadowproxy diffs accept` (POST /known) and its withdrawal reach one replica; that replica
changes the shared document by compare-and-set (re-reading when another replica came first) and
every replica adopts it on the store's announcement, or within a second. Unlike a flag change,
an acceptance needs the store: with it unreachable the call is refused (503) and nothing
changes, since an acceptance only one replica applied would make the replicas' outcomes differ.
A store that comes back empty is seeded with this replica's acceptances.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog

from shadowproxy.diff.known import KnownDifferences
from shadowproxy.rollback.accepted import Acceptances, entries_document, entries_from_document
from shadowproxy.store.client import Store
from shadowproxy.store.doc import SharedDoc
from shadowproxy.types import AcceptedDifference

DOCUMENT = "known"

log = structlog.get_logger(__name__)


class SharedAcceptances:
    def __init__(self, acceptances: Acceptances, store: Store) -> None:
        self._acceptances = acceptances
        self._doc = SharedDoc(store, DOCUMENT, self._remote, self._seed)

    def start(self) -> None:
        self._doc.start()

    async def accept(self, signature: str, entries: Sequence[AcceptedDifference]) -> bool:
        """As `Acceptances.accept`, for every replica; raises StoreUnavailable (nothing changed)."""
        KnownDifferences(entries)  # the engine's checks (ValueError), before anything is kept
        before = await self._change(signature, entries)
        return any(entry.signature == signature for entry in before)

    async def withdraw(self, signature: str) -> tuple[AcceptedDifference, ...]:
        before = await self._change(signature, ())
        return tuple(entry for entry in before if entry.signature == signature)

    async def _change(
        self, signature: str, entries: Sequence[AcceptedDifference]
    ) -> list[AcceptedDifference]:
        """Replace `signature`'s entries in the shared document; the entries it held before."""

        def change(body: dict[str, Any] | None) -> dict[str, Any] | None:
            current = list(self._acceptances.runtime()) if body is None else _entries(body)
            if not entries and not any(e.signature == signature for e in current):
                return None  # nothing to withdraw: no write, no announcement
            kept = [e for e in current if e.signature != signature]
            return entries_document([*kept, *entries])

        before, after = await self._doc.update(change)
        previous = list(self._acceptances.runtime()) if before is None else _entries(before)
        if after is not None:
            self._acceptances.adopt(_entries(after))
        return previous

    def _remote(self, version: int, body: dict[str, Any]) -> None:
        self._acceptances.adopt(_entries(body))

    async def _seed(self) -> None:
        runtime = self._acceptances.runtime()
        if runtime:
            await self._doc.commit(0, entries_document(runtime))


def _entries(body: dict[str, Any]) -> list[AcceptedDifference]:
    try:
        return entries_from_document(body)
    except ValueError as exc:
        log.error("shared_known_differences_unreadable", error=str(exc))
        return []
