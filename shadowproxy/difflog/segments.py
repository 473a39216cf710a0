"""The files of one diff-log folder: their names, rotation, compression, retention and order.

One proxy writes one folder. `diff-YYYY-MM-DD.jsonl` is the day's active segment; closed segments
are `diff-YYYY-MM-DD.N.jsonl.gz` with N = 1, 2, ... in write order (a closed segment without
`.gz` is one a crash or a failed compression left uncompressed; the next start compresses it).
With `keep_days`, closed segments older than that many days are deleted when a new day's segment
opens. The writer (`Segments`, owned by the sink's thread) and the reader (`segment_files`) share
these patterns.

Disk trouble (the folder full, unwritable, removed or replaced, a file-size limit) loses records,
never the writer: each record is written whole with unbuffered writes or not at all (a short
write is cut back, so no torn line is left for the next record to run into), a record the disk
refused is counted in `write_errors`, and the segment is reopened at most every `retry_s` seconds
until the disk takes records again. One `diff_log_write_failed` error is logged per episode (and
per change of errno), one `diff_log_write_recovered` warning with the records lost when it ends
(`outputs.Refusals`, which the stdout output shares). `Segments` is one of the sink's outputs
(`outputs.Output`).

The reader reads a folder's segments as one stream in this order; other `*.jsonl` and
`*.jsonl.gz` files in it (JSON lines captured from a proxy's stdout) are streams of their own
(`sources.streams_of`), which `file_day` knows no day of.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import shutil
from contextlib import suppress
from datetime import date, timedelta
from pathlib import Path

import structlog

from shadowproxy.difflog.outputs import DEFAULT_RETRY_S, Batch, Refusals, errno_name

log = structlog.get_logger(__name__)

ACTIVE = re.compile(r"^diff-(\d{4}-\d{2}-\d{2})\.jsonl$")
CLOSED = re.compile(r"^diff-(\d{4}-\d{2}-\d{2})\.(\d+)\.jsonl(\.gz)?$")


def segment_files(directory: Path) -> list[Path]:
    """Diff-log files in write order: per day, closed segments by number, then the active one."""
    keyed = [(key, path) for path in directory.iterdir() if (key := _order(path.name)) is not None]
    return [path for _, path in sorted(keyed)]


def file_day(path: Path) -> str | None:
    """The UTC day a segment's records are of, `YYYY-MM-DD` (from its name); None for a file that
    is no segment (JSON lines captured from stdout: any day)."""
    order = _order(path.name)
    return None if order is None else order[0]


def is_segment(name: str) -> bool:
    return _order(name) is not None


def active_segment(directory: Path) -> Path | None:
    """The newest day's active segment, the one the writer appends to; None when there is none."""
    actives = [path for path in segment_files(directory) if ACTIVE.match(path.name)]
    return actives[-1] if actives else None


def _order(name: str) -> tuple[str, int] | None:
    if match := CLOSED.match(name):
        return match.group(1), int(match.group(2))
    if match := ACTIVE.match(name):
        return match.group(1), 1 << 30  # after every closed segment of its day
    return None


class Segments:
    """The files of one diff-log folder. Used by the writer thread only."""

    def __init__(
        self,
        directory: Path,
        max_bytes: int,
        keep_days: int | None,
        *,
        retry_s: float = DEFAULT_RETRY_S,
    ) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.keep_days = keep_days
        self.retry_s = retry_s
        self.written = 0
        self.write_errors = 0  # records lost to disk trouble
        self.refusals = Refusals(retry_s, output="file", directory=str(directory))
        self._file: io.FileIO | None = None
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

    def write(self, lines: Batch) -> list[bool]:
        """Append a batch, record by record; what the disk refuses is counted, never fatal.
        Returns, per record, whether it was written."""
        if self._file is not None and not self._still_in_place():
            self.close()  # the folder or the segment was moved or removed: reopen by name
        taken = []
        for day, line in lines:
            if self._file is None and self.refusals.paused():
                self._refused()
                taken.append(False)
                continue
            try:
                self._append(day, line + b"\n")
            except OSError as exc:
                self.close()
                self._refused(exc)
                taken.append(False)
            else:
                self.written += 1
                self.refusals.taken()
                taken.append(True)
        return taken

    def close(self) -> None:
        if self._file is not None:
            with suppress(OSError):  # unbuffered: nothing is left to flush, nothing to lose
                self._file.close()
            self._file = None

    def _refused(self, exc: OSError | None = None) -> None:
        """One record lost; the first refusal of an episode (or a new errno) is logged."""
        self.write_errors += 1
        self.refusals.refused(exc)

    def _report(self, exc: OSError) -> None:
        """Trouble with closed segments (compression, retention): no record is lost by it."""
        log.error(
            "diff_log_housekeeping_failed",
            errno=errno_name(exc),
            error=exc.strerror or str(exc),
            path=str(exc.filename or self.directory),
            directory=str(self.directory),
        )

    def _still_in_place(self) -> bool:
        """Whether the open segment is still the file its name leads to."""
        assert self._file is not None
        try:
            named = os.stat(self.directory / f"diff-{self._day}.jsonl")
        except OSError:
            return False
        opened = os.fstat(self._file.fileno())
        return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)

    def _append(self, day: str, record: bytes) -> None:
        if self._file is not None and (
            day != self._day or (self._size > 0 and self._size + len(record) > self.max_bytes)
        ):
            self._rotate_active()
        if self._file is None:
            self._open(day)
        assert self._file is not None  # _open sets it or raises
        try:
            written = 0
            while written < len(record):  # a short write is followed by one that raises
                written += self._file.write(record[written:])
        except OSError:
            self._file.truncate(self._size)  # no torn line: the next record starts a line
            raise
        self._size += len(record)

    def _open(self, day: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)  # removed to free space: made again
        for path in sorted(self.directory.glob("diff-*.jsonl")):
            match = ACTIVE.match(path.name)
            if match and match.group(1) != day:  # another day's segment nobody writes any more
                try:
                    self._compress(self._rename_closed(path, match.group(1)))
                except OSError as exc:  # an old file in the way must not stop today's records
                    self._report(exc)
        if self.keep_days is not None:
            self._expire(date.fromisoformat(day) - timedelta(days=self.keep_days - 1))
        self._file = io.FileIO(self.directory / f"diff-{day}.jsonl", "ab")
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
        self.close()
        active = self.directory / f"diff-{self._day}.jsonl"
        closed = self._rename_closed(active, self._day)
        try:
            self._compress(closed)
        except OSError as exc:  # kept uncompressed (the next start compresses it)
            self._report(exc)

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
        try:
            with path.open("rb") as source, gzip.open(partial, "wb") as sink:
                shutil.copyfileobj(source, sink)
        except OSError:
            with suppress(OSError):  # a full disk must get the space of a half copy back
                partial.unlink()
            raise
        partial.replace(target)
        path.unlink()
