"""Task states on disk: `task_status/<task_id>.json`, one JSON object per terminal task.

LEGACY persisted only at terminal transitions and at cancel (then deleted the file), and
restored every readable file at start-up, running ones included. Writes go through a temp file
and `os.replace` so a crash mid-write never leaves a half file that restore would skip.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import structlog

from legacy_backend.paths import resolve_inside

log = structlog.get_logger("legacy_backend.task_store")


def write_json_atomic(path: Path, payload: Any, *, indent: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, ensure_ascii=False, indent=indent)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class TaskStore:
    """The `task_status/` folder; save and delete swallow errors as LEGACY did (logged here)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_for(self, task_id: str) -> Path | None:
        return resolve_inside(self.directory, f"{task_id}.json")

    def save(self, state: dict[str, Any]) -> None:
        task_id = str(state.get("task_id", ""))
        path = self.path_for(task_id)
        if path is None:
            log.warning("task_status_not_saved", task_id=task_id, reason="unsafe task id")
            return
        try:
            write_json_atomic(path, state)
        except OSError as exc:
            log.error("task_status_save_failed", task_id=task_id, error=str(exc))

    def delete(self, task_id: str) -> None:
        path = self.path_for(task_id)
        if path is None:
            return
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            log.error("task_status_delete_failed", task_id=task_id, error=str(exc))

    def restore(self) -> dict[str, dict[str, Any]]:
        """Every readable state keyed by its `task_id`; bad files are skipped with a log line."""
        restored: dict[str, dict[str, Any]] = {}
        if not self.directory.is_dir():
            return restored
        for path in sorted(self.directory.glob("*.json")):
            try:
                state = json.loads(path.read_text(encoding="utf-8"))
                task_id = state["task_id"]
            except (OSError, ValueError, TypeError, KeyError) as exc:
                log.warning("task_status_skipped", file=path.name, error=repr(exc))
                continue
            if not isinstance(task_id, str):
                log.warning("task_status_skipped", file=path.name, error="task_id is not a string")
                continue
            restored[task_id] = state
        return restored
