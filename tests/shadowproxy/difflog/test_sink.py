import gzip
import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from shadowproxy.difflog.sink import JsonlDiffSink
from shadowproxy.types import (
    Comparison,
    Difference,
    DiffKind,
    ExchangeKind,
    Observation,
    Outcome,
    RouteGroup,
    Side,
)

from ..factories import exchange, observation

SCHEMA = {
    "ts", "event", "schema", "comparison_id", "request_id", "kind", "route_group", "route",
    "method", "path", "authoritative", "outcome", "legacy", "app", "differences", "accepted",
    "noise", "secondary", "secondary_omitted", "reason", "task_id", "ticker", "date", "frames",
    "client", "flags_version", "trace_id", "spans", "request", "replica",
}  # fmt: skip
START = datetime(2026, 4, 13, 23, 59, 0, tzinfo=UTC)
RATE = "noise: legacy differs with itself on 31% of 64 reads (legacy vs app 29% of 200)"


class FakeClock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def make_comparison(
    n: int = 0,
    outcome: Outcome = Outcome.MISMATCH,
    *,
    kind: ExchangeKind = ExchangeKind.HTTP,
    path: str = "/api/analysis/status/AAPL_1",
    differences: tuple[Difference, ...] = (
        Difference("result.decision", DiffKind.CHANGED, "BUY", "HOLD"),
    ),
    legacy: Observation | None = None,
    app: Observation | None = None,
    **extra: Any,
) -> Comparison:
    asked = exchange(
        comparison_id=f"cmp-{n}",
        request_id=f"req-{n}",
        kind=kind,
        route_group=RouteGroup.ANALYSIS,
        route="/api/analysis/status/{task_id}",
        path=path,
        profile="status_document",
    )
    return Comparison(
        exchange=asked,
        outcome=outcome,
        legacy=legacy or observation(Side.LEGACY, latency_s=0.0123),
        app=app or observation(Side.APP, latency_s=0.02),
        differences=differences,
        **extra,
    )


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def sizes(directory: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in directory.iterdir()}


def read_lines(directory: Path) -> list[bytes]:
    lines: list[bytes] = []
    for path in sorted(directory.iterdir()):
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        lines.extend(data.splitlines())
    return lines


def read_records_of(directory: Path, name: str) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in (directory / name).read_bytes().splitlines()]


def read_records(directory: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in read_lines(directory)]


async def test_record_has_every_schema_field(tmp_path: Path) -> None:
    sink = JsonlDiffSink(tmp_path, log_matches=False, replica="proxy-7d9f", clock=FakeClock())
    sink.publish(
        make_comparison(
            1,
            accepted=(
                Difference("degraded", DiffKind.EXTRA, None, True, "legacy cannot express it"),
            ),
            noise=(Difference("updated_at", DiffKind.CHANGED, "12:00:01", "12:00:02", RATE),),
            secondary=tuple(Difference(f"f{i}", DiffKind.CHANGED, i, i + 1) for i in range(25)),
            reason="terminal decision differs",
            task_id="AAPL_1",
            ticker="AAPL",
            date="2026-04-13",
        )
    )
    sink.publish(
        make_comparison(
            2,
            kind=ExchangeKind.WS,
            app=Observation(Side.APP, None, error="connection refused"),
            frames={"legacy": 7, "app": 5},
        )
    )
    await sink.aclose()

    http, ws = read_records(tmp_path)
    assert set(http) == SCHEMA
    assert set(ws) == SCHEMA
    assert http["ts"] == "2026-04-13T23:59:00.000Z"
    assert (http["event"], http["comparison_id"], http["request_id"]) == (
        "shadow_comparison",
        "cmp-1",
        "req-1",
    )
    assert (http["kind"], http["route_group"], http["method"]) == ("http", "analysis", "GET")
    assert http["route"] == "/api/analysis/status/{task_id}"
    assert (http["authoritative"], http["outcome"]) == ("legacy", "mismatch")
    assert http["legacy"] == {"status": 200, "latency_ms": 12.3, "error": None}
    assert http["differences"] == [
        {"field": "result.decision", "kind": "changed", "legacy": "BUY", "app": "HOLD"}
    ]
    assert http["accepted"] == [
        {
            "field": "degraded",
            "kind": "extra",
            "legacy": None,
            "app": True,
            "reason": "legacy cannot express it",
        }
    ]
    assert http["noise"] == [
        {"field": "updated_at", "kind": "changed", "legacy": "12:00:01", "app": "12:00:02",
         "reason": RATE}
    ]  # fmt: skip
    assert ws["noise"] == []
    assert len(http["secondary"]) == 20
    assert http["secondary_omitted"] == 5
    assert (http["task_id"], http["ticker"], http["date"]) == ("AAPL_1", "AAPL", "2026-04-13")
    assert http["frames"] is None
    assert ws["kind"] == "ws"
    assert (http["schema"], http["replica"], ws["replica"]) == (4, "proxy-7d9f", "proxy-7d9f")
    assert ws["frames"] == {"legacy": 7, "app": 5}
    assert ws["app"] == {"status": None, "latency_ms": 0.0, "error": "connection refused"}
    assert sink.stats.written == 2


