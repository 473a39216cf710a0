"""`diffs tail [--follow]`: the last records, then the active segment read as it grows.

One `Follower` per stream (`sources.Stream`: a folder's segments, or a file captured from
stdout, which is its own active file). `last_records()` finds the last N selected records of
every stream, reading each one's newest segments first (so a tail of a large folder opens only the
files it needs), merged by `ts`; `new_records()` what every follower read since, in `ts` order.

`Follower.records()` returns the records appended to the active segment since the last call
(the first call: everything in it). The open file is read to its end before the follower looks
at the folder again: when the segment's name no longer leads to the file it holds open (closed
by size or by day, then compressed: `segments.Segments`), it reads what was appended before the
rename, then opens the newest active segment from its start. A line still being written (no
newline yet) waits for the next call; one that never ended when its file was closed counts as
a torn line. A folder removed meanwhile is waited for. One rotation between two calls is
followed; the CLI calls every half second, and a segment holds 64 MiB.
"""

from __future__ import annotations

import heapq
import io
import os
from collections import deque
from collections.abc import Iterator, Sequence
from operator import itemgetter
from pathlib import Path

from shadowproxy.difflog.filters import Selection, Tally, select
from shadowproxy.difflog.read import TORN, Record, Skips, parse, read_segment
from shadowproxy.difflog.segments import file_day
from shadowproxy.difflog.sources import Stream

CHUNK = 1 << 20
by_ts = itemgetter("ts")


class Follower:
    def __init__(self, stream: Stream, skips: Skips) -> None:
        self.stream = stream
        self.skips = skips
        self.path: Path | None = None  # the segment held open
        self._file: io.BufferedReader | None = None
        self._partial = b""

    def __enter__(self) -> Follower:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def records(self) -> Iterator[Record]:
        if self._file is None:
            self._open()
        while self._file is not None:
            yield from self._read()
            if self._file is None or self._in_place():
                return
            yield from self._read()  # what was appended before the rename
            self.close()
            self._open()

    def close(self) -> None:
        if self._partial:
            self.skips.lines[TORN] += 1
            self._partial = b""
        if self._file is not None:
            self._file.close()
            self._file = None

    def _open(self) -> None:
        try:
            path = self.stream.active()
            self._file = None if path is None else path.open("rb")
        except OSError:  # no folder (yet), or the segment went between listing and opening
            path, self._file = None, None
        self.path = path if self._file is not None else None

    def _read(self) -> Iterator[Record]:
        """The complete lines appended since the last read; a read error closes the file."""
        while self._file is not None:
            try:
                chunk = self._file.read(CHUNK)
            except OSError as exc:  # the disk failing under a read: say so, look again later
                self.skips.files[self.path.name if self.path else "?"] = exc.strerror or str(exc)
                self.close()
                return
            if not chunk:
                return
            lines = (self._partial + chunk).split(b"\n")
            self._partial = lines.pop()
            for line in lines:
                if (record := parse(line, self.skips)) is not None:
                    yield record

    def _in_place(self) -> bool:
        """Whether the followed segment's name still leads to the file held open."""
        assert self._file is not None
        assert self.path is not None
        try:
            named = os.stat(self.path)
        except OSError:
            return False
        opened = os.fstat(self._file.fileno())
        return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def last_records(
    count: int, selection: Selection, skips: Skips, followers: Sequence[Follower]
) -> list[Record]:
    """The last `count` selected records of all the followers' streams, oldest first (by `ts`).
    Each follower then goes on from the end of its active file. OSError when a folder cannot be
    listed."""
    found = [_last_of(count, selection, skips, follower) for follower in followers]
    if len(found) == 1:
        return found[0]
    return list(deque(heapq.merge(*found, key=by_ts), maxlen=count))


def new_records(followers: Sequence[Follower], selection: Selection, tally: Tally) -> list[Record]:
    """The selected records appended since the last call, of every follower, by `ts`."""
    found = [list(select(follower.records(), selection, tally)) for follower in followers]
    return found[0] if len(found) == 1 else list(heapq.merge(*found, key=by_ts))


def _last_of(count: int, selection: Selection, skips: Skips, follower: Follower) -> list[Record]:
    """One stream's last records: the active file through `follower`, then older segments newest
    first, until there are enough."""
    tally = Tally()
    recent = list(deque(select(follower.records(), selection, tally), maxlen=count))
    older = [path for path in follower.stream.files() if path != follower.path]
    for path in reversed(older):
        if len(recent) >= count:
            break
        day = file_day(path)
        if day is None or selection.first_day <= day <= selection.last_day:
            found = select(read_segment(path, skips), selection, tally)
            recent = [*deque(found, maxlen=count - len(recent)), *recent]
    return recent
