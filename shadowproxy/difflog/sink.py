"""The JSONL diff-log sink: comparisons to rotated, gzip-compressed files, off the event loop.

`publish()` runs on the event loop: it filters, builds and redacts the record, renders it with
structlog's orjson renderer and puts the bytes on a bounded queue. It never blocks (a full queue
drops and counts) and never raises (the shadow can never hurt the client). One writer thread owns
the files: it appends, rotates by size and by UTC day, and gzips closed segments, so a slow or
hung disk stalls only that thread. `aclose()` drains the queue and flushes.

Files (one proxy per folder): `diff-YYYY-MM-DD.jsonl` is the day's active segment; closed
segments are `diff-YYYY-MM-DD.N.jsonl.gz` with N = 1, 2, ... in write order. With `keep_days`,
closed segments older than that many days are deleted when a new day's segment opens.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import queue
import re
import shutil
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import BinaryIO, Final

import orjson
import structlog

from shadowproxy.difflog.record import RecordBuilder, should_log
from shadowproxy.types import AcceptedDifference, Comparison, DiffLogStats

log = structlog.get_logger(__name__)

DEFAULT_MAX_BYTES: Final = 64 * 1024 * 1024
DEFAULT_QUEUE_SIZE: Final = 10_000
_BATCH: Final = 512
_STOP: Final = object()
_ACTIVE = re.compile(r"^diff-(\d{4}-\d{2}-\d{2})\.jsonl$")
_CLOSED = re.compile(r"^diff-(\d{4}-\d{2}-\d{2})\.(\d+)\.jsonl(\.gz)?$")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class JsonlDiffSink:
    """DiffSink writing one redacted JSON object per line; see the module docstring."""

    def __init__(
        self,
        directory: Path,
        *,
        log_matches: bool,
        redact_json_paths: Iterable[str] = (),
        known_differences: Iterable[AcceptedDifference] = (),
        max_bytes: int = DEFAULT_MAX_BYTES,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        keep_days: int | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if max_bytes <= 0 or queue_size <= 0:
            raise ValueError("diff log max_bytes and queue_size must be positive")
        if keep_days is not None and keep_days < 1:
            raise ValueError(f"diff log retention must be at least 1 day, got {keep_days}")
        directory.mkdir(parents=True, exist_ok=True)
        self._builder = RecordBuilder.create(redact_json_paths, known_differences)
        self._render = structlog.processors.JSONRenderer(serializer=orjson.dumps)
        self._log_matches = log_matches
        self._clock = clock
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_size)
        self._segments = _Segments(directory, max_bytes, keep_days)
        self._closed = False
        self._dropped = 0
        self._failed = 0
        self._thread = threading.Thread(target=self._drain, name="diff-log-writer", daemon=True)
        self._thread.start()

    @property
    def stats(self) -> DiffLogStats:
        return DiffLogStats(
            self._segments.written, self._dropped, self._failed, self._segments.write_errors
        )

    def publish(self, comparison: Comparison) -> None:
        try:
            if not should_log(comparison.outcome, log_matches=self._log_matches):
                return
            if self._closed:
                self._count_drop("closed")
                return
            moment = self._clock()
            rendered = self._render(None, "info", self._builder.build(comparison, moment))
            line = rendered if isinstance(rendered, bytes) else rendered.encode()
            self._queue.put_nowait((moment.astimezone(UTC).date().isoformat(), line))
        except queue.Full:
            self._count_drop("queue_full")
        except Exception as exc:  # publish must never raise into the proxy
            self._failed += 1
            log.error(
                "diff_log_publish_failed",
                comparison_id=comparison.exchange.comparison_id,
                error_type=type(exc).__name__,
            )

    async def aclose(self) -> None:
        self._closed = True
        if self._thread.is_alive():
            await asyncio.to_thread(self._stop_and_join)

    def _stop_and_join(self) -> None:
        while self._thread.is_alive():  # a full queue drains while we wait for a slot
            try:
                self._queue.put(_STOP, timeout=0.5)
            except queue.Full:
                continue
            break
        self._thread.join()

    def _count_drop(self, reason: str) -> None:
        self._dropped += 1
        if str(self._dropped).rstrip("0") == "1":  # 1, 10, 100, ...: visible, never a flood
            log.warning("diff_log_dropped", reason=reason, dropped_total=self._dropped)

    def _drain(self) -> None:
        self._segments.recover()
        while True:
            batch = [self._queue.get()]
            while len(batch) < _BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._segments.write([item for item in batch if isinstance(item, tuple)])
            except Exception as exc:  # a bug here must not silently end the writer
                self._segments.write_errors += 1
                log.error("diff_log_writer_failed", error_type=type(exc).__name__)
            if any(item is _STOP for item in batch):
                self._segments.close()
                return


class _Segments:
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
                match = _CLOSED.match(path.name)
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
            match = _ACTIVE.match(path.name)
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
            match = _CLOSED.match(path.name)
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
            if (match := _CLOSED.match(path.name))
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
