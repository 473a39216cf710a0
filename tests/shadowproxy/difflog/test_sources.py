"""Several streams read as one: a folder's segments and the JSON-lines files captured from stdout
beside them, the folders of several replicas merged by `ts`, followed and tailed together."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

from shadowproxy.difflog.filters import Selection, Tally
from shadowproxy.difflog.follow import Follower, last_records, new_records
from shadowproxy.difflog.read import Skips, merged
from shadowproxy.difflog.sources import Stream, streams_of

from .logs import lines, record, ts


def replica(n: int, second: int, name: str, day: int = 13) -> dict[str, Any]:
    """Record `n` of replica `name`, at 12:00:`second` of April `day`."""
    return record(n, ts(day, 12, 0, second), "mismatch", schema=3, replica=name)


def ids(records: object) -> list[str]:
    assert isinstance(records, list)
    return [f"{r['replica']}{int(r['comparison_id'][:2])}" for r in records]


def test_a_folder_is_its_segments_then_each_captured_file(tmp_path: Path) -> None:
    for name in ("diff-2026-04-13.jsonl", "b.jsonl", "notes.txt", "x.jsonl.gz.partial"):
        (tmp_path / name).write_bytes(b"")
    for name in ("diff-2026-04-13.1.jsonl.gz", "a.jsonl.gz"):
        (tmp_path / name).write_bytes(gzip.compress(b""))
    (tmp_path / "folder.jsonl").mkdir()
    found = streams_of(tmp_path)
    assert found == [Stream(tmp_path), Stream(tmp_path, tmp_path / "a.jsonl.gz"),
                     Stream(tmp_path, tmp_path / "b.jsonl")]  # fmt: skip
    assert [path.name for path in found[0].files()] == [
        "diff-2026-04-13.1.jsonl.gz",
        "diff-2026-04-13.jsonl",
    ]
    assert found[1].files() == [tmp_path / "a.jsonl.gz"]
    assert found[0].active() == tmp_path / "diff-2026-04-13.jsonl"
    assert found[2].active() == tmp_path / "b.jsonl"  # a captured file is its own active one


def test_streams_are_merged_by_ts_ties_in_stream_order(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "diff-2026-04-13.1.jsonl.gz").write_bytes(
        gzip.compress(lines([replica(1, 0, "a"), replica(2, 2, "a")]))
    )
    (a / "diff-2026-04-13.jsonl").write_bytes(lines([replica(3, 4, "a")]))
    (b / "diff-2026-04-13.jsonl").write_bytes(lines([replica(1, 1, "b"), replica(2, 2, "b")]))
    (b / "captured.jsonl").write_bytes(lines([replica(3, 3, "c")]) + b"not a record\n")
    skips, opened = Skips(), []
    streams = [stream.files() for folder in (a, b) for stream in streams_of(folder)]
    found = list(
        merged(streams, skips, progress=lambda i, n, path: opened.append((i, n, path.name)))
    )
    assert ids(found) == ["a1", "b1", "a2", "b2", "c3", "a3"]
    assert dict(skips.lines) == {"not JSON": 1}
    assert [(i, n) for i, n, _ in opened] == [(1, 4), (2, 4), (3, 4), (4, 4)]  # every file once


def test_a_captured_file_has_no_day_and_is_read_whatever_the_window(tmp_path: Path) -> None:
    (tmp_path / "diff-2026-04-12.jsonl").write_bytes(b"not a record: never opened\n")
    (tmp_path / "pod.jsonl").write_bytes(lines([replica(1, 0, "p", day=12)]))
    skips = Skips()
    streams = [stream.files() for stream in streams_of(tmp_path)]
    found = list(merged(streams, skips, first_day="2026-04-13"))
    assert (ids(found), skips) == (["p1"], Skips())  # the window then judges its records' `ts`


def test_several_streams_are_tailed_and_followed_in_ts_order(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "diff-2026-04-13.jsonl").write_bytes(lines([replica(1, 0, "a"), replica(2, 3, "a")]))
    (b / "diff-2026-04-13.jsonl").write_bytes(lines([replica(1, 1, "b"), replica(2, 2, "b")]))
    captured = b / "pod.jsonl"
    captured.write_bytes(lines([replica(1, 4, "c")]))
    skips = Skips()
    followers = [Follower(stream, skips) for folder in (a, b) for stream in streams_of(folder)]
    try:
        assert ids(last_records(3, Selection(), skips, followers)) == ["b2", "a2", "c1"]
        assert new_records(followers, Selection(), Tally()) == []
        with (b / "diff-2026-04-13.jsonl").open("ab") as handle:
            handle.write(lines([replica(3, 6, "b")]))
        with captured.open("ab") as handle:  # `kubectl logs -f > pod.jsonl` goes on
            handle.write(lines([replica(2, 7, "c")]))
        with (a / "diff-2026-04-13.jsonl").open("ab") as handle:
            handle.write(lines([replica(3, 5, "a")]))
        assert ids(new_records(followers, Selection(), Tally())) == ["a3", "b3", "c2"]
        chosen = Selection(replicas=frozenset({"a"}))
        with (b / "diff-2026-04-13.jsonl").open("ab") as handle:
            handle.write(lines([replica(4, 8, "b")]))
        assert new_records(followers, chosen, Tally()) == []
    finally:
        for follower in followers:
            follower.close()
    assert not skips
