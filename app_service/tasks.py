"""The one place the app service creates asyncio tasks.

Analysis jobs outlive the request that started them; a bare `create_task` would let the event
loop drop them (it keeps only weak references) and shutdown would leave them dangling. `TaskSet`
names every task, holds a strong reference until it finishes, logs crashes, and cancels what
is left on shutdown (the crash log and the cancel-and-wait are `backend_common.tasks`, shared
with the legacy backend).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import structlog

from backend_common.tasks import cancel_and_wait, log_crash

log = structlog.get_logger(__name__)


class TaskSet:
    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[Any]] = {}

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)  # noqa: TID251 - the spawn helper itself
        self._tasks[name] = task
        task.add_done_callback(self._forget)
        return task

    def get(self, name: str) -> asyncio.Task[Any] | None:
        return self._tasks.get(name)

    def _forget(self, task: asyncio.Task[Any]) -> None:
        if self._tasks.get(task.get_name()) is task:
            del self._tasks[task.get_name()]
        log_crash(task, log)

    async def cancel_all(self) -> None:
        await cancel_and_wait(self._tasks.values())
