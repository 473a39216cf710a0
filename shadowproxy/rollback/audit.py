"""The audit trail: every flag change, phase move, rollback, clear and refused call, kept.

`<state_dir>/events.jsonl`, append-only JSON lines, each written and fsynced before the call that
made it answers, so a crash never loses an acknowledged change. At `MAX_BYTES` the file is rotated
to `events.1.jsonl` (older ones shift up to `KEEP` files), so the trail survives restarts and
stays bounded. Reading walks the rotated files oldest first.

An event: `at` (ISO-8601 UTC), `actor` (`admin-token`, `loopback`, `auto:<trigger>`,
`alertmanager:<alertname>`), `action` (`flip`, `phase`, `rollback`, `clear`, `refused`),
`change` (each group's `from` and `to`), `reason`, `evidence` (comparison ids, alert
fingerprints) and the `flags_version` after it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

EVENTS_FILE = "events.jsonl"
MAX_BYTES = 8 * 1024 * 1024
KEEP = 5


@dataclass(frozen=True, slots=True)
class Change:
    group: str
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class Event:
    actor: str
    action: str
    reason: str
    flags_version: int
    change: tuple[Change, ...] = ()
    evidence: tuple[str, ...] = ()
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="milliseconds"))

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "change": [{"group": c.group, "from": c.before, "to": c.after} for c in self.change],
            "reason": self.reason,
            "evidence": list(self.evidence),
            "flags_version": self.flags_version,
        }


def _torn(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            if handle.tell() == 0:
                return False
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) != b"\n"
    except FileNotFoundError:
        return False


class EventLog:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / EVENTS_FILE
        self._replica: str | None = None
        self._mirror: Callable[[dict[str, Any]], None] | None = None

    def share(self, replica: str, mirror: Callable[[dict[str, Any]], None]) -> None:
        """Name the replica in every event, and hand each one (once on disk) to `mirror`."""
        self._replica, self._mirror = replica, mirror

    def append(self, event: Event) -> None:
        """Write one event durably; raises OSError when the disk refuses (nothing is claimed)."""
        document = event.as_json()
        if self._replica is not None:
            document["replica"] = self._replica
        line = (json.dumps(document, ensure_ascii=False, sort_keys=True) + "\n").encode()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.exists() and self.path.stat().st_size + len(line) > MAX_BYTES:
                self._rotate()
            if _torn(self.path):  # a crash cut the last line: end it, so this event stands alone
                line = b"\n" + line
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
        finally:  # shared even when this disk refused it: the trail then still has it
            if self._mirror is not None:
                self._mirror(document)

    def read(self, *, since: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The newest `limit` events at or after `since` (ISO text compare), oldest first."""
        found = [e for e in self._events() if since is None or str(e.get("at", "")) >= since]
        return found[-limit:] if limit > 0 else []

    def _events(self) -> Iterator[dict[str, Any]]:
        for path in self._files():
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError):
                continue
            for line in lines:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue  # a torn last line after a crash: skipped, never fatal
                if isinstance(event, dict):
                    yield event

    def _files(self) -> Sequence[Path]:
        rotated = [self._rotated(n) for n in range(KEEP, 0, -1)]
        return [path for path in (*rotated, self.path) if path.exists()]

    def _rotated(self, number: int) -> Path:
        return self.path.with_name(f"events.{number}.jsonl")

    def _rotate(self) -> None:
        self._rotated(KEEP).unlink(missing_ok=True)
        for number in range(KEEP - 1, 0, -1):
            if self._rotated(number).exists():
                os.replace(self._rotated(number), self._rotated(number + 1))
        os.replace(self.path, self._rotated(1))
