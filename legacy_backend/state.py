"""The in-memory state upstream kept on `app.state`, typed and owned by one object.

LEGACY route handlers mutate task states in place and push full snapshots to every websocket
watching that task; `Runtime` holds those maps (task states, asyncio jobs, live subprocesses,
websocket subscribers) and the broadcast that prunes dead sockets, exactly as upstream did.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiohttp import web

from legacy_backend.errors import dumps
from legacy_backend.portfolio_store import PortfolioStore
from legacy_backend.settings import Settings
from legacy_backend.task_store import TaskStore
from legacy_backend.tasks import Spawner

log = structlog.get_logger("legacy_backend.state")

TaskState = dict[str, Any]


@dataclass(slots=True)
class Runtime:
    settings: Settings
    store: TaskStore
    portfolio: PortfolioStore
    spawner: Spawner = field(default_factory=Spawner)
    task_results: dict[str, TaskState] = field(default_factory=dict)
    # LEGACY never unregisters a job, so cancelling a finished task still marks it failed.
    analysis_tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    processes: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)
    connections: dict[str, list[web.WebSocketResponse]] = field(default_factory=dict)

    async def broadcast(self, task_id: str) -> None:
        """Send the task's full snapshot to its subscribers; drop the ones that fail."""
        state = self.task_results.get(task_id)
        sockets = self.connections.get(task_id)
        if state is None or not sockets:
            return
        message = dumps({"type": "progress", **state}).decode("utf-8")
        for ws in list(sockets):
            try:
                await ws.send_str(message)
            except (ConnectionError, RuntimeError) as exc:
                log.info("ws_subscriber_dropped", task_id=task_id, error=repr(exc))
                with contextlib.suppress(ValueError):
                    sockets.remove(ws)

    def subscribe(self, task_id: str, ws: web.WebSocketResponse) -> None:
        self.connections.setdefault(task_id, []).append(ws)

    def unsubscribe(self, task_id: str, ws: web.WebSocketResponse) -> None:
        sockets = self.connections.get(task_id, [])
        with contextlib.suppress(ValueError):
            sockets.remove(ws)
        if not sockets:
            self.connections.pop(task_id, None)

    async def reap(self, key: str, process: asyncio.subprocess.Process) -> None:
        """Kill (if alive), wait, and drain both pipes to EOF, so the subprocess transport closes
        now rather than in a garbage-collector finalizer after the loop is gone."""
        if process.returncode is None:
            log.info("analysis_subprocess_killed", task_id=key)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        await process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None and not stream.at_eof():
                await stream.read()
        if self.processes.get(key) is process:
            del self.processes[key]

    async def kill_processes(self) -> None:
        """Shutdown sweep: no analysis subprocess may outlive the server."""
        for key, process in list(self.processes.items()):
            await self.reap(key, process)


SETTINGS = web.AppKey("settings", Settings)
RUNTIME = web.AppKey("runtime", Runtime)
