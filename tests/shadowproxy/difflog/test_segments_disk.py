"""Disk trouble under a real `shadowproxy run`: the diff-log folder fills up, hits a file-size
limit or stops being a folder, while the proxy serves. The client never notices; every record is
either written whole or counted in `shadowproxy_difflog_records_total{result="failed"}`; the
proxy logs the errno once per episode and once when it ends; and once the disk takes records
again they are written, without a restart.

"Full" is a 64 KiB tmpfs mounted over the diff-log folder (skipped where mounting is not
allowed) and filled by a file next to the segments; the file-size limit is RLIMIT_FSIZE set on
the running proxy with prlimit (Python ignores SIGXFSZ, so the write fails with EFBIG instead of
killing the process); "not a folder" moves the folder away and puts a file in its place (a
read-only folder cannot be tested as root, whom permissions do not stop).
"""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import aiohttp
import pytest

from shadowproxy.difflog.read import Skips, read_records
from shadowproxy.difflog.segments import segment_files
from shadowproxy.difflog.sink import JsonlDiffSink
from shadowproxy.types import Comparison, Outcome, Side

from ..factories import FakeBackend, ProxyProcess, exchange, observation, proxy_process
from ..ws_fakes import until

RECORDS = "shadowproxy_difflog_records_total"
BEFORE, DURING, AFTER = 3, 5, 3
SETTLE_S = 10.0
TMPFS_BYTES = 64 * 1024


class Trouble(Protocol):
    """One kind of disk trouble over the proxy's diff-log folder."""

    errno: str  # what the proxy's log line must say
    every_record_refused: bool  # False: a full tmpfs still takes what fits in a page's tail

    def begin(self, proxy: ProxyProcess, folder: Path) -> None: ...
    def end(self, proxy: ProxyProcess, folder: Path) -> None: ...


class Full:
    errno = "ENOSPC"
    every_record_refused = False

    def begin(self, proxy: ProxyProcess, folder: Path) -> None:
        free = os.statvfs(folder)
        (folder / "filler").write_bytes(bytes(free.f_bavail * free.f_frsize))
        assert os.statvfs(folder).f_bavail == 0

    def end(self, proxy: ProxyProcess, folder: Path) -> None:
        (folder / "filler").unlink()


