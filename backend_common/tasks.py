"""What both backends' background-task holders do alike: report a crash, cancel and wait.

The event loop keeps only weak references to tasks, so each backend holds its analysis jobs in
its own set (`legacy_backend.tasks.Spawner`, a set; `app_service.tasks.TaskSet`, keyed by task
name so a job can be looked up). Those holders differ and stay in the backends, which still are
the only places that create tasks; the two steps they had copied word for word live here: log a
task that ended with an exception nobody will await, and cancel every task then wait for each.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

from structlog.typing import FilteringBoundLogger


def log_crash(task: asyncio.Task[Any], log: FilteringBoundLogger) -> None:
    """A done-callback step: a task that raised is logged as `background_task_crashed`."""
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.error("background_task_crashed", task=task.get_name(), error=repr(error))


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel every task, then wait for each; what they raise on the way out is not ours."""
    pending = list(tasks)
    for task in pending:
        task.cancel()
    for task in pending:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