@pytest.mark.parametrize(
    ("outcome", "log_matches", "logged"),
    [
        pytest.param(Outcome.MATCH, False, False, id="match-quiet"),
        pytest.param(Outcome.MATCH, True, True, id="match-asked"),
        pytest.param(Outcome.INFLIGHT_SKEW, False, False, id="skew-quiet"),
        pytest.param(Outcome.INFLIGHT_SKEW, True, True, id="skew-asked"),
        pytest.param(Outcome.MISMATCH, False, True, id="mismatch"),
        pytest.param(Outcome.ACCEPTED, False, True, id="accepted"),
        pytest.param(Outcome.NOISE, False, True, id="noise"),
        pytest.param(Outcome.SKIPPED, False, True, id="skipped"),
        pytest.param(Outcome.SHADOW_ERROR, False, True, id="shadow-error"),
        pytest.param(Outcome.AUTHORITATIVE_ERROR, False, True, id="authoritative-error"),
        pytest.param(Outcome.BOTH_ERROR, False, True, id="both-error"),
    ],
)
async def test_which_outcomes_are_logged(
    tmp_path: Path, outcome: Outcome, log_matches: bool, logged: bool
) -> None:
    sink = JsonlDiffSink(tmp_path, log_matches=log_matches, clock=FakeClock())
    sink.publish(make_comparison(outcome=outcome))
    await sink.aclose()
    assert [r["outcome"] for r in read_records(tmp_path)] == ([outcome.value] if logged else [])


async def test_rotation_by_size_gzips_closed_segments(tmp_path: Path) -> None:
    sink = JsonlDiffSink(tmp_path, log_matches=False, max_bytes=2000, clock=FakeClock())
    for n in range(20):
        sink.publish(make_comparison(n))
    await sink.aclose()

    listing = names(tmp_path)
    closed = [name for name in listing if name.endswith(".jsonl.gz")]
    assert "diff-2026-04-13.jsonl" in listing
    assert len(closed) >= 3
    assert all(name.startswith("diff-2026-04-13.") for name in closed)
    assert all(size <= 2000 for name, size in sizes(tmp_path).items() if name.endswith(".jsonl"))
    ids = sorted(int(r["comparison_id"].split("-")[1]) for r in read_records(tmp_path))
    assert ids == list(range(20))


