"""The JSONL diff-log sink: comparisons to rotated, gzip-compressed files, off the event loop.

`publish()` runs on the event loop: it filters, builds and redacts the record, renders it with
structlog's orjson renderer and puts the bytes on a bounded queue. It never blocks (a full queue
drops and counts) and never raises (the shadow can never hurt the client). One writer thread owns
the files: it appends, rotates by size and by UTC day, and gzips closed segments, so a slow or
hung disk stalls only that thread. `aclose()` drains the queue and flushes.

The files of a folder (names, rotation, compression, retention) and what a full or unwritable
disk does to them (records lost and counted, one log line per episode, writes resumed without a
restart once the disk takes them) are `segments.Segments`'s concern.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import orjson
import structlog

from shadowproxy.difflog.record import RecordBuilder, should_record
from shadowproxy.difflog.segments import DEFAULT_RETRY_S, Segments
from shadowproxy.types import Comparison, DiffLogStats

log = structlog.get_logger(__name__)

DEFAULT_MAX_BYTES: Final = 64 * 1024 * 1024
DEFAULT_QUEUE_SIZE: Final = 10_000
_BATCH: Final = 512
_STOP: Final = object()


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
        max_bytes: int = DEFAULT_MAX_BYTES,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        keep_days: int | None = None,
        retry_s: float = DEFAULT_RETRY_S,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if max_bytes <= 0 or queue_size <= 0:
            raise ValueError("diff log max_bytes and queue_size must be positive")
        if keep_days is not None and keep_days < 1:
            raise ValueError(f"diff log retention must be at least 1 day, got {keep_days}")
        directory.mkdir(parents=True, exist_ok=True)
        self._builder = RecordBuilder.create(redact_json_paths)
        self._render = structlog.processors.JSONRenderer(serializer=orjson.dumps)
        self._log_matches = log_matches
        self._clock = clock
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_size)
        self._segments = Segments(directory, max_bytes, keep_days, retry_s=retry_s)
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
            if not should_record(comparison, log_matches=self._log_matches):
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
