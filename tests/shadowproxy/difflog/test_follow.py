"""`diffs tail [--follow]`: the last records read newest segment first, and the active segment
followed as the real writer (`segments.Segments`) appends to it, rotates it by size and by day,
compresses it, or loses its folder."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import orjson

from shadowproxy.difflog.filters import Selection
from shadowproxy.difflog.follow import Follower, last_records
from shadowproxy.difflog.read import Skips
from shadowproxy.difflog.segments import Segments
from shadowproxy.difflog.sources import Stream

from .logs import cid, lines, record, sample, ts


def line(n: int, day: int = 13) -> tuple[str, bytes]:
    return f"2026-04-{day:02d}", orjson.dumps(record(n, ts(day, 12, n % 60), "mismatch"))


def numbers(records: object) -> list[int]:
    assert isinstance(records, list)
    return [int(r["comparison_id"][:2]) for r in records]


def test_new_records_are_read_once_across_size_and_day_rotation(tmp_path: Path) -> None:
    size = len(line(1)[1]) + 1
    writer = Segments(tmp_path, max_bytes=2 * size, keep_days=None)  # two records a segment
    skips = Skips()
    with Follower(Stream(tmp_path), skips) as follower:
        assert list(follower.records()) == []  # nothing written yet: nothing to follow
        writer.write([line(1)])
        assert numbers(list(follower.records())) == [1]
        assert numbers(list(follower.records())) == []
        writer.write([line(2), line(3)])  # 3 closes the segment by size: it is compressed
        assert [p.name for p in tmp_path.glob("*.gz")] == ["diff-2026-04-13.1.jsonl.gz"]
        assert numbers(list(follower.records())) == [2, 3]  # the end of the old one, the new
        writer.write([line(4, day=14)])  # the next day: the 13th is closed
        assert numbers(list(follower.records())) == [4]
        assert follower.path == tmp_path / "diff-2026-04-14.jsonl"
        writer.write([line(n, day=14) for n in range(5, 10)])  # closed twice in between
        # one rotation between two reads is followed; the segment closed in between is not
        assert numbers(list(follower.records())) == [5, 8, 9]
    writer.close()
    assert not skips


def test_a_line_being_written_waits_for_its_end(tmp_path: Path) -> None:
    active = tmp_path / "diff-2026-04-13.jsonl"
    whole = orjson.dumps(record(1, ts(13, 12, 0), "match")) + b"\n"
    active.write_bytes(whole + whole[:30])
    skips = Skips()
    follower = Follower(Stream(tmp_path), skips)
    assert numbers(list(follower.records())) == [1]
    with active.open("ab") as handle:
        handle.write(whole[30:])
    assert numbers(list(follower.records())) == [1]
    assert not skips
    with active.open("ab") as handle:
        handle.write(b"{half")
    assert list(follower.records()) == []
    follower.close()  # a line never ended is torn
    assert dict(skips.lines) == {"torn last line": 1}


def test_a_removed_folder_is_waited_for(tmp_path: Path) -> None:
    folder = tmp_path / "diff_logs"
    writer = Segments(folder, max_bytes=1 << 20, keep_days=None)
    with Follower(Stream(folder), Skips()) as follower:
        writer.write([line(1)])
        assert numbers(list(follower.records())) == [1]
        shutil.rmtree(folder)
        assert list(follower.records()) == []
        assert list(follower.records()) == []
        writer.write([line(2)])  # the writer makes it again
        assert numbers(list(follower.records())) == [2]
    writer.close()


def test_the_last_records_read_only_the_newest_segments_they_need(tmp_path: Path) -> None:
    folder = sample(tmp_path)
    (folder / "diff-2026-04-12.1.jsonl.gz").write_bytes(b"broken, and never needed")
    skips = Skips()
    follower = Follower(Stream(folder), skips)
    assert numbers(last_records(6, Selection(), skips, [follower])) == [
        10,
        11,
        12,
        13,
        14,
        15,
    ]
    assert follower.path == folder / "diff-2026-04-13.jsonl"
    assert list(skips.files) == []
    follower.close()
    assert skips.lines["torn last line"] == 1  # the sample's active segment ends in one


def test_the_last_records_of_a_selection_reach_back_as_far_as_needed(tmp_path: Path) -> None:
    folder = sample(tmp_path)

    def last(count: int, selection: Selection) -> list[int]:
        with Follower(Stream(folder), Skips()) as follower:
            return numbers(last_records(count, selection, Skips(), [follower]))

    assert last(8, Selection(outcome="mismatch")) == [2, 5, 6, 9, 10, 12, 13, 15]
    assert last(100, Selection()) == list(range(1, 16))
    assert last(0, Selection()) == []


def test_without_an_active_segment_the_closed_ones_are_the_tail(tmp_path: Path) -> None:
    body = lines([record(n, ts(13, 12, n), "match") for n in range(1, 5)])
    (tmp_path / "diff-2026-04-13.1.jsonl.gz").write_bytes(gzip.compress(body))
    with Follower(Stream(tmp_path), Skips()) as follower:
        found = last_records(2, Selection(), Skips(), [follower])
        assert follower.path is None
    assert [r["comparison_id"] for r in found] == [cid(3), cid(4)]
