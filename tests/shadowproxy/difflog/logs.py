"""Generated diff-log folders for the tests of the reading side and of `shadowproxy diffs`.

`sample(folder)` writes the folder every count in those tests refers to: 15 records over two
UTC days, in a segment closed by day, two closed by size (all gzip) and the active one, which
also holds a corrupt line, a record of a newer schema, one with an unknown field, one with an
unknown outcome and a torn last line (5 lines skipped), beside a file that is no segment.

    n   when (UTC)        group        route    outcome       what
    1   04-12 10:00:00    analysis     STATUS   mismatch      decision changed          sig A
    2   04-12 10:01:00    analysis     STATUS   mismatch      decision changed          sig A
    3   04-12 10:02:00    analysis     STATUS   skipped       queue_full
    4   04-12 10:03:00    analysis     STATUS   shadow_error  app timeout
    5   04-13 12:00:00    analysis     TASKS    mismatch      tasks[AAPL_1].stage       sig B
    6   04-13 12:00:10    analysis     TASKS    mismatch      tasks[AAPL_1].stage       sig B
    7   04-13 12:00:20    analysis     STATUS   accepted      error.cancel_notice
    8   04-13 12:00:30    analysis     STATUS   match         breaks legacy-dashboard
    9   04-13 12:05:00    analysis     TASKS    mismatch      tasks[AAPL_1].stage       sig B
    10  04-13 12:06:00    reports      REPORT   mismatch      200/500, no field         sig C
    11  04-13 12:07:00    reports      REPORT   skipped       uncorrelated
    12  04-13 12:08:00    ws_analysis  WS       mismatch      stages.research, breaks   sig D
                                                              v1alpha1-dashboard (shadow)
    13  04-13 12:20:00    analysis     TASKS    mismatch      tasks[MSFT_2].stage       sig B
    14  04-13 12:21:00    portfolio    WATCH    match         a shared break only (not counted)
    15  04-13 12:22:00    analysis     STATUS   mismatch      decision changed          sig A

Comparison ids are `cid(n)`: two digits then 30 zeros, so `1` starts six of them, `15` one.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson

from shadowproxy.difflog.record import SCHEMA_VERSION

STATUS = "/api/analysis/status/{task_id}"
TASKS = "/api/analysis/tasks"
REPORT = "/api/reports/{ticker}/{date}"
WS = "/ws/analysis/{task_id}"
WATCH = "/api/portfolio/watchlist"
NEWER = SCHEMA_VERSION + 1  # a schema this reader does not know: whatever the current one is
NEWER_SCHEMA = f"schema version {NEWER} (this reader knows {SCHEMA_VERSION})"
SKIPPED_LINES = {
    "not JSON": 1,
    NEWER_SCHEMA: 1,
    "unknown field 'extra'": 1,
    "missing or unknown 'outcome'": 1,
    "torn last line": 1,
}


def cid(n: int) -> str:
    return f"{n:02d}" + "0" * 30


def ts(day: int, hour: int, minute: int, second: int = 0) -> str:
    return f"2026-04-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}.000Z"


def side(status: int | None = 200, latency_ms: float = 2.0, error: str | None = None) -> Any:
    return {"status": status, "latency_ms": latency_ms, "error": error}


def changed(field: str, legacy: Any = "BUY", app: Any = "HOLD") -> dict[str, Any]:
    return {"field": field, "kind": "changed", "legacy": legacy, "app": app}


def breaking(consumer: str, role: str, *, shared: bool = False) -> dict[str, Any]:
    """`client` with one break of `consumer` by the `role` side's answer."""
    found = {
        "consumer": consumer, "side": role, "field": "decision", "kind": "missing",
        "expected": "string", "got": "absent", "message": None, "shared": shared, "known": None,
    }  # fmt: skip
    verdict = "ok" if shared else "break"
    verdicts = {"authoritative": "ok", "shadow": "ok", role: verdict}
    return {"consumer": {consumer: {**verdicts, "breaks": [found]}}, "drift": []}


