"""Reading a diff-log folder back: every record in write order, every bad line counted by reason,
every bad file named, never an exception; and what the writer writes reads back whole."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from shadowproxy.difflog.read import (
    Skips,
    broken_consumers,
    counted_breaks,
    problem,
    read_records,
    read_segment,
    status,
)
from shadowproxy.difflog.record import FIELDS
from shadowproxy.difflog.segments import segment_files
from shadowproxy.difflog.sink import JsonlDiffSink
from shadowproxy.types import (
    BreakKind,
    ClientFindings,
    Comparison,
    ContractBreak,
    Difference,
    DiffKind,
    Outcome,
    Role,
    Side,
)

from ..factories import exchange, observation
from .logs import NEWER, NEWER_SCHEMA, SKIPPED_LINES, breaking, cid, lines, record, sample, ts


def read(
    folder: Path, first_day: str = "", last_day: str = "9999-12-31"
) -> tuple[list[dict[str, Any]], Skips]:
    skips = Skips()
    files = segment_files(folder)
    return list(read_records(files, skips, first_day=first_day, last_day=last_day)), skips


def test_the_sample_reads_in_write_order_with_each_bad_line_counted(tmp_path: Path) -> None:
    found, skips = read(sample(tmp_path))
    assert [r["comparison_id"] for r in found] == [cid(n) for n in range(1, 16)]
    assert dict(skips.lines) == SKIPPED_LINES
    assert skips.files == {}
    assert skips.message() == (
        f"5 lines skipped: 1 not JSON, 1 {NEWER_SCHEMA}, 1 unknown "
        "field 'extra', 1 missing or unknown 'outcome', 1 torn last line"
    )
    assert skips.document()["lines"] == 5


def test_segments_of_days_outside_the_window_are_not_opened(tmp_path: Path) -> None:
    folder = sample(tmp_path)
    (folder / "diff-2026-04-12.1.jsonl.gz").write_bytes(b"not gzip at all")
    found, skips = read(folder, first_day="2026-04-13")
    assert len(found) == 11
    assert skips.files == {}  # the broken 04-12 segment was never read
    found, skips = read(folder, last_day="2026-04-12")
    assert (found, list(skips.files)) == ([], ["diff-2026-04-12.1.jsonl.gz"])


def test_an_empty_folder_reads_nothing(tmp_path: Path) -> None:
    assert read(tmp_path) == ([], Skips())


def test_a_missing_folder_raises_oserror_for_the_caller_to_report(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        segment_files(tmp_path / "gone")


def flipped(data: bytes, start: int, end: int) -> bytes:
    return data[:start] + bytes(b ^ 0xFF for b in data[start:end]) + data[end:]


@pytest.mark.parametrize(
    ("content", "why"),
    [
        pytest.param(lambda data: gzip.compress(data)[:-12], "compressed segment cut short",
                     id="cut-short"),
        pytest.param(lambda data: b"not gzip at all", "Not a gzipped file", id="not-gzip"),
        pytest.param(lambda data: gzip.compress(data)[:-4] + b"\0\0\0\0", "Incorrect length",
                     id="bad-trailer"),
        pytest.param(lambda data: flipped(gzip.compress(data), 20, 60), "while decompressing",
                     id="corrupt-deflate"),
    ],
)  # fmt: skip
def test_a_bad_compressed_segment_is_named_and_what_it_held_before_counts(
    tmp_path: Path, content: Any, why: str
) -> None:
    body = lines([record(n, ts(13, 12, n), "mismatch") for n in range(1, 40)])
    (tmp_path / "diff-2026-04-13.1.jsonl.gz").write_bytes(content(body))
    (tmp_path / "diff-2026-04-13.jsonl").write_bytes(lines([record(50, ts(13, 13, 0), "match")]))
    found, skips = read(tmp_path)
    assert found[-1]["comparison_id"] == cid(50)
    assert len(found) < 40  # what the bad segment held before the trouble, and the active one
    (name, reason), *others = skips.files.items()
    assert (name, others) == ("diff-2026-04-13.1.jsonl.gz", [])
    assert why.lower() in reason.lower()
    assert skips.message().startswith("1 file unreadable: diff-2026-04-13.1.jsonl.gz (")


def test_a_segment_that_cannot_be_opened_is_named(tmp_path: Path) -> None:
    (tmp_path / "diff-2026-04-13.1.jsonl.gz").mkdir()  # as root, a mode cannot make it unreadable
    (tmp_path / "diff-2026-04-13.jsonl").write_bytes(lines([record(1, ts(13, 12, 0), "match")]))
    found, skips = read(tmp_path)
    assert len(found) == 1
    assert skips.files == {"diff-2026-04-13.1.jsonl.gz": "Is a directory"}


def test_the_last_line_of_each_file_may_be_torn(tmp_path: Path) -> None:
    whole = orjson.dumps(record(1, ts(13, 12, 0), "match"))
    (tmp_path / "diff-2026-04-13.1.jsonl.gz").write_bytes(gzip.compress(whole + b"\n" + whole))
    (tmp_path / "diff-2026-04-13.jsonl").write_bytes(whole + b"\n" + whole[:-1])
    found, skips = read(tmp_path)
    assert (len(found), dict(skips.lines)) == (2, {"torn last line": 2})


GOOD = record(1, ts(13, 12, 0), "mismatch", differences=[{"field": "f", "kind": "changed"}])


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        pytest.param({}, None, id="good"),
        pytest.param({"schema": 1}, None, id="schema-1"),
        pytest.param({"schema": 2}, None, id="schema-2"),
        pytest.param({"schema": 3}, None, id="schema-3"),
        pytest.param({"schema": 4}, None, id="schema-4"),
        pytest.param(
            {
                "schema": 4,
                "outcome": "noise",
                "noise": [{"field": "f", "kind": "changed", "legacy": 1, "app": 2, "reason": "r"}],
            },
            None,
            id="noise",
        ),
        pytest.param({"noise": 5}, None, id="noise-is-read-defensively-as-accepted-is"),
        pytest.param({"schema": NEWER}, NEWER_SCHEMA, id="newer"),
        pytest.param({"schema": "1"}, "malformed 'schema'", id="schema-text"),
        pytest.param({"schema": 0}, "malformed 'schema'", id="schema-0"),
        pytest.param({"colour": "red"}, "unknown field 'colour'", id="unknown-field"),
        pytest.param({"event": "access"}, "not a shadow_comparison record", id="event"),
        pytest.param(
            {"event": "shadowproxy_listening", "level": "info"},
            "not a shadow_comparison record",
            id="a-log-line",
        ),
        pytest.param({"replica": "proxy-a"}, None, id="replica"),
        pytest.param({"replica": None}, None, id="replica-null"),
        pytest.param({"replica": 7}, "malformed 'replica'", id="replica-type"),
        pytest.param({"ts": "2026-04-13 12:00"}, "missing or malformed 'ts'", id="ts-format"),
        pytest.param({"ts": 1}, "missing or malformed 'ts'", id="ts-type"),
        pytest.param({"outcome": "odd"}, "missing or unknown 'outcome'", id="outcome"),
        pytest.param({"comparison_id": 7}, "missing or malformed 'comparison_id'", id="id"),
        pytest.param({"route": None}, "missing or malformed 'route_group' or 'route'", id="route"),
        pytest.param({"app": [200]}, "malformed 'legacy', 'app' or 'client'", id="side"),
        pytest.param({"client": "x"}, "malformed 'legacy', 'app' or 'client'", id="client"),
        pytest.param({"differences": {}}, "malformed 'differences'", id="diffs-type"),
        pytest.param({"differences": ["f"]}, "malformed 'differences'", id="diff-entry"),
        pytest.param({"differences": [{"field": "f"}]}, "malformed 'differences'", id="no-kind"),
    ],
)
def test_what_makes_a_line_no_record(changes: dict[str, Any], reason: str | None) -> None:
    assert problem(GOOD | changes) == reason


@pytest.mark.parametrize("missing", ["ts", "outcome", "comparison_id", "route_group", "route"])
def test_a_record_needs_its_key_fields(missing: str) -> None:
    assert problem({k: v for k, v in GOOD.items() if k != missing}) is not None


def test_the_optional_fields_may_be_left_out() -> None:
    """Records written before a field existed (`schema`, `client`, `spans`, ...) still read."""
    keys = ("ts", "comparison_id", "route_group", "route", "outcome")
    assert problem({key: GOOD[key] for key in keys}) is None
    assert problem([GOOD]) == "not a JSON object"


def test_accessors_read_statuses_and_the_breaks_that_count() -> None:
    assert (status(GOOD, "legacy"), status(GOOD | {"app": None}, "app")) == (200, None)
    assert status(GOOD | {"app": {"status": "500"}}, "app") is None
    broken = GOOD | {"client": breaking("legacy-dashboard", "shadow")}
    assert broken_consumers(broken) == ["legacy-dashboard"]
    assert [b["consumer"] for b in counted_breaks(broken)] == ["legacy-dashboard"]
    shared = GOOD | {"client": breaking("legacy-dashboard", "shadow", shared=True)}
    assert (broken_consumers(shared), counted_breaks(shared)) == ([], [])
    assert broken_consumers(GOOD | {"client": {"consumer": ["odd"]}}) == []


async def test_what_the_writer_writes_reads_back_whole(tmp_path: Path) -> None:
    """Through the real sink: rotation by size and day, gzip, a client finding, secondary."""
    clock = iter(
        [datetime(2026, 4, 12, 23, 59, tzinfo=UTC)] * 3 + [datetime(2026, 4, 13, tzinfo=UTC)] * 3
    )
    sink = JsonlDiffSink(tmp_path, log_matches=True, max_bytes=2500, clock=lambda: next(clock))
    hurt = ContractBreak(
        "legacy-dashboard", Role.AUTHORITATIVE, "decision", BreakKind.MISSING, "string", None
    )
    for n in range(6):
        sink.publish(
            Comparison(
                exchange(comparison_id=f"cmp-{n}", route="/api/analysis/status/{task_id}"),
                Outcome.MISMATCH,
                observation(Side.LEGACY),
                observation(Side.APP, 500 if n % 2 else 200),
                differences=(Difference(f"tasks[T{n}].stage", DiffKind.CHANGED, "a", "b"),),
                secondary=(Difference("x", DiffKind.MISSING, 1, None),),
                client=ClientFindings(("legacy-dashboard",), (hurt,)),
            )
        )
    await sink.aclose()
    names = [path.name for path in segment_files(tmp_path)]
    assert any(name.endswith(".gz") for name in names)
    assert "diff-2026-04-13.jsonl" in names
    found, skips = read(tmp_path)
    assert not skips
    assert [r["comparison_id"] for r in found] == [f"cmp-{n}" for n in range(6)]
    assert set(found[0]) == FIELDS
    assert broken_consumers(found[0]) == ["legacy-dashboard"]


def test_one_segment_reads_alone(tmp_path: Path) -> None:
    path = tmp_path / "diff-2026-04-13.jsonl"
    path.write_bytes(lines([GOOD]) + b"\n")  # a blank line is not JSON
    skips = Skips()
    assert [r["comparison_id"] for r in read_segment(path, skips)] == [cid(1)]
    assert dict(skips.lines) == {"not JSON": 1}
