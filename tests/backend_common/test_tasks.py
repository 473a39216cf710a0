"""Crash logging and cancel-and-wait, as both backends' task holders use them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

from backend_common.tasks import cancel_and_wait, log_crash

log = structlog.get_logger("tests.backend_common.tasks")

Body = Callable[[], Coroutine[Any, Any, Any]]


async def returns() -> str:
    return "done"


async def raises() -> None:
    raise RuntimeError("boom")


async def hangs() -> None:
    await asyncio.Event().wait()


async def settle(task: asyncio.Task[Any]) -> None:
    await asyncio.wait({task})


async def cancel(task: asyncio.Task[Any]) -> None:
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.wait({task})


@pytest.mark.parametrize(
    ("body", "finish", "expected"),
    [
        pytest.param(returns, settle, [], id="returned"),
        pytest.param(hangs, cancel, [], id="cancelled"),
        pytest.param(
            raises,
            settle,
            [
                {
                    "event": "background_task_crashed",
                    "log_level": "error",
                    "task": "job-1",
                    "error": "RuntimeError('boom')",
                }
            ],
            id="raised",
        ),
    ],
)
async def test_only_a_task_that_raised_is_logged(
    body: Body,
    finish: Callable[[asyncio.Task[Any]], Awaitable[None]],
    expected: list[dict[str, Any]],
) -> None:
    task = asyncio.create_task(body(), name="job-1")
    await finish(task)
    with capture_logs() as logs:
        log_crash(task, log)
    assert logs == expected


async def ignores_cancel() -> None:
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        raise RuntimeError("raised while being cancelled") from None


@pytest.mark.parametrize(
    "bodies",
    [
        pytest.param([hangs, hangs], id="pending"),
        pytest.param([returns, hangs], id="one-already-finished"),
        pytest.param([raises, hangs], id="one-already-crashed"),
        pytest.param([ignores_cancel], id="raises-on-cancel"),
        pytest.param([], id="none"),
    ],
)
async def test_cancel_and_wait_leaves_every_task_done_and_raises_nothing(
    bodies: list[Body],
) -> None:
    tasks = [asyncio.create_task(body(), name=f"job-{i}") for i, body in enumerate(bodies)]
    await asyncio.sleep(0)
    await cancel_and_wait(tasks)
    assert all(task.done() for task in tasks)
    for task, body in zip(tasks, bodies, strict=True):
        assert task.cancelled() == (body is hangs)


async def test_cancel_and_wait_takes_a_live_set_that_shrinks_as_tasks_end() -> None:
    live: set[asyncio.Task[None]] = set()
    for i in range(3):
        task = asyncio.create_task(hangs(), name=f"job-{i}")
        live.add(task)
        task.add_done_callback(live.discard)
    started = set(live)
    await asyncio.sleep(0)
    await cancel_and_wait(live)
    assert all(task.cancelled() for task in started)
    await asyncio.sleep(0)
    assert live == set()