async def test_rotation_by_utc_day(tmp_path: Path) -> None:
    clock = FakeClock()
    sink = JsonlDiffSink(tmp_path, log_matches=False, clock=clock)
    sink.publish(make_comparison(1))
    clock.now = START + timedelta(minutes=2)  # 00:01 UTC the next day
    sink.publish(make_comparison(2))
    await sink.aclose()

    assert names(tmp_path) == [
        "diff-2026-04-13.1.jsonl.gz",
        "diff-2026-04-14.jsonl",
    ]
    first = gzip.decompress((tmp_path / "diff-2026-04-13.1.jsonl.gz").read_bytes())
    assert orjson.loads(first)["comparison_id"] == "cmp-1"
    assert orjson.loads((tmp_path / "diff-2026-04-14.jsonl").read_bytes())["ts"].startswith(
        "2026-04-14T00:01"
    )


async def test_restart_appends_today_and_compresses_older_days(tmp_path: Path) -> None:
    clock = FakeClock()
    first = JsonlDiffSink(tmp_path, log_matches=False, clock=clock)
    first.publish(make_comparison(1))
    await first.aclose()
    (tmp_path / "diff-2026-04-12.3.jsonl").write_bytes(b'{"interrupted":true}\n')

    again = JsonlDiffSink(tmp_path, log_matches=False, clock=clock)
    again.publish(make_comparison(2))
    await again.aclose()
    assert [r["comparison_id"] for r in read_records(tmp_path) if "comparison_id" in r] == [
        "cmp-1",
        "cmp-2",
    ]

    clock.now = START + timedelta(days=2)
    later = JsonlDiffSink(tmp_path, log_matches=False, clock=clock)
    later.publish(make_comparison(3))
    await later.aclose()
    assert names(tmp_path) == [
        "diff-2026-04-12.3.jsonl.gz",
        "diff-2026-04-13.1.jsonl.gz",
        "diff-2026-04-15.jsonl",
    ]


async def test_retention_deletes_closed_segments_older_than_keep_days(tmp_path: Path) -> None:
    for old in ("diff-2026-04-10.1.jsonl.gz", "diff-2026-04-11.1.jsonl.gz", "notes.jsonl.gz"):
        (tmp_path / old).write_bytes(gzip.compress(b"{}\n"))
    clock = FakeClock()  # 2026-04-13
    sink = JsonlDiffSink(tmp_path, log_matches=False, keep_days=2, clock=clock)
    sink.publish(make_comparison(1))
    clock.now = START + timedelta(days=1)  # 2026-04-14: keeps the 13th and the 14th
    sink.publish(make_comparison(2))
    await sink.aclose()
    assert names(tmp_path) == [
        "diff-2026-04-13.1.jsonl.gz",
        "diff-2026-04-14.jsonl",
        "notes.jsonl.gz",  # not ours: never touched
    ]


def test_retention_is_at_least_a_day(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 1 day"):
        JsonlDiffSink(tmp_path, log_matches=False, keep_days=0)


async def test_aclose_flushes_everything(tmp_path: Path) -> None:
    sink = JsonlDiffSink(tmp_path, log_matches=True, clock=FakeClock())
    for n in range(3000):
        sink.publish(make_comparison(n, Outcome.MATCH))
    await sink.aclose()
    assert len(read_lines(tmp_path)) == 3000
    assert sink.stats.written == 3000
    sink.publish(make_comparison(1))
    assert sink.stats.dropped == 1  # after aclose: counted, not raised


@pytest.fixture
def hung_disk(tmp_path: Path) -> Path:
    """Today's active segment is a FIFO nobody reads yet: opening it blocks like a hung mount."""
    fifo = tmp_path / "diff-2026-04-13.jsonl"
    os.mkfifo(fifo)
    return fifo


async def test_publish_never_blocks_when_the_queue_is_full(tmp_path: Path, hung_disk: Path) -> None:
    sink = JsonlDiffSink(tmp_path, log_matches=False, queue_size=8, clock=FakeClock())
    for n in range(1000):
        sink.publish(make_comparison(n))
    # held: at most the one batch (<= 512) the writer took before its open() hung, plus the queue
    assert sink.stats.dropped >= 1000 - 512 - 8
    assert sink.stats.written == 0

    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(hung_disk.read_bytes()))
    reader.start()  # the disk "recovers": the writer's open() returns
    await sink.aclose()
    reader.join()
    assert len(received[0].splitlines()) == 1000 - sink.stats.dropped == sink.stats.written


