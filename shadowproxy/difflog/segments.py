"""The files of one diff-log folder: their names, rotation, compression, retention and order.

One proxy writes one folder. `diff-YYYY-MM-DD.jsonl` is the day's active segment; closed segments
are `diff-YYYY-MM-DD.N.jsonl.gz` with N = 1, 2, ... in write order (a closed segment without
`.gz` is one a crash left uncompressed; the next start compresses it). With `keep_days`, closed
segments older than that many days are deleted when a new day's segment opens. The writer
(`Segments`, owned by the sink's thread) and the reader (`segment_files`) share these patterns.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import BinaryIO

import structlog

log = structlog.get_logger(__name__)

ACTIVE = re.compile(r"^diff-(\d{4}-\d{2}-\d{2})\.jsonl$")
CLOSED = re.compile(r"^diff-(\d{4}-\d{2}-\d{2})\.(\d+)\.jsonl(\.gz)?$")


def segment_files(directory: Path) -> list[Path]:
    """Diff-log files in write order: per day, closed segments by number, then the active one."""
    keyed = [(key, path) for path in directory.iterdir() if (key := _order(path.name)) is not None]
    return [path for _, path in sorted(keyed)]


def _order(name: str) -> tuple[str, int] | None:
    if match := CLOSED.match(name):
        return match.group(1), int(match.group(2))
    if match := ACTIVE.match(name):
        return match.group(1), 1 << 30  # after every closed segment of its day
    return None


class Segments:
    """The files of one diff-log folder. Used by the writer thread only."""

    def __init__(self, directory: Path, max_bytes: int, keep_days: int | None) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.keep_days = keep_days
        self.written = 0
        self.write_errors = 0
        self._file: BinaryIO | None = None
        self._day = ""
        self._size = 0

    def recover(self) -> None:
        """Compress segments a previous run renamed but did not finish compressing."""
        try:
            for path in sorted(self.directory.iterdir()):
                match = CLOSED.match(path.name)
                if match and not match.group(3):
                    self._compress(path)
        except OSError as exc:
            self._report(exc)

    def write(self, lines: list[tuple[str, bytes]]) -> None:
        """Append a batch; a disk error loses that record and is counted, never fatal."""
        for day, line in lines:
            try:
                self._append(day, line)
            except OSError as exc:
                self._failed_io(exc)
            else:
                self.written += 1
        try:
            if self._file is not None:
                self._file.flush()
        except OSError as exc:
            self._failed_io(exc)

    def close(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except OSError as exc:
                self._report(exc)
            self._file = None

    def _report(self, exc: OSError) -> None:
        self.write_errors += 1
        log.error("diff_log_write_failed", error=str(exc), directory=str(self.directory))

    def _failed_io(self, exc: OSError) -> None:
        self._report(exc)
        self.close()  # reopen on the next record

    def _append(self, day: str, line: bytes) -> None:
        if self._file is not None and (
            day != self._day or (self._size > 0 and self._size + len(line) + 1 > self.max_bytes)
        ):
            self._rotate_active()
        if self._file is None:
            self._open(day)
        assert self._file is not None  # _open sets it or raises
        self._file.write(line + b"\n")
        self._size += len(line) + 1

    def _open(self, day: str) -> None:
        for path in sorted(self.directory.glob("diff-*.jsonl")):
            match = ACTIVE.match(path.name)
            if match and match.group(1) != day:  # another day's segment nobody writes any more
                try:
                    self._compress(self._rename_closed(path, match.group(1)))
                except OSError as exc:  # an old file in the way must not stop today's records
                    self._report(exc)
        if self.keep_days is not None:
            self._expire(date.fromisoformat(day) - timedelta(days=self.keep_days - 1))
        path = self.directory / f"diff-{day}.jsonl"
        self._file = path.open("ab")
        self._day = day
        self._size = os.fstat(self._file.fileno()).st_size

    def _expire(self, oldest_kept: date) -> None:
        """Retention, judged by the records' day (not file times): older closed segments go."""
        for path in self.directory.glob("diff-*.jsonl.gz"):
            match = CLOSED.match(path.name)
            if match and date.fromisoformat(match.group(1)) < oldest_kept:
                try:
                    path.unlink()
                except OSError as exc:
                    self._report(exc)

    def _rotate_active(self) -> None:
        assert self._file is not None
        self._file.close()
        self._file = None
        active = self.directory / f"diff-{self._day}.jsonl"
        self._compress(self._rename_closed(active, self._day))

    def _rename_closed(self, active: Path, day: str) -> Path:
        numbers = [
            int(match.group(2))
            for path in self.directory.glob(f"diff-{day}.*.jsonl*")
            if (match := CLOSED.match(path.name))
        ]
        closed = self.directory / f"diff-{day}.{max(numbers, default=0) + 1}.jsonl"
        active.rename(closed)
        return closed

    def _compress(self, path: Path) -> None:
        target = path.with_name(path.name + ".gz")
        partial = path.with_name(path.name + ".gz.partial")
        with path.open("rb") as source, gzip.open(partial, "wb") as sink:
            shutil.copyfileobj(source, sink)
        partial.replace(target)
        path.unlink()
