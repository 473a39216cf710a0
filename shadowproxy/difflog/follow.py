"""`diffs tail [--follow]`: the last records, then the active segment read as it grows.

`last_records()` finds the last N selected records reading the newest segments first (so a
tail of a large folder opens only the files it needs).

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

import io
import os
from collections import deque
from collections.abc import Iterator
from pathlib import Path

from shadowproxy.difflog.filters import Selection, Tally, select
from shadowproxy.difflog.read import TORN, Record, Skips, parse, read_segment
from shadowproxy.difflog.segments import active_segment, segment_day, segment_files

CHUNK = 1 << 20


class Follower:
    def __init__(self, directory: Path, skips: Skips) -> None:
        self.directory = directory
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
            path = active_segment(self.directory)
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
    directory: Path,
    count: int,
    selection: Selection,
    skips: Skips,
    follower: Follower,
) -> list[Record]:
    """The last `count` selected records, oldest first: the active segment through `follower`
    (which then goes on from its end), then older segments newest first, until there are enough."""
    tally = Tally()
    recent = list(deque(select(follower.records(), selection, tally), maxlen=count))
    older = [path for path in segment_files(directory) if path != follower.path]
    for path in reversed(older):
        if len(recent) >= count:
            break
        if selection.first_day <= segment_day(path) <= selection.last_day:
            found = select(read_segment(path, skips), selection, tally)
            recent = [*deque(found, maxlen=count - len(recent)), *recent]
    return recent