async def test_publish_never_raises(tmp_path: Path) -> None:
    ticks: list[datetime | None] = [None, START]

    def flaky_clock() -> datetime:
        tick = ticks.pop(0)
        if tick is None:
            raise OSError("clock source unavailable")
        return tick

    sink = JsonlDiffSink(tmp_path, log_matches=False, clock=flaky_clock)
    sink.publish(make_comparison(1))
    sink.publish(make_comparison(2))
    await sink.aclose()
    assert sink.stats.failed == 1
    assert [r["comparison_id"] for r in read_records(tmp_path)] == ["cmp-2"]


async def test_a_disk_error_loses_only_the_records_it_hit(tmp_path: Path) -> None:
    (tmp_path / "diff-2026-04-13.jsonl").mkdir()  # something in the way of today's segment
    clock = FakeClock()
    sink = JsonlDiffSink(tmp_path, log_matches=False, retry_s=0, clock=clock)
    sink.publish(make_comparison(1))
    clock.now = START + timedelta(days=1)
    sink.publish(make_comparison(2))
    await sink.aclose()
    # cmp-1 could not be written; compressing the old "segment" failed (no record lost by that)
    # but did not stop cmp-2
    assert (sink.stats.written, sink.stats.write_errors) == (1, 1)
    assert [r["comparison_id"] for r in read_records_of(tmp_path, "diff-2026-04-14.jsonl")] == [
        "cmp-2"
    ]


async def test_no_secret_reaches_any_diff_log_line(tmp_path: Path) -> None:
    """Every secret form the proxy sees, through rotation and gzip, read back from disk."""
    secrets = ["hdr-api-key-1", "bearer-tok-2", "sid-cookie-3", "set-cookie-4", "q-api-key-5"]
    secrets += ["cfg-token-6", "field-api-key-7", "err-token-8", "proxy-auth-9"]
    request_headers = (
        ("api-key", secrets[0]),
        ("Authorization", f"Bearer {secrets[1]}"),
        ("Cookie", f"sid={secrets[2]}"),
        ("Proxy-Authorization", f"Basic {secrets[8]}"),
    )
    legacy = Observation(Side.LEGACY, 200, headers=(("Set-Cookie", f"sid={secrets[3]}"),))
    app = Observation(Side.APP, None, error=f"GET http://127.0.0.1:1/p?token={secrets[7]} refused")
    differences = (
        Difference("headers.set-cookie", DiffKind.CHANGED, f"sid={secrets[3]}", None),
        Difference("request.headers", DiffKind.CHANGED, dict(request_headers), {}),
        Difference("accounts", DiffKind.CHANGED, {"main": {"token": secrets[5]}}, {}),
        Difference("profile.api_key", DiffKind.CHANGED, secrets[6], "other"),
    )
    clock = FakeClock()
    sink = JsonlDiffSink(
        tmp_path,
        log_matches=True,
        redact_json_paths=["accounts.*.token"],
        max_bytes=1500,
        clock=clock,
    )
    for n in range(6):
        clock.now = START + timedelta(seconds=30 * n)  # crosses midnight: day rotation too
        sink.publish(
            make_comparison(
                n,
                path=f"/ws/analysis/T?api_key={secrets[4]}&x=1",
                differences=differences,
                secondary=differences,
                accepted=differences,
                legacy=legacy,
                app=app,
                reason=f"Authorization: Bearer {secrets[1]}",
            )
        )
    await sink.aclose()

    assert any(name.endswith(".gz") for name in names(tmp_path))
    lines = read_lines(tmp_path)
    assert len(lines) == 6
    assert b"[REDACTED]" in lines[0]
    leaked = [s for s in secrets for line in lines if s.encode() in line]
    assert leaked == []
