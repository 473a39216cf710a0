"""JobService: where task states are persisted, read back, compared and broadcast.

This is the migration plan's phases 2 and 3 in code (docs/migration.md §3). Writes go to the
SQLite store (authoritative) and, as a compatibility write, to the legacy-shaped JSON; after each
dual write both are read back and compared on the five key fields through the same legacy mapping,
so a drifting store shows up as a `dual_write_mismatch` log line. Reads prefer SQLite and fall back
to the legacy JSON (upgraded on read); with dual-read off only the JSON is read, which is the
one-step rollback. Every persisted state is also pushed to websocket subscribers, projected
once per event by the serializer the flags select.
"""

from __future__ import annotations

import asyncio
import copy
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import structlog

from app_service.contracts import TaskState, fail_task, interrupted_error
from app_service.ports import LegacyTaskJson, ResultStore, TaskStore
from app_service.projections import (
    differing_fields,
    normalize_restored,
    to_legacy_state,
    to_public_task_payload,
    to_task_summary,
)
from app_service.settings import MigrationFlags

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class DualStats:
    """Counters operators read at `/api/_internal/dual_stats` during the shadow period."""

    dual_writes: int = 0
    dual_write_mismatches: int = 0
    reads: int = 0
    dual_read_comparisons: int = 0
    dual_read_mismatches: int = 0
    legacy_fallback_reads: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class TaskEvents:
    """Per-task fan-out of progress messages to websocket sessions."""

    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue[dict[str, Any] | None]]] = defaultdict(set)

    def subscribe(self, task_id: str) -> asyncio.Queue[dict[str, Any] | None]:
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._queues[task_id].add(queue)
        return queue

    def unsubscribe(self, task_id: str, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        self._queues[task_id].discard(queue)
        if not self._queues[task_id]:
            del self._queues[task_id]

    def publish(self, task_id: str, message: dict[str, Any]) -> None:
        for queue in self._queues.get(task_id, ()):
            queue.put_nowait(message)


class JobService:
    def __init__(
        self,
        *,
        store: TaskStore,
        legacy: LegacyTaskJson,
        results: ResultStore,
        flags: MigrationFlags,
        events: TaskEvents,
    ) -> None:
        self._store = store
        self._legacy = legacy
        self._results = results
        self._flags = flags
        self.events = events
        self.stats = DualStats()
        # Held across each dual write and each dual read, so a read never lands between the
        # two writes of one update and reports an in-flight skew as a disagreement.
        self._consistency = asyncio.Lock()

    # ------------------------------------------------------------------ writes
    async def persist(self, state: TaskState) -> None:
        """Write the state to every store the flags enable, then tell subscribers."""
        async with self._consistency:
            await self._store.save(state)
            if self._flags.writes_legacy_json:
                try:
                    await self._legacy.write(to_legacy_state(state))
                except OSError as exc:
                    log.error("legacy_json_write_failed", task_id=state["task_id"], error=str(exc))
            if self._flags.dual_write:
                await self._verify_dual_write(state["task_id"])
        await self.broadcast(state)

    async def _verify_dual_write(self, task_id: str) -> None:
        self.stats.dual_writes += 1
        new = await self._store.load(task_id)
        legacy = await self._legacy.read(task_id)
        if new is None or legacy is None:
            fields = ["<missing in sqlite>" if new is None else "<missing in legacy json>"]
        else:
            fields = differing_fields(new, normalize_restored(legacy))
        if fields:
            self.stats.dual_write_mismatches += 1
            log.warning("dual_write_mismatch", task_id=task_id, fields=fields)

    async def broadcast(self, state: Mapping[str, Any]) -> None:
        self.events.publish(state["task_id"], await self.progress_message(state))

    async def progress_message(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """The websocket body: the contract payload, or the legacy shape with a version tag."""
        if self._flags.ws_v1alpha1:
            return {"type": "progress", **await self.public_payload(state)}
        return {
            "type": "progress",
            **to_legacy_state(state),
            "contract_version": self._flags.result_contract_version,
        }

    # ------------------------------------------------------------------ reads
    async def load(self, task_id: str) -> TaskState | None:
        self.stats.reads += 1
        async with self._consistency:
            legacy = await self._legacy.read(task_id)
            if not self._flags.dual_read:
                return normalize_restored(legacy) if legacy is not None else None
            new = await self._store.load(task_id)
        return self._reconcile(task_id, new, legacy)

    async def load_all(self) -> list[TaskState]:
        async with self._consistency:
            legacy_states = {s["task_id"]: s for s in await self._legacy.read_all()}
            if not self._flags.dual_read:
                return [normalize_restored(s) for s in legacy_states.values()]
            new_states = await self._store.load_all()
        states = []
        for new in new_states:
            states.append(
                self._reconcile(new["task_id"], new, legacy_states.pop(new["task_id"], None))
            )
        for task_id, legacy in legacy_states.items():
            states.append(self._reconcile(task_id, None, legacy))
        return [s for s in states if s is not None]

    def _reconcile(
        self, task_id: str, new: TaskState | None, legacy: Mapping[str, Any] | None
    ) -> TaskState | None:
        restored = normalize_restored(legacy) if legacy is not None else None
        if new is None:
            if restored is not None:
                self.stats.legacy_fallback_reads += 1
            return restored
        if restored is not None:
            self.stats.dual_read_comparisons += 1
            fields = differing_fields(new, restored)
            if fields:
                self.stats.dual_read_mismatches += 1
                log.warning("dual_read_mismatch", task_id=task_id, fields=fields)
        return new

    async def contract_for(self, state: Mapping[str, Any]) -> dict[str, Any] | None:
        if state.get("type") == "portfolio":
            return None
        return await self._results.load(state["task_id"], state.get("result_ref"))

    async def public_payload(self, state: Mapping[str, Any]) -> dict[str, Any]:
        return to_public_task_payload(
            state, await self.contract_for(state), compat_fields=self._flags.legacy_compat_fields
        )

    async def summaries(self) -> list[dict[str, Any]]:
        states = await self.load_all()
        states.sort(key=lambda s: s.get("created_at") or "", reverse=True)
        return [
            to_task_summary(
                s, await self.contract_for(s), compat_fields=self._flags.legacy_compat_fields
            )
            for s in states
        ]

    async def save_contract(self, task_id: str, contract: Mapping[str, Any]) -> str:
        return await self._results.save(task_id, contract)

    # ------------------------------------------------------------------ restart
    async def fail_interrupted(self) -> list[str]:
        """Tasks still `running` at startup lost their process; say so instead of lying."""
        interrupted = []
        for state in await self.load_all():
            if state.get("status") != "running":
                continue
            state = copy.deepcopy(state)
            fail_task(state, interrupted_error(), elapsed_seconds=None)
            await self.persist(state)
            interrupted.append(state["task_id"])
            log.warning("task_interrupted", task_id=state["task_id"])
        return interrupted