def record(
    n: int, when: str, outcome: str, route: str = STATUS, group: str = "analysis", **extra: Any
) -> dict[str, Any]:
    """A record with every field of the schema, as the proxy writes it."""
    return {
        "ts": when, "event": "shadow_comparison", "schema": 2, "comparison_id": cid(n),
        "request_id": f"req-{n}", "kind": "ws" if route == WS else "http", "route_group": group,
        "route": route, "method": "GET", "path": route.replace("{task_id}", "AAPL_1"),
        "authoritative": "legacy", "flags_version": 1, "trace_id": None, "spans": None,
        "outcome": outcome, "legacy": side(200, 1.5), "app": side(200, 2.5), "differences": [],
        "accepted": [], "secondary": [], "secondary_omitted": 0, "reason": None,
        "task_id": None, "ticker": None, "date": None, "frames": None, "client": None,
        "request": {"headers": [["Accept", "application/json"]], "withheld": [], "body_bytes": None,
                    "encoding": None, "body": None},
    } | extra  # fmt: skip


def records() -> list[dict[str, Any]]:
    """The 15 records of `sample`, in write order."""
    decision = [changed("decision")]
    stage = [changed("tasks[AAPL_1].stage", "trading", "research")]
    return [
        record(1, ts(12, 10, 0), "mismatch", differences=decision),
        record(2, ts(12, 10, 1), "mismatch", differences=decision),
        record(3, ts(12, 10, 2), "skipped", reason="queue_full", legacy=None, app=None),
        record(4, ts(12, 10, 3), "shadow_error", app=side(None, 10000.0, "timeout"),
               reason="app timeout"),
        record(5, ts(13, 12, 0), "mismatch", TASKS, differences=stage),
        record(6, ts(13, 12, 0, 10), "mismatch", TASKS, differences=stage),
        record(7, ts(13, 12, 0, 20), "accepted", reason="known difference",
               accepted=[{**changed("error.cancel_notice", None, True), "reason": "cancel"}]),
        record(8, ts(13, 12, 0, 30), "match", client=breaking("legacy-dashboard", "authoritative")),
        record(9, ts(13, 12, 5), "mismatch", TASKS, differences=stage),
        record(10, ts(13, 12, 6), "mismatch", REPORT, "reports", app=side(500)),
        record(11, ts(13, 12, 7), "skipped", REPORT, "reports", reason="uncorrelated"),
        record(12, ts(13, 12, 8), "mismatch", WS, "ws_analysis",
               differences=[changed("stages.research", "completed", "running")],
               frames={"legacy": 12, "app": 11},
               client=breaking("v1alpha1-dashboard", "shadow")),
        record(13, ts(13, 12, 20), "mismatch", TASKS,
               differences=[changed("tasks[MSFT_2].stage", "risk", "trading")]),
        record(14, ts(13, 12, 21), "match", WATCH, "portfolio",
               client=breaking("legacy-dashboard", "shadow", shared=True)),
        record(15, ts(13, 12, 22), "mismatch", differences=decision),
    ]  # fmt: skip


def lines(items: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(item) + b"\n" for item in items)


def sample(folder: Path) -> Path:
    """The folder of the module docstring (made if missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    every = records()
    (folder / "diff-2026-04-12.1.jsonl.gz").write_bytes(gzip.compress(lines(every[:4])))
    (folder / "diff-2026-04-13.1.jsonl.gz").write_bytes(gzip.compress(lines(every[4:8])))
    (folder / "diff-2026-04-13.2.jsonl.gz").write_bytes(gzip.compress(lines(every[8:12])))
    bad = [
        b"{not json\n",
        orjson.dumps(record(90, ts(13, 12, 21), "match", schema=NEWER)) + b"\n",
        orjson.dumps(record(91, ts(13, 12, 21), "match", extra=1)) + b"\n",
        orjson.dumps(record(92, ts(13, 12, 21), "weird")) + b"\n",
    ]
    torn = orjson.dumps(record(93, ts(13, 12, 23), "match"))[:40]
    active = lines(every[12:14]) + b"".join(bad) + lines(every[14:]) + torn
    (folder / "diff-2026-04-13.jsonl").write_bytes(active)
    (folder / "notes.txt").write_text("not a diff log\n")
    return folder
