"""`SHADOWPROXY_DIFF_LOG=stdout|both` under a real `shadowproxy run` in front of fake backends:
stdout carries the records and nothing else (the banner and the proxy's log go to stderr), each
line a record naming its replica; `both` writes the same records to the folder too; a stdout
whose reader is gone loses the records, counted as `failed` and logged once, while the proxy
serves on; and what was captured from stdout reads back with `shadowproxy diffs`."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from shadowproxy.difflog.read import Skips, problem, read_records
from shadowproxy.difflog.segments import segment_files

from ..factories import READY, FakeBackend, ProxyProcess
from ..ops.commands import cli

RECORDS = "shadowproxy_difflog_records_total"
QUIET = {"SHADOWPROXY_DRIFT": "off"}  # nothing but the diff log writes while it runs


@asynccontextmanager
async def proxy_writing_stdout(
    backends: tuple[FakeBackend, FakeBackend],
    workdir: Path,
    env: Mapping[str, str],
    *,
    stdout: int = asyncio.subprocess.PIPE,
) -> AsyncIterator[ProxyProcess]:
    """`shadowproxy run` on ports 0, its banner read from stderr (stdout is the records'), its
    stderr lines collected into `ProxyProcess.log`; SIGTERM on exit."""
    legacy, app = backends
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "shadowproxy", "run", "--legacy", legacy.url, "--app", app.url,
        "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--log-level", "warning",
        "--diff-log-dir", str(workdir / "diff_logs"), "--state-dir", str(workdir / "state"),
        env={**os.environ, **QUIET, **env}, stdout=stdout, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    log: list[bytes] = []
    banner: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def collect(stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            if not banner.done() and READY.search(line):
                banner.set_result(line)
            log.append(line.rstrip(b"\n"))
        if not banner.done():
            banner.set_exception(AssertionError(f"shadowproxy run did not start: {log}"))

    collecting = asyncio.ensure_future(collect(process.stderr))
    try:
        ready = READY.search(await asyncio.wait_for(banner, 30))
        assert ready is not None
        yield ProxyProcess(process, ready[1].decode(), ready[2].decode(), log)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 30)
        await collecting


async def get(session: aiohttp.ClientSession, proxy: ProxyProcess, path: str) -> None:
    """One request: its record is a mismatch (the fakes answer per side)."""
    async with session.get(proxy.url + path) as answer:
        assert answer.status == 200  # the client never notices where the records go
        await answer.read()


async def settled(proxy: ProxyProcess, records: int) -> tuple[float, float]:
    """(written, failed) once the writer has dealt with `records` records, one way or the other."""
    async with asyncio.timeout(10):
        while True:
            written = await proxy.metric(RECORDS, result="written")
            failed = await proxy.metric(RECORDS, result="failed")
            if written + failed >= records:
                return written, failed
            await asyncio.sleep(0.02)


def parsed(lines: list[bytes]) -> list[dict[str, Any]]:
    """stdout's lines, each of which must be a record the reader takes."""
    found = [orjson.loads(line) for line in lines]
    assert [problem(record) for record in found] == [None] * len(found), lines
    return found


async def test_stdout_carries_only_records_each_naming_its_replica(
    backends: tuple[FakeBackend, FakeBackend], tmp_path: Path
) -> None:
    env = {"SHADOWPROXY_DIFF_LOG": "stdout", "SHADOWPROXY_REPLICA": "replica-a"}
    paths = [f"/stdout/{n}" for n in range(3)]
    async with (
        proxy_writing_stdout(backends, tmp_path, env) as proxy,
        aiohttp.ClientSession() as session,
    ):
        assert proxy.process.stdout is not None
        for path in paths:
            await get(session, proxy, path)
        first = [await asyncio.wait_for(proxy.process.stdout.readline(), 10) for _ in paths]
        assert await settled(proxy, len(paths)) == (3, 0)
    rest = await proxy.process.stdout.read()  # after the drain at shutdown: nothing but records
    found = parsed([*first, *rest.splitlines()])
    assert [record["path"] for record in found] == paths
    assert {record["replica"] for record in found} == {"replica-a"}
    assert not (tmp_path / "diff_logs").exists()  # stdout only: no folder
    assert any(READY.search(line) for line in proxy.log)  # the banner went to stderr

    captured = tmp_path / "captured"  # `kubectl logs deploy/proxy > captured/replica-a.jsonl`
    captured.mkdir()
    logged = b"".join(line + b"\n" for line in proxy.log)  # stderr, captured along
    (captured / "replica-a.jsonl").write_bytes(b"".join(first) + logged + rest)
    code, out, err = await cli("diffs", "summary", "--dir", str(captured), "--json", cwd=tmp_path)
    assert code == 0, err
    summary = orjson.loads(out)
    assert (summary["files"], summary["records"], summary["mismatches"]) == (1, 3, 3)
    assert [row["replica"] for row in summary["replicas"]] == ["replica-a"]
    # the banner and the proxy's own log lines, captured with the records, are counted apart
    reasons = summary["skipped"]["reasons"]
    assert reasons["not JSON"] >= 1  # the banner
    assert set(reasons) <= {"not JSON", "not a shadow_comparison record"}


async def test_both_writes_the_same_records_to_the_folder_and_stdout(
    backends: tuple[FakeBackend, FakeBackend], tmp_path: Path
) -> None:
    paths = [f"/both/{n}" for n in range(3)]
    async with (
        proxy_writing_stdout(backends, tmp_path, {"SHADOWPROXY_DIFF_LOG": "both"}) as proxy,
        aiohttp.ClientSession() as session,
    ):
        for path in paths:
            await get(session, proxy, path)
        assert await settled(proxy, len(paths)) == (3, 0)  # records, not copies
    assert proxy.process.stdout is not None
    streamed = parsed((await proxy.process.stdout.read()).splitlines())
    skips = Skips()
    stored = list(read_records(segment_files(tmp_path / "diff_logs"), skips))
    assert not skips
    assert streamed == stored
    assert [record["path"] for record in stored] == paths
    # without SHADOWPROXY_REPLICA, the replica is the host's name
    assert {record["replica"] for record in stored} == {socket.gethostname()}


async def test_a_stdout_nobody_reads_loses_records_counted_and_logged_once(
    backends: tuple[FakeBackend, FakeBackend], tmp_path: Path
) -> None:
    read, write = os.pipe()
    try:
        env = {"SHADOWPROXY_DIFF_LOG": "stdout"}
        async with (
            proxy_writing_stdout(backends, tmp_path, env, stdout=write) as proxy,
            aiohttp.ClientSession() as session,
        ):
            os.close(write)  # the child has its own copy
            write = -1
            await get(session, proxy, "/read/1")
            assert await settled(proxy, 1) == (1, 0)
            assert [r["path"] for r in parsed(os.read(read, 1 << 16).splitlines())] == ["/read/1"]
            os.close(read)  # the log collector went away
            read = -1
            for n in range(5):
                await get(session, proxy, f"/lost/{n}")
            assert await settled(proxy, 6) == (1, 5)
            await get(session, proxy, "/still/serving")  # the writer lives on, counting
            assert await settled(proxy, 7) == (1, 6)
            assert await proxy.metric(RECORDS, result="dropped") == 0
            assert proxy.process.returncode is None
    finally:
        for fd in (read, write):
            if fd >= 0:
                os.close(fd)
    (failure,) = proxy.events("diff_log_write_failed")
    assert (failure["errno"], failure["output"], failure["level"]) == ("EPIPE", "stdout", "error")
    assert proxy.process.returncode in (0, -signal.SIGTERM)
