"""The sink's stream output on real pipes and files: every record one whole JSON line, a record
larger than the pipe or a full non-blocking pipe waited for by the writer thread, a stream that
refuses (its reader gone) counted, logged once per episode and resumed once it takes records
again, a record cut short on a regular file cut back; and with both outputs, the same lines in
the folder and on the stream, counted once."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from structlog.testing import capture_logs

from shadowproxy.difflog.read import problem
from shadowproxy.difflog.sink import JsonlDiffSink
from shadowproxy.types import Comparison, Difference, DiffKind

from ..ws_fakes import until
from .test_sink import FakeClock, make_comparison, read_lines


class Pipe:
    """A real pipe; whichever end a test has not closed (`close`) is closed after it."""

    def __init__(self) -> None:
        self.read, self.write = os.pipe()
        self.open = {self.read, self.write}

    def close(self, fd: int) -> None:
        os.close(fd)
        self.open.discard(fd)


@pytest.fixture
def pipe() -> Iterator[Pipe]:
    made = Pipe()
    yield made
    for fd in made.open:
        os.close(fd)


def drain(fd: int) -> bytes:
    """Everything the pipe holds until its write end is closed, read in small pieces."""
    data = b""
    while chunk := os.read(fd, 1000):
        data += chunk
    return data


def records(data: bytes) -> list[dict[str, Any]]:
    found = [orjson.loads(line) for line in data.splitlines()]
    assert [problem(record) for record in found] == [None] * len(found)
    return found


async def test_a_stream_only_sink_writes_one_record_a_line(pipe: Pipe) -> None:
    read, write = pipe.read, pipe.write
    sink = JsonlDiffSink(None, log_matches=False, replica="replica-a", stream=write)
    for n in range(3):
        sink.publish(make_comparison(n))
    await sink.aclose()
    pipe.close(write)
    found = records(drain(read))
    assert [r["comparison_id"] for r in found] == ["cmp-0", "cmp-1", "cmp-2"]
    assert {r["replica"] for r in found} == {"replica-a"}
    assert (sink.stats.written, sink.stats.write_errors, sink.stats.dropped) == (3, 0, 0)


async def test_both_outputs_get_the_same_lines_counted_once(tmp_path: Path, pipe: Pipe) -> None:
    read, write = pipe.read, pipe.write
    sink = JsonlDiffSink(tmp_path, log_matches=False, stream=write, clock=FakeClock())
    for n in range(3):
        sink.publish(make_comparison(n))
    await sink.aclose()
    pipe.close(write)
    assert drain(read).splitlines() == read_lines(tmp_path)
    assert len(read_lines(tmp_path)) == 3
    assert sink.stats.written == 3  # records, not copies


def test_a_sink_needs_somewhere_to_write() -> None:
    with pytest.raises(ValueError, match="a folder, a stream or both"):
        JsonlDiffSink(None, log_matches=False)


def huge(n: int) -> Comparison:
    """A comparison whose record is far larger than a pipe holds (64 KiB)."""
    values = tuple(
        Difference(f"f{i}", DiffKind.CHANGED, "L" * 2000, "A" * 2000) for i in range(100)
    )
    return make_comparison(n, differences=values)


async def test_a_record_larger_than_the_pipe_arrives_whole(pipe: Pipe) -> None:
    read, write = pipe.read, pipe.write
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(drain(read)))
    reader.start()
    sink = JsonlDiffSink(None, log_matches=False, stream=write)
    for comparison in (make_comparison(0), huge(1), make_comparison(2)):
        sink.publish(comparison)
    await sink.aclose()
    pipe.close(write)
    reader.join()
    assert len(received[0]) > 64 * 1024 * 3
    found = records(received[0])
    assert [r["comparison_id"] for r in found] == ["cmp-0", "cmp-1", "cmp-2"]
    assert len(found[1]["differences"]) == 100


async def test_a_full_non_blocking_stream_is_waited_for(pipe: Pipe) -> None:
    read, write = pipe.read, pipe.write
    fcntl.fcntl(write, fcntl.F_SETFL, fcntl.fcntl(write, fcntl.F_GETFL) | os.O_NONBLOCK)
    filler = 0
    try:
        while True:
            filler += os.write(write, b"\n" * 4096)  # blank lines: the pipe is full
    except BlockingIOError:
        pass
    sink = JsonlDiffSink(None, log_matches=False, stream=write)
    sink.publish(make_comparison(1))
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(drain(read)))
    reader.start()  # the writer thread's select() returns once the reader makes room
    await sink.aclose()
    pipe.close(write)
    reader.join()
    assert received[0][:filler] == b"\n" * filler
    (record,) = records(received[0][filler:])
    assert record["comparison_id"] == "cmp-1"
    assert (sink.stats.written, sink.stats.write_errors) == (1, 0)


async def test_a_stream_whose_reader_is_gone_loses_records_counted_until_it_takes_them(
    tmp_path: Path, pipe: Pipe
) -> None:
    """`both`: the folder keeps every record; the stream's refusals (EPIPE) are counted and
    logged once, and once the descriptor leads to a reader again records go out again."""
    read, write = pipe.read, pipe.write
    sink = JsonlDiffSink(tmp_path, log_matches=False, stream=write, retry_s=0, clock=FakeClock())
    sink.publish(make_comparison(1))
    await until(lambda: sink.stats.written == 1)
    assert [r["comparison_id"] for r in records(os.read(read, 1 << 16))] == ["cmp-1"]
    pipe.close(read)  # `| head` exited, the log collector died
    with capture_logs() as logs:
        for n in (2, 3, 4):
            sink.publish(make_comparison(n))
        await until(lambda: sink.stats.write_errors == 3)
        again, later = os.pipe()
        os.dup2(later, write)  # the same descriptor now leads to a reader
        os.close(later)
        sink.publish(make_comparison(5))
        await until(lambda: sink.stats.written == 2)
    await sink.aclose()
    pipe.close(write)
    assert [r["comparison_id"] for r in records(drain(again))] == ["cmp-5"]
    os.close(again)
    assert (sink.stats.written, sink.stats.write_errors, sink.stats.dropped) == (2, 3, 0)
    assert len(read_lines(tmp_path)) == 5  # the folder took every record
    events = [(e["event"], e.get("errno"), e.get("lost"), e.get("output")) for e in logs]
    assert events == [
        ("diff_log_write_failed", "EPIPE", None, "stdout"),
        ("diff_log_write_recovered", None, 3, "stdout"),
    ]


CUT_SHORT = """
import resource, sys
from shadowproxy.difflog.outputs import StreamOutput
from shadowproxy.ops.logging import configure_logging
configure_logging()  # as `shadowproxy run` does: its own log lines go to stderr
stream = StreamOutput(1, retry_s=0)
resource.setrlimit(resource.RLIMIT_FSIZE, (1000, resource.RLIM_INFINITY))
print(stream.write([("d", b"a" * 600), ("d", b"b" * 600), ("d", b"c" * 10)]), file=sys.stderr)
"""


def test_a_record_cut_short_on_a_regular_file_is_cut_back(tmp_path: Path) -> None:
    """stdout redirected to a file that hits a size limit 399 bytes into the second record
    (then EFBIG; Python ignores SIGXFSZ): the 399 bytes are taken back, the next record fits."""
    out = tmp_path / "stdout.jsonl"
    with out.open("wb") as handle:
        done = subprocess.run(
            [sys.executable, "-c", CUT_SHORT],
            stdout=handle,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    assert done.stderr.decode().splitlines()[-1] == "[True, False, True]"
    assert out.read_bytes() == b"a" * 600 + b"\n" + b"c" * 10 + b"\n"
