"""The one place the legacy backend creates asyncio tasks.

Analysis jobs outlive the request that started them, and the event loop keeps only weak
references to tasks; `Spawner.spawn` holds a strong reference until the task ends, names it
after the job, logs a crash nobody else would see, and lets shutdown cancel whatever is left
(the crash log and the cancel-and-wait are `backend_common.tasks`, shared with the app service).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import structlog

from backend_common.tasks import cancel_and_wait, log_crash

T = TypeVar("T")

log = structlog.get_logger("legacy_backend.tasks")


class Spawner:
    """Named background tasks with a cancel-and-wait shutdown."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
        task = asyncio.create_task(coro, name=name)  # noqa: TID251 - the spawn helper itself
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        log_crash(task, log)

    async def shutdown(self) -> None:
        await cancel_and_wait(self._tasks)
