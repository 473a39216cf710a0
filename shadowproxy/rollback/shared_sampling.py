"""The sample rates of a scale-out: one document in the shared store, so every replica samples
every flow alike (the decision hashes the flow's key against the same rate everywhere).

A change (PUT /sampling/{group}, DELETE /sampling) reaches one replica, which makes it on the
shared document by compare-and-set and records it once; every replica adopts it on the store's
announcement, or within a second. With the store unreachable a change is refused (503): rates
that differ between replicas would split flows. A store that comes back empty is seeded with
this replica's overrides.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import structlog

from shadowproxy.rollback.sampling import (
    RateOverride,
    SampleRates,
    overrides_document,
    overrides_from_document,
    write_overrides,
)
from shadowproxy.store.client import Store
from shadowproxy.store.doc import SharedDoc
from shadowproxy.types import RouteGroup

DOCUMENT = "sampling"

log = structlog.get_logger(__name__)


class SharedSampling:
    def __init__(self, rates: SampleRates, store: Store, cache: Path) -> None:
        self._rates = rates
        self._cache = cache
        self._doc = SharedDoc(store, DOCUMENT, self._remote, self._seed)

    def start(self) -> None:
        self._doc.start()

    async def change(
        self, group: RouteGroup | None, rate: float | None, *, reason: str, actor: str
    ) -> None:
        """Set one group's rate (None, None: clear every override) for every replica.
        ValueError for a bad rate; StoreUnavailable (nothing changed)."""
        wanted = self._rates.changed(group, rate, reason)

        def change(body: dict[str, Any] | None) -> dict[str, Any]:
            current = self._rates.overrides() if body is None else _overrides(body)
            after = dict(current)
            if group is None:
                after = {}
            else:
                after[group] = wanted[group]
            return overrides_document(after)

        _, after = await self._doc.update(change)
        assert after is not None  # change() always writes
        self._rates.apply(_overrides(after), reason=reason, actor=actor, persist=False)
        self._keep(_overrides(after))

    def _remote(self, version: int, body: dict[str, Any]) -> None:
        overrides = _overrides(body)
        self._rates.adopt(overrides)
        self._keep(overrides)

    async def _seed(self) -> None:
        overrides = self._rates.overrides()
        if overrides:
            await self._doc.commit(0, overrides_document(overrides))

    def _keep(self, overrides: Mapping[RouteGroup, RateOverride]) -> None:
        try:
            write_overrides(self._cache, overrides)
        except OSError as exc:  # only the cache for a start without the store
            log.warning("sampling_cache_not_written", path=str(self._cache), error=str(exc))


def _overrides(body: dict[str, Any]) -> dict[RouteGroup, RateOverride]:
    try:
        return overrides_from_document(body)
    except ValueError as exc:
        log.error("shared_sampling_unreadable", error=str(exc))
        return {}
