"""The new application store: task states in one SQLite file, authoritative for status.

stdlib sqlite3 is blocking, so every call runs in `asyncio.to_thread` on one connection guarded
by a lock (sqlite3 connections are not safe for concurrent use). WAL mode lets a reader see
committed rows while a write is in flight. The schema version lives in `PRAGMA user_version`,
so a future migration knows where it starts. A row whose JSON cannot be read is logged and
skipped; one bad row must never hide the others.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger(__name__)

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    task_id    TEXT PRIMARY KEY,
    status     TEXT NOT NULL,
    created_at TEXT,
    state      TEXT NOT NULL
)
"""


class SqliteTaskStore:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    async def open(self) -> None:
        await asyncio.to_thread(self._open)

    def _open(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            conn.close()
            raise RuntimeError(
                f"{self._path} has schema version {version}, newer than this service's "
                f"{SCHEMA_VERSION}; refusing to touch it"
            )
        conn.execute(_SCHEMA)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        self._conn = conn

    async def close(self) -> None:
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("the task store is not open")
        return self._conn

    async def save(self, state: Mapping[str, Any]) -> None:
        row = (
            state["task_id"],
            str(state.get("status")),
            state.get("created_at"),
            json.dumps(state, ensure_ascii=False),
        )
        await asyncio.to_thread(self._execute, _UPSERT, row)

    async def delete(self, task_id: str) -> None:
        await asyncio.to_thread(self._execute, "DELETE FROM tasks WHERE task_id = ?", (task_id,))

    def _execute(self, sql: str, params: tuple[Any, ...]) -> None:
        with self._lock:
            self._db().execute(sql, params)

    async def load(self, task_id: str) -> dict[str, Any] | None:
        rows = await asyncio.to_thread(
            self._query, "SELECT task_id, state FROM tasks WHERE task_id = ?", (task_id,)
        )
        states = _decode(rows)
        return states[0] if states else None

    async def load_all(self) -> list[dict[str, Any]]:
        rows = await asyncio.to_thread(self._query, "SELECT task_id, state FROM tasks", ())
        return _decode(rows)

    async def load_running(self) -> list[dict[str, Any]]:
        rows = await asyncio.to_thread(
            self._query, "SELECT task_id, state FROM tasks WHERE status = 'running'", ()
        )
        return _decode(rows)

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._db().execute(sql, params).fetchall())


_UPSERT = (
    "INSERT INTO tasks (task_id, status, created_at, state) VALUES (?, ?, ?, ?) "
    "ON CONFLICT(task_id) DO UPDATE SET status = excluded.status, "
    "created_at = excluded.created_at, state = excluded.state"
)


def _decode(rows: list[tuple[str, str]]) -> list[dict[str, Any]]:
    states: list[dict[str, Any]] = []
    for task_id, text in rows:
        try:
            state = json.loads(text)
        except ValueError as exc:
            log.warning("task_row_corrupt", task_id=task_id, error=str(exc))
            continue
        if not isinstance(state, dict) or state.get("task_id") != task_id:
            log.warning("task_row_corrupt", task_id=task_id, error="not a task state object")
            continue
        states.append(state)
    return states
