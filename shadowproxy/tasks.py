"""The one place the proxy creates tasks.

asyncio keeps only a weak reference to a task, so a fire-and-forget shadow could be garbage
collected mid-flight; and shutdown must be able to find every background task to drain or cancel
it. `BackgroundTasks.spawn()` names the task, keeps a strong reference until it ends, and reports
any exception it ends with (a background task has nobody else to await it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeVar

import structlog

T = TypeVar("T")

log = structlog.get_logger(__name__)


class Spawn(Protocol):
    """What the rest of the package receives instead of `asyncio.create_task`."""

    def __call__(self, coro: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]: ...


class BackgroundTasks:
    """A set of named tasks with a drain-then-cancel shutdown."""

    def __init__(self, on_error: Callable[[str, BaseException], None] | None = None) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._on_error = on_error

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
        task = asyncio.create_task(coro, name=name)  # noqa: TID251 - the spawn helper itself
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            return
        if self._on_error is not None:
            self._on_error(task.get_name(), exc)
        else:
            log.error("background_task_failed", task=task.get_name(), error=repr(exc))

    async def idle(self) -> None:
        """Wait until no task runs, including tasks spawned by the tasks awaited."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def drain(self, grace_s: float) -> int:
        """Wait up to `grace_s` for running tasks, then cancel the rest; returns how many."""
        pending = set(self._tasks)
        if pending and grace_s > 0:
            _, pending = await asyncio.wait(pending, timeout=grace_s)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
        return len(pending)
