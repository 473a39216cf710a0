"""Files under `<data-dir>/task_status/`: legacy-shaped task JSON and result contracts.

`LegacyTaskJsonFiles` is the compatibility side of dual-write and the fallback of dual-read:
the same file layout the legacy backend writes, so historical tooling and a rollback keep
working. `ResultContractFiles` holds the v1alpha1 result contracts. Writes are atomic (temp
file + `os.replace`) so a reader never sees half a document; a file that cannot be parsed is
logged and skipped.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger(__name__)

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._^=-]*$")


def is_safe_id(text: str) -> bool:
    """Ids become file names; anything that could leave the folder is not a task id."""
    return bool(_SAFE_ID.match(text)) and ".." not in text and len(text) <= 128


def atomic_write_json(path: Path, value: Any, *, indent: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(value, ensure_ascii=False, indent=indent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json_object(path: Path) -> dict[str, Any] | None:
    """A missing file is None silently; a damaged one is None with a log line."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("json_file_corrupt", path=str(path), error=str(exc))
        return None
    if not isinstance(value, dict):
        log.warning("json_file_corrupt", path=str(path), error="not a JSON object")
        return None
    return value


class LegacyTaskJsonFiles:
    def __init__(self, task_status_dir: Path) -> None:
        self._dir = task_status_dir

    def _path(self, task_id: str) -> Path:
        if not is_safe_id(task_id):
            raise ValueError(f"task id {task_id!r} is not a safe file name")
        return self._dir / f"{task_id}.json"

    async def write(self, legacy_state: Mapping[str, Any]) -> None:
        await asyncio.to_thread(
            atomic_write_json, self._path(legacy_state["task_id"]), legacy_state
        )

    async def read(self, task_id: str) -> dict[str, Any] | None:
        state = await asyncio.to_thread(read_json_object, self._path(task_id))
        return state if state is not None and state.get("task_id") == task_id else None

    async def read_all(self) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self._read_all)

    def _read_all(self) -> list[dict[str, Any]]:
        if not self._dir.is_dir():
            return []
        states = []
        for path in sorted(self._dir.glob("*.json")):
            state = read_json_object(path)
            if state is None:
                continue
            if not isinstance(state.get("task_id"), str) or not is_safe_id(state["task_id"]):
                log.warning("json_file_corrupt", path=str(path), error="no usable task_id")
                continue
            states.append(state)
        return states

    async def delete(self, task_id: str) -> None:
        await asyncio.to_thread(self._path(task_id).unlink, missing_ok=True)


class ResultContractFiles:
    def __init__(self, task_status_dir: Path) -> None:
        self._dir = task_status_dir

    @staticmethod
    def ref_for(task_id: str) -> str:
        return f"results/{task_id}/result.v1alpha1.json"

    async def save(self, task_id: str, contract: Mapping[str, Any]) -> str:
        if not is_safe_id(task_id):
            raise ValueError(f"task id {task_id!r} is not a safe file name")
        document = {"task_id": task_id, "contract_version": "v1alpha1", **contract}
        ref = self.ref_for(task_id)
        await asyncio.to_thread(atomic_write_json, self._dir / ref, document)
        return ref

    async def load(self, task_id: str, result_ref: str | None) -> dict[str, Any] | None:
        """Try the recorded ref, then the standard path, then the older `result_contracts/`."""
        candidates = []
        if result_ref and ".." not in result_ref and not result_ref.startswith("/"):
            candidates.append(self._dir / result_ref)
        if is_safe_id(task_id):
            candidates.append(self._dir / self.ref_for(task_id))
            candidates.append(self._dir / "result_contracts" / f"{task_id}.json")
        for path in candidates:
            contract = await asyncio.to_thread(read_json_object, path)
            if contract is not None:
                return contract
        return None
