"""The JSONL diff-log sink: comparisons to rotated, gzip-compressed files and/or stdout, off the
event loop.

`publish()` runs on the event loop: it filters, builds and redacts the record (naming this
`replica`), renders it with structlog's orjson renderer and puts the bytes on a bounded queue. It
never blocks (a full queue drops and counts) and never raises (the shadow can never hurt the
client). One writer thread owns the outputs (`outputs.Output`): the folder's files (it appends,
rotates by size and by UTC day, and gzips closed segments: `segments.Segments`) and/or a stream
(`outputs.StreamOutput`: one JSON line per record on stdout, `SHADOWPROXY_DIFF_LOG=stdout|both`),
so a slow or hung disk or log pipeline stalls only that thread. `aclose()` drains the queue and
flushes.

What a full or unwritable disk, or a stdout nobody reads any more, does (records lost and counted,
one log line per episode, writes resumed without a restart once the output takes them) is each
output's concern. `stats` counts records, not copies: with both outputs a record is `written`
when both took it, and a `write_error` when either refused it.
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

from shadowproxy.difflog.outputs import DEFAULT_RETRY_S, Batch, Output, StreamOutput
from shadowproxy.difflog.record import RecordBuilder, should_record
from shadowproxy.difflog.segments import Segments
from shadowproxy.types import Comparison, DiffLogStats

log = structlog.get_logger(__name__)

DEFAULT_MAX_BYTES: Final = 64 * 1024 * 1024
DEFAULT_QUEUE_SIZE: Final = 10_000
STDOUT: Final = 1  # the process's stdout, as a `stream` (fd 1, whatever became of sys.stdout)
_BATCH: Final = 512
_STOP: Final = object()


def _utc_now() -> datetime:
    return datetime.now(UTC)


class JsonlDiffSink:
    """DiffSink writing one redacted JSON object per line; see the module docstring.

    `directory`: the folder of segments (None: no files); `stream`: a file descriptor to write the
    same lines to (`STDOUT`; None: none); at least one of the two. `replica` is this
    process's name, written into every record.
    """

    def __init__(
        self,
        directory: Path | None,
        *,
        log_matches: bool,
        redact_json_paths: Iterable[str] = (),
        replica: str | None = None,
        stream: int | None = None,
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
        if directory is None and stream is None:
            raise ValueError("a diff log needs a folder, a stream or both")
        self._outputs: list[Output] = []
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            self._outputs.append(Segments(directory, max_bytes, keep_days, retry_s=retry_s))
        if stream is not None:
            self._outputs.append(StreamOutput(stream, retry_s=retry_s))
        self._builder = RecordBuilder.create(redact_json_paths, replica=replica)
        self._render = structlog.processors.JSONRenderer(serializer=orjson.dumps)
        self._log_matches = log_matches
        self._clock = clock
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_size)
        self._closed = False
        self._dropped = 0
        self._failed = 0
        self._written = 0  # records every output took (writer thread)
        self._write_errors = 0  # records an output refused (writer thread)
        self._thread = threading.Thread(target=self._drain, name="diff-log-writer", daemon=True)
        self._thread.start()

    @property
    def stats(self) -> DiffLogStats:
        return DiffLogStats(self._written, self._dropped, self._failed, self._write_errors)

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
        for output in self._outputs:
            output.recover()
        while True:
            batch = [self._queue.get()]
            while len(batch) < _BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._deliver([item for item in batch if isinstance(item, tuple)])
            if any(item is _STOP for item in batch):
                for output in self._outputs:
                    output.close()
                return

    def _deliver(self, lines: Batch) -> None:
        """One batch to every output; a record counts as written when every output took it."""
        taken = [True] * len(lines)
        for output in self._outputs:
            try:
                took = output.write(lines)
            except Exception as exc:  # a bug here must not silently end the writer
                took = [False] * len(lines)
                log.error("diff_log_writer_failed", error_type=type(exc).__name__)
            taken = [both and it for both, it in zip(taken, took, strict=True)]
        written = sum(taken)
        self._written += written
        self._write_errors += len(lines) - written
