"""Diff-log records for the report's tests, in the schema of diff_logs/README.md, and `sample()`:
two hours of three route groups whose every table row and chart the tests can count."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

START = 1_776_081_600.0  # 2026-04-13T12:00:00Z, a whole minute
STATUS = "/api/analysis/status/{task_id}"
REPORT = "/api/reports/{ticker}/{date}"
SOCKET = "/ws/analysis/{task_id}"
HOSTILE = "<script>alert(1)</script>"


def stamp(seconds: float) -> str:
    """START + seconds in the writer's `ts` format."""
    moment = datetime.fromtimestamp(START + seconds, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def record(
    n: int,
    outcome: str = "match",
    *,
    at: float | None = None,
    group: str = "analysis",
    route: str = STATUS,
    authoritative: str = "legacy",
    legacy: tuple[int | None, float] = (200, 10.0),
    app: tuple[int | None, float] = (200, 20.0),
    differences: tuple[dict[str, Any], ...] = (),
    noise: tuple[dict[str, Any], ...] = (),
    client: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Record number `n`, at `at` seconds after START (default: `n` seconds)."""
    return {
        "ts": stamp(n if at is None else at),
        "event": "shadow_comparison",
        "schema": 4,
        "comparison_id": f"cmp-{n}",
        "request_id": f"req-{n}",
        "kind": "ws" if route.startswith("/ws/") else "http",
        "route_group": group,
        "route": route,
        "method": "GET",
        "path": route.replace("{task_id}", f"AAPL_{n}"),
        "authoritative": authoritative,
        "outcome": outcome,
        "legacy": {"status": legacy[0], "latency_ms": legacy[1], "error": None},
        "app": {"status": app[0], "latency_ms": app[1], "error": None},
        "differences": list(differences),
        "accepted": [],
        "noise": list(noise),
        "secondary": [],
        "secondary_omitted": 0,
        "reason": None,
        "client": client,
    }


def diff(
    field: str, kind: str = "changed", legacy: Any = "BUY", app: Any = "HOLD"
) -> dict[str, Any]:
    return {"field": field, "kind": kind, "legacy": legacy, "app": app}


def noisy(field: str, rate: int = 31, legacy: Any = "12:00:01", app: Any = "12:00:02") -> Any:
    """A noise entry: a difference on a field legacy differs on with itself `rate` % of reads."""
    reason = f"noise: legacy differs with itself on {rate}% of 64 reads (legacy vs app 29% of 200)"
    return diff(field, legacy=legacy, app=app) | {"reason": reason}


def broken(
    consumer: str,
    side: str,
    field: str,
    kind: str = "missing",
    *,
    shared: bool = False,
    known: str | None = None,
) -> dict[str, Any]:
    return {"consumer": consumer, "side": side, "field": field, "kind": kind,
            "expected": "string", "got": "absent", "message": None, "shared": shared,
            "known": known}  # fmt: skip


def client(
    *breaks: dict[str, Any], consumers: tuple[str, ...] = (), drift: tuple[dict[str, Any], ...] = ()
) -> dict[str, Any]:
    """Findings for `consumers` (and every consumer a break names)."""
    names = dict.fromkeys([*consumers, *(b["consumer"] for b in breaks)])
    return {
        "consumer": {
            name: {
                "authoritative": "ok",
                "shadow": "ok",
                "breaks": [b for b in breaks if b["consumer"] == name],
            }
            for name in names
        },
        "drift": list(drift),
    }


def write_folder(folder: Path, records: list[dict[str, Any]]) -> Path:
    """The records as the proxy leaves them: the first half a closed gzip segment, the rest the
    active one of the last record's day."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [orjson.dumps(r) + b"\n" for r in records]
    half = len(lines) // 2
    day = records[-1]["ts"][:10]
    (folder / f"diff-{day}.1.jsonl.gz").write_bytes(gzip.compress(b"".join(lines[:half])))
    (folder / f"diff-{day}.jsonl").write_bytes(b"".join(lines[half:]))
    return folder


QUANT_DRIFT = {"field": "quant_signal", "kind": "missing", "legacy_presence": 1.0,
               "expected": "string", "got": None, "message": None}  # fmt: skip
SAMPLE_SIGNATURES = 5  # route + differing fields + statuses, as sample() makes them
SAMPLE_FIELDS = 5  # (group, field family, kind)
SAMPLE_BREAKS = 2  # (consumer, group, answer of, field, kind, standing)
SAMPLE_DRIFT = 1
SAMPLE_NOISE = 2  # (group, route, noisy field family)
SAMPLE_GROUPS = ("analysis", "reports", "ws_analysis")


def sample() -> list[dict[str, Any]]:
    """Two hours of records: 200 analysis matches (every 36 s) whose app answers break the
    legacy dashboard (and a shared break now and then, and one drift finding), mismatches on
    five signatures in three groups (one of them with a hostile field and value; the 30 on
    `result.decision` with noise on `updated_at` beside), noise records on two noisy fields (20
    on `updated_at` of analysis, the latest measured at 34 %; 5 on the websocket's
    `stages[].elapsed_ms`), a few skips and shadow errors."""
    records = []
    for n in range(200):
        found = [broken("legacy-dashboard", "shadow", "decision")]
        if n % 50 == 0:
            found.append(broken("legacy-dashboard", "shadow", "tasks[].error", "type_changed",
                                shared=True))  # fmt: skip
        drift = (QUANT_DRIFT,) if n == 7 else ()
        findings = client(*found, consumers=("legacy-dashboard", "v1alpha1-dashboard"), drift=drift)
        records.append(record(n, at=n * 36.0, client=findings, legacy=(200, 10.0 + n % 10)))
    ok, failed = (200, 20.0), (500, 40.0)
    two_rows = (diff("tasks[AAPL_1].status"), diff("tasks[MSFT_2].status"))
    hostile = diff(HOSTILE, legacy="<img src=x onerror=alert(1)>", app=HOSTILE)
    mismatches = [
        *[("analysis", STATUS, ok, (diff("result.decision"),))] * 30,
        *[("analysis", STATUS, failed, two_rows)] * 10,
        *[("reports", REPORT, ok, (diff("report", app=None),))] * 20,
        *[("ws_analysis", SOCKET, ok, (diff("stage_sequence"),))] * 10,
        ("reports", REPORT, ok, (hostile,)),
    ]
    for i, (group, route, answer, differences) in enumerate(mismatches):
        noise = (noisy("updated_at"),) if differences[0]["field"] == "result.decision" else ()
        records.append(
            record(1000 + i, "mismatch", at=100.0 * i, group=group, route=route, app=answer,
                   differences=differences, noise=noise)
        )  # fmt: skip
    for i in range(20):
        rate = 34 if i == 19 else 30
        records.append(
            record(4000 + i, "noise", at=5.0 + 360.0 * i, noise=(noisy("updated_at", rate),))
        )
    for i in range(5):
        entries = (
            noisy("stages[research].elapsed_ms", 12, 10, 11),
            noisy("stages[risk].elapsed_ms", 12, 3, 4),
        )
        records.append(
            record(
                4100 + i,
                "noise",
                at=7.0 + 1000.0 * i,
                group="ws_analysis",
                route=SOCKET,
                noise=entries,
            )
        )
    for i in range(5):
        records.append(record(2000 + i, "skipped", at=7000.0 + i, group="reports", route=REPORT))
    for i in range(3):
        records.append(
            record(3000 + i, "shadow_error", at=3000.0 + i, group="ws_analysis", route=SOCKET)
        )
    return sorted(records, key=lambda r: str(r["ts"]))