class FileSizeLimit:
    """The next record is cut short 100 bytes in (then EFBIG): the proxy must cut it back."""

    errno = "EFBIG"
    every_record_refused = True

    def begin(self, proxy: ProxyProcess, folder: Path) -> None:
        (segment,) = folder.glob("diff-*.jsonl")
        limit = segment.stat().st_size + 100
        resource.prlimit(proxy.process.pid, resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

    def end(self, proxy: ProxyProcess, folder: Path) -> None:
        unlimited = (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
        resource.prlimit(proxy.process.pid, resource.RLIMIT_FSIZE, unlimited)


class NotAFolder:
    errno = "EEXIST"  # the writer would make the folder again, but a file is in its way
    every_record_refused = True

    def begin(self, proxy: ProxyProcess, folder: Path) -> None:
        folder.rename(folder.with_name("moved"))
        folder.write_text("not a folder\n")

    def end(self, proxy: ProxyProcess, folder: Path) -> None:
        folder.unlink()
        folder.with_name("moved").rename(folder)


@dataclass(frozen=True)
class Case:
    trouble: Trouble
    stderr: Path | None  # the proxy's log goes to this file (on the troubled disk) or a pipe


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs on tmp_path/diff_logs, the proxy's diff-log folder (skips without root)."""
    folder = tmp_path / "diff_logs"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES}", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "--lazy", str(folder)], check=True)


@pytest.fixture(params=["full", "full-log-too", "file-size-limit", "not-a-folder"])
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Case:
    if request.param == "file-size-limit":
        return Case(FileSizeLimit(), None)
    if request.param == "not-a-folder":
        return Case(NotAFolder(), None)
    folder = request.getfixturevalue("tmpfs")
    # full-log-too: the proxy's own log is on the full disk (a log line it cannot write must not
    # end the diff-log writer); the lines still get out once space returns (stderr's buffer)
    return Case(Full(), folder / "proxy.log" if request.param == "full-log-too" else None)


async def send(
    session: aiohttp.ClientSession, proxy: ProxyProcess, sent: list[str], path: str
) -> tuple[float, float]:
    """One request (its record is a mismatch: the fakes answer per side), then (written, failed)
    once the writer has dealt with every record so far, one way or the other."""
    async with session.get(proxy.url + path) as answer:
        assert answer.status == 200, path  # the client never notices the diff log's disk
        await answer.read()
    sent.append(path)
    async with asyncio.timeout(SETTLE_S):
        while True:
            written = await proxy.metric(RECORDS, result="written")
            failed = await proxy.metric(RECORDS, result="failed")
            if written + failed >= len(sent):
                return written, failed
            await asyncio.sleep(0.02)


async def test_the_proxy_serves_counts_logs_once_and_recovers_without_restart(
    case: Case, tmp_path: Path, backends: tuple[FakeBackend, FakeBackend]
) -> None:
    folder = tmp_path / "diff_logs"
    trouble = case.trouble
    legacy, app = backends
    sent: list[str] = []
    env = {"SHADOWPROXY_DRIFT": "off"}  # nothing but the diff log writes while it runs
    async with (
        proxy_process(legacy.url, app.url, tmp_path, env, stderr=case.stderr) as proxy,
        aiohttp.ClientSession() as session,
    ):
        for n in range(BEFORE):
            assert await send(session, proxy, sent, f"/before/{n}") == (n + 1, 0)

        trouble.begin(proxy, folder)
        for n in range(DURING):  # well within the writer's 1 s pause after a refusal
            written, failed = await send(session, proxy, sent, f"/during/{n}")
        if trouble.every_record_refused:
            assert (written, failed) == (BEFORE, DURING)
        else:
            assert failed >= 1
        trouble.end(proxy, folder)

        async with asyncio.timeout(SETTLE_S):  # refused until the pause is over, then written
            while True:
                if (await send(session, proxy, sent, f"/probe/{len(sent)}"))[0] > written:
                    break
                await asyncio.sleep(0.1)
        for n in range(AFTER):
            written, failed = await send(session, proxy, sent, f"/after/{n}")
        assert await proxy.metric(RECORDS, result="dropped") == 0
        assert proxy.process.returncode is None

    skips = Skips()
    records = list(read_records(segment_files(folder), skips))
    assert not skips  # no torn or merged line: each record whole or not at all
    on_disk = [record["path"] for record in records]
    assert len(on_disk) == written == len(sent) - failed
    assert set(on_disk) <= set(sent)
    assert on_disk[:BEFORE] == sent[:BEFORE]
    assert on_disk[-AFTER - 1 :] == sent[-AFTER - 1 :]  # the first one through, then the rest
    if case.stderr is None:  # a log on the full disk itself loses what is logged while it is full
        (failure,) = proxy.events("diff_log_write_failed")
        assert (failure["errno"], failure["level"]) == (trouble.errno, "error")
        assert failure["directory"] == str(folder)
    (recovery,) = proxy.events("diff_log_write_recovered")
    assert (recovery["lost"], recovery["level"]) == (failed, "warning")


def comparison(n: int) -> Comparison:
    return Comparison(
        exchange(comparison_id=f"cmp-{n}", path=f"/r/{n}"),
        Outcome.MISMATCH,
        legacy=observation(Side.LEGACY),
        app=observation(Side.APP, 500),
    )


@pytest.mark.parametrize("removed", ["diff-2026-04-13.jsonl", "."], ids=["segment", "folder"])
async def test_what_is_removed_under_the_writer_is_made_again(tmp_path: Path, removed: str) -> None:
    """`rm -r diff_logs/*` (or the folder) to free space: the writer must not go on writing into
    the deleted file (records nobody can read, space never freed) but start it again."""
    folder = tmp_path / "diff_logs"
    sink = JsonlDiffSink(
        folder, log_matches=False, clock=lambda: datetime(2026, 4, 13, 12, tzinfo=UTC)
    )
    sink.publish(comparison(1))
    await until(lambda: sink.stats.written == 1)
    if removed == ".":
        shutil.rmtree(folder)
    else:
        (folder / removed).unlink()
    sink.publish(comparison(2))
    await sink.aclose()
    skips = Skips()
    records = list(read_records(segment_files(folder), skips))
    assert not skips
    assert [record["path"] for record in records] == ["/r/2"]
    assert (sink.stats.written, sink.stats.write_errors) == (2, 0)
