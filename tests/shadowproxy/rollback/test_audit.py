"""The audit trail on disk: durable lines, rotation, torn lines, since/limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from shadowproxy.rollback import audit
from shadowproxy.rollback.audit import Change, Event, EventLog


def event(n: int, at: str | None = None) -> Event:
    extra = {} if at is None else {"at": at}
    return Event(
        "cli", "flip", f"reason {n}", n, (Change("reports", "legacy", "app"),), ("c1",), **extra
    )


def test_events_round_trip_oldest_first(tmp_path: Path) -> None:
    log = EventLog(tmp_path)
    for n in range(3):
        log.append(event(n, at=f"2026-12-01T00:00:0{n}.000+00:00"))
    events = log.read()
    assert [e["flags_version"] for e in events] == [0, 1, 2]
    assert events[0]["change"] == [{"group": "reports", "from": "legacy", "to": "app"}]
    assert log.read(limit=2)[0]["flags_version"] == 1
    assert [e["flags_version"] for e in log.read(since="2026-12-01T00:00:01")] == [1, 2]
    assert log.read(limit=0) == []


def test_rotation_keeps_the_newest_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit, "MAX_BYTES", 600)
    log = EventLog(tmp_path)
    for n in range(40):
        log.append(event(n))
    files = sorted(p.name for p in tmp_path.iterdir())
    assert "events.jsonl" in files
    assert len(files) <= audit.KEEP + 1
    versions = [e["flags_version"] for e in log.read(limit=1000)]
    assert versions == sorted(versions)
    assert versions[-1] == 39


def test_a_torn_line_is_skipped(tmp_path: Path) -> None:
    log = EventLog(tmp_path)
    log.append(event(1))
    with log.path.open("a", encoding="utf-8") as handle:
        handle.write('{"at": "2026-12-01T00:00:09", "acto')  # a crash mid-line
    log.append(event(2))
    assert [e["flags_version"] for e in log.read()] == [1, 2]
