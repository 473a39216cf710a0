"""Where the diff-log writer thread puts records: a folder's segments, a stream (stdout), or both.

`Output` is what the sink's one writer thread drives: `recover()` once before the first record,
`write(batch)` for each batch of (UTC day, rendered record) returning, per record, whether it was
taken, and `close()` at the end. `segments.Segments` is the folder; `StreamOutput` writes each
record as one JSON line on a file descriptor: the process's stdout, for a cluster's log pipeline
(Loki, Elasticsearch, ...) to collect (`SHADOWPROXY_DIFF_LOG=stdout|both`).

Every output keeps the same promises: a record is written whole or not at all; a record the
output refuses is lost and counted (by the sink, in `write_errors`), never fatal to the writer;
after a refusal the output is left alone for `retry_s` seconds (records meanwhile are refused
too); and `Refusals` logs one `diff_log_write_failed` error per episode (and per change of errno)
and one `diff_log_write_recovered` warning with the records `lost` once the output takes records
again, each naming the `output` (`file` or `stdout`).
"""

from __future__ import annotations

import errno
import os
import select
import time
from collections.abc import Sequence
from contextlib import suppress
from typing import Final, Protocol

import structlog

log = structlog.get_logger(__name__)

DEFAULT_RETRY_S: Final = 1.0
Batch = Sequence[tuple[str, bytes]]  # (the record's UTC day, the record rendered, no newline)


class Output(Protocol):
    """One destination of the records. Used by the writer thread only."""

    def recover(self) -> None:
        """Before the first record: finish what a previous run left undone."""

    def write(self, lines: Batch) -> list[bool]:
        """Append a batch; per record, whether it was written (whole). Never raises OSError."""

    def close(self) -> None: ...


class Refusals:
    """One output's trouble: the pause after a refusal, and the log lines of an episode."""

    def __init__(self, retry_s: float, **where: str) -> None:
        self.retry_s = retry_s
        self.where = where  # what the log lines say the output is: `output`, `directory`
        self.lost = 0  # records refused since the episode began
        self.trouble: str | None = None  # the errno of the episode under way
        self._retry_at = 0.0  # after a refusal, no new attempt before this (monotonic seconds)

    def paused(self) -> bool:
        """Whether a refusal was so recent that the output is not to be tried yet."""
        return time.monotonic() < self._retry_at

    def refused(self, exc: OSError | None = None) -> None:
        """One record lost (`exc`: by this error; None: while paused). The first refusal of an
        episode, and a new errno, are logged; a refusal by an error starts a pause."""
        self.lost += 1
        if exc is None:
            return
        self._retry_at = time.monotonic() + self.retry_s
        name = errno_name(exc)
        if name != self.trouble:
            self.trouble = name
            named = {"path": str(exc.filename)} if exc.filename else {}
            log.error(
                "diff_log_write_failed",
                errno=name,
                error=exc.strerror or str(exc),
                **named,
                **self.where,
                retry_s=self.retry_s,
            )

    def taken(self) -> None:
        """A record was written: an episode under way is over."""
        if self.trouble is not None:
            log.warning("diff_log_write_recovered", lost=self.lost, **self.where)
            self.trouble = None
        self.lost = 0


class StreamOutput:
    """Each record as one JSON line on a file descriptor it does not own (stdout), unbuffered:
    one `write` of the line and its newline, more only when the descriptor takes less at once
    (a pipe over its capacity, a signal), so a record is never interleaved or left torn by us.

    A descriptor that refuses (the reader of the pipe gone: EPIPE; a full disk under a
    redirected stdout: ENOSPC) loses records, counted; a record cut short on a regular file is cut
    back. A non-blocking descriptor that is full is waited for, as a blocking one would be: the
    writer thread may wait, the event loop never does (the sink's queue fills and drops instead).
    """

    def __init__(self, fd: int, *, retry_s: float = DEFAULT_RETRY_S, name: str = "stdout") -> None:
        self.fd = fd
        self.refusals = Refusals(retry_s, output=name)

    def recover(self) -> None:
        """Nothing a previous run can have left: the stream is the process's own."""

    def write(self, lines: Batch) -> list[bool]:
        taken = []
        for _, line in lines:
            if self.refusals.paused():
                self.refusals.refused()
                taken.append(False)
                continue
            try:
                self._put(line + b"\n")
            except OSError as exc:
                self.refusals.refused(exc)
                taken.append(False)
            else:
                self.refusals.taken()
                taken.append(True)
        return taken

    def close(self) -> None:
        """The descriptor outlives the sink (stdout is the process's): it is left open."""

    def _put(self, record: bytes) -> None:
        view, done = memoryview(record), 0
        while done < len(record):
            try:
                done += os.write(self.fd, view[done:])
            except BlockingIOError:
                select.select([], [self.fd], [])
            except OSError:
                if done:  # a regular file's torn line is cut back; a pipe's reader is gone
                    with suppress(OSError):  # ESPIPE: no file, nothing to cut
                        start = os.lseek(self.fd, 0, os.SEEK_CUR) - done
                        os.ftruncate(self.fd, start)
                        os.lseek(self.fd, start, os.SEEK_SET)  # `>` is no O_APPEND: no hole
                raise


def errno_name(exc: OSError) -> str:
    return errno.errorcode.get(exc.errno, str(exc.errno)) if exc.errno is not None else "unknown"
