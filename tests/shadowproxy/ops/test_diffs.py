"""`shadowproxy diffs` and its subcommands in subprocesses, over the sample folder
(tests/shadowproxy/difflog/logs.py lists its 15 records and 5 bad lines): exact counts for every
subcommand and filter, `--json` as one document (tail and export: one record a line), exit codes
0/1/2/3, tables that fit `COLUMNS`, no escapes when piped, and `tail --follow` across rotation
until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import gzip
import io
import os
import pty
import re
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from shadowproxy.difflog.export import CSV_COLUMNS
from shadowproxy.difflog.record import format_ts
from shadowproxy.difflog.table import cell_width

from ..difflog.logs import (
    NEWER_SCHEMA,
    REPORT,
    STATUS,
    TASKS,
    cid,
    lines,
    record,
    records,
    sample,
    ts,
)
from .commands import cli

SKIPPED = f"5 lines skipped: 1 not JSON, 1 {NEWER_SCHEMA}, 1 unknown field"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return sample(tmp_path / "diff_logs")


async def json_of(*args: str, cwd: Path) -> Any:
    code, out, err = await cli("diffs", *args, "--json", cwd=cwd)
    assert code == 0, err
    return orjson.loads(out)


# ---------------------------------------------------------------- each subcommand


async def test_summary(folder: Path) -> None:
    code, out, err = await cli("diffs", "summary", "--dir", str(folder), cwd=folder.parent)
    assert (code, err) == (0, "")
    head, skipped, *_ = out.splitlines()
    assert head == f"15 records in 4 files under {folder}"
    assert skipped.startswith(SKIPPED)
    rows = {row.split()[0]: row.split()[1:] for row in out.splitlines() if row[:1] not in " ("}
    # records, match, mismatch, inflight_skew, accepted, noise, errors, skipped, consumer breaks
    assert rows["analysis"] == ["11", "1", "7", "0", "1", "0", "1", "1", "legacy-dashboard", "1"]
    assert rows["ws_analysis"] == ["1", "0", "1", "0", "0", "0", "0", "0", "v1alpha1-dashboard",
                                   "1"]  # fmt: skip
    # group, records, mismatch, accepted, noise, errors, skipped by reason, consumer breaks
    assert rows[STATUS] == ["analysis", "7", "3", "1", "0", "1", "queue_full", "1",
                            "legacy-dashboard", "1"]  # fmt: skip
    assert rows["tasks[].stage"][:2] == [TASKS, "4"]
    document = await json_of("summary", "--dir", str(folder), cwd=folder.parent)
    assert (document["files"], document["read"], document["records"]) == (4, 15, 15)
    assert document["skipped"]["lines"] == 5
    assert document["counts"]["reports"]["skipped_by_reason"] == {"uncorrelated": 1}
    assert [f["field"] for f in document["fields"]] == [
        "tasks[].stage",
        "decision",
        "stages.research",
    ]


async def test_bare_diffs_is_summary_with_todays_options(folder: Path) -> None:
    options = ("--dir", str(folder), "--outcome", "mismatch", "--top", "1")
    bare = await cli("diffs", *options, cwd=folder.parent)
    summary = await cli("diffs", "summary", *options, cwd=folder.parent)
    assert bare == summary
    assert bare[1].startswith(f"9 records selected of 15 in 4 files under {folder}")
    assert (await cli("diffs", cwd=folder.parent))[1].startswith("15 records in 4 files")


async def test_signatures(folder: Path) -> None:
    document = await json_of("signatures", "--dir", str(folder), cwd=folder.parent)
    assert (document["records"], document["mismatches"], document["distinct"]) == (15, 9, 4)
    rows = [(s["route"], s["count"], s["still_occurring"]) for s in document["signatures"]]
    assert rows == [(TASKS, 4, True), (STATUS, 3, True), (REPORT, 1, False), (rows[3][0], 1, False)]
    assert document["signatures"][0]["exemplars"] == [cid(5), cid(13)]
    recent = await json_of("signatures", "--dir", str(folder), "--recent", "20", cwd=folder.parent)
    assert [s["still_occurring"] for s in recent["signatures"]] == [True] * 4
    code, out, _ = await cli("diffs", "signatures", "--dir", str(folder), cwd=folder.parent)
    assert code == 0
    assert "4 signatures over 9 mismatches; now: seen in the 10 minutes up to 04-13 12:22:00" in out
    assert f"{cid(5)[:12]} {cid(13)[:12]}" in out


async def test_show_by_id_or_unique_prefix(folder: Path) -> None:
    code, out, err = await cli("diffs", "show", "15", "--dir", str(folder), cwd=folder.parent)
    assert code == 0, err
    assert out.splitlines()[0] == f"comparison {cid(15)}: mismatch"
    assert 'decision  changed  "BUY"   "HOLD"' in out
    assert err.startswith(f"shadowproxy: warning: {SKIPPED}")
    shown = await json_of("show", cid(12), "--dir", str(folder), cwd=folder.parent)
    assert shown == records()[11]  # the record as written


@pytest.mark.parametrize(
    ("wanted", "code", "said"),
    [
        pytest.param("1", 2, "1 starts more than one comparison id", id="ambiguous"),
        pytest.param("99", 1, "no comparison 99 among the 15 records selected", id="unknown"),
        pytest.param(" ", 2, "give a comparison id", id="empty"),
    ],
)
async def test_show_refuses(folder: Path, wanted: str, code: int, said: str) -> None:
    returncode, out, err = await cli(
        "diffs", "show", wanted, "--dir", str(folder), cwd=folder.parent
    )
    assert (returncode, out) == (code, "")
    assert f"shadowproxy: error: {said}" in err
    assert "Traceback" not in err


async def test_show_with_a_filter_narrows_the_prefix(folder: Path) -> None:
    code, out, err = await cli(
        "diffs", "show", "1", "--route", REPORT, "--outcome", "skipped", "--dir", str(folder),
        cwd=folder.parent,
    )  # fmt: skip
    assert code == 0, err
    assert out.startswith(f"comparison {cid(11)}: skipped (uncorrelated)")


async def test_tail(folder: Path) -> None:
    code, out, err = await cli("diffs", "tail", "-n", "3", "--dir", str(folder), cwd=folder.parent)
    assert code == 0, err
    assert [line.split()[2] for line in out.splitlines()] == [cid(n)[:12] for n in (13, 14, 15)]
    assert out.splitlines()[-1].split()[3:] == ["mismatch", "analysis", "GET", STATUS, "200/200",
                                                 "decision"]  # fmt: skip
    assert SKIPPED in err  # the torn line of the active segment, and the others read
    code, out, _ = await cli("diffs", "tail", "--dir", str(folder), "--outcome", "skipped",
                             "--json", cwd=folder.parent)  # fmt: skip
    assert [orjson.loads(line)["comparison_id"] for line in out.splitlines()] == [cid(3), cid(11)]


async def test_export(folder: Path) -> None:
    code, out, err = await cli("diffs", "export", "--dir", str(folder), cwd=folder.parent)
    assert code == 0, err
    assert [orjson.loads(line)["comparison_id"] for line in out.splitlines()] == [
        cid(n) for n in range(1, 16)
    ]
    code, out, _ = await cli("diffs", "export", "--format", "csv", "--group", "reports",
                             "--dir", str(folder), cwd=folder.parent)  # fmt: skip
    header, *rows = list(csv.reader(io.StringIO(out)))
    assert tuple(header) == CSV_COLUMNS
    assert [(row[1], row[9], row[12]) for row in rows] == [
        (cid(10), "mismatch", "500"),
        (cid(11), "skipped", "200"),
    ]
    same = await cli("diffs", "export", "--json", "--group", "reports", "--dir", str(folder),
                     cwd=folder.parent)  # fmt: skip
    assert [orjson.loads(line)["comparison_id"] for line in same[1].splitlines()] == [
        cid(10), cid(11),
    ]  # fmt: skip


# ---------------------------------------------------------------- the filters, on every command

FILTERS = [
    pytest.param([], 15, id="none"),
    pytest.param(["--outcome", "MISMATCH"], 9, id="outcome"),
    pytest.param(["--group", "reports"], 2, id="group"),
    pytest.param(["--route", TASKS], 4, id="route"),
    pytest.param(["--field", "decision"], 3, id="field"),
    pytest.param(["--field", "tasks[].stage"], 4, id="field-family"),
    pytest.param(["--consumer", "legacy-dashboard"], 1, id="consumer"),
    pytest.param(["--since", "2026-04-13"], 11, id="since"),
    pytest.param(["--until", "2026-04-13T00:00Z"], 4, id="until"),
    pytest.param(["--since", "2026-04-13T12:05", "--until", "2026-04-13T12:21"], 5, id="window"),
    pytest.param(["--outcome", "mismatch", "--since", "2026-04-13", "--route", TASKS], 4,
                 id="combined"),
]  # fmt: skip


@pytest.mark.parametrize(("filters", "expected"), FILTERS)
async def test_filters(folder: Path, filters: list[str], expected: int) -> None:
    summary = await json_of("summary", "--dir", str(folder), *filters, cwd=folder.parent)
    assert summary["records"] == expected


async def test_every_subcommand_takes_the_filters(folder: Path) -> None:
    where = ("--dir", str(folder), "--since", "2026-04-13", "--field", "tasks[].stage")
    signatures = await json_of("signatures", *where, cwd=folder.parent)
    assert (signatures["records"], signatures["distinct"]) == (4, 1)
    _, exported, _ = await cli("diffs", "export", *where, cwd=folder.parent)
    _, tailed, _ = await cli("diffs", "tail", "-n", "100", *where, "--json", cwd=folder.parent)
    assert exported == tailed
    assert [orjson.loads(line)["comparison_id"] for line in tailed.splitlines()] == [
        cid(5), cid(6), cid(9), cid(13),
    ]  # fmt: skip
    until = ("--until", "2026-04-13T12:00:05")  # only record 5 starts with 0 there
    shown = await json_of("show", "0", *where, *until, cwd=folder.parent)
    assert shown["comparison_id"] == cid(5)


async def test_ages_count_back_from_now(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    records = [
        record(n, format_ts(now - age), "mismatch")
        for n, age in enumerate([timedelta(days=3), timedelta(hours=2), timedelta(minutes=10)], 1)
    ]
    (tmp_path / f"diff-{now.date().isoformat()}.jsonl").write_bytes(lines(records))
    where = ("--dir", str(tmp_path))
    for since, expected in (("1h", 1), ("3h", 2), ("30m", 1), ("4d", 3), ("5m", 0)):
        assert (await json_of("summary", *where, "--since", since, cwd=tmp_path))["records"] == (
            expected
        ), since
    assert (await json_of("summary", *where, "--until", "1h", cwd=tmp_path))["records"] == 2


# ---------------------------------------------------------------- exit codes


@pytest.mark.parametrize(
    ("args", "code", "said"),
    [
        pytest.param(["summary", "--dir", "nowhere"], 1, "diff-log folder nowhere does not exist",
                     id="missing-folder"),
        pytest.param(["tail", "--dir", "nowhere"], 1, "nowhere", id="missing-folder-tail"),
        pytest.param(["summary", "--dir", "file.txt"], 1, "file.txt", id="a-file"),
        pytest.param(["summary", "--since", "yesterday"], 2, "--since", id="since"),
        pytest.param(["signatures", "--until", "soon"], 2, "--until", id="until"),
        pytest.param(["summary", "--since", "1h", "--until", "2h"], 2,
                     "--until must be later than --since", id="window"),
        pytest.param(["summary", "--group", "nosuch"], 2, "--group", id="group"),
        pytest.param(["export", "--outcome", "bad"], 2, "--outcome", id="outcome"),
        pytest.param(["export", "--json", "--format", "csv"], 2, "--json is --format jsonl",
                     id="export-json-csv"),
        pytest.param(["signatures", "--recent", "0"], 2, "--recent", id="recent"),
        pytest.param(["tail", "-n", "-1"], 2, "--lines", id="lines"),
        pytest.param(["--dir", "diff_logs", "signatures"], 2, "unrecognized arguments",
                     id="options-before-the-subcommand"),
        pytest.param(["nosuch"], 2, "invalid choice", id="subcommand"),
    ],
)  # fmt: skip
async def test_errors_are_one_line_and_an_exit_code(
    folder: Path, args: list[str], code: int, said: str
) -> None:
    (folder.parent / "file.txt").write_text("x")
    returncode, out, err = await cli("diffs", *args, cwd=folder.parent)
    assert (returncode, out) == (code, "")
    assert said in err
    assert "Traceback" not in err


async def test_an_empty_folder_is_no_error(tmp_path: Path) -> None:
    code, out, err = await cli("diffs", "--dir", str(tmp_path), cwd=tmp_path)
    assert (code, out, err) == (0, f"0 records in 0 files under {tmp_path}\n", "")
    document = await json_of("signatures", "--dir", str(tmp_path), cwd=tmp_path)
    assert (document["records"], document["signatures"], document["newest"]) == (0, [], None)
    assert await cli("diffs", "tail", "--dir", str(tmp_path), cwd=tmp_path) == (0, "", "")


async def test_fail_on_mismatch_is_a_gate(folder: Path) -> None:
    where = ("--dir", str(folder), "--fail-on-mismatch")
    code, out, err = await cli("diffs", *where, cwd=folder.parent)
    assert code == 3
    assert out.startswith("15 records in 4 files")  # the summary, then the verdict
    assert err == "shadowproxy: error: 9 mismatches not accepted in the selected records\n"
    code, out, _ = await cli("diffs", *where, "--json", "--outcome", "accepted", cwd=folder.parent)
    assert (code, orjson.loads(out)["mismatches"]) == (0, 0)


# ---------------------------------------------------------------- terminals and pipes


@pytest.mark.parametrize("subcommand", [["summary"], ["signatures"], ["show", "12"], ["tail"]])
async def test_text_fits_columns_and_has_no_colour_when_piped(
    folder: Path, subcommand: list[str]
) -> None:
    code, out, _ = await cli("diffs", *subcommand, "--dir", str(folder), cwd=folder.parent,
                             COLUMNS="60")  # fmt: skip
    assert code == 0
    assert all(cell_width(line) <= 60 for line in out.splitlines()), out
    assert "\x1b" not in out
    _, whole, _ = await cli("diffs", *subcommand, "--dir", str(folder), cwd=folder.parent)
    assert "…" not in whole or subcommand == ["tail"]  # piped without COLUMNS: nothing cut


def test_a_terminal_gets_colour_and_its_width(folder: Path) -> None:
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "shadowproxy", "diffs", "tail", "-n", "2", "--dir", str(folder)],
            stdout=follower,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "COLUMNS": "70"},
            timeout=60,
            check=False,
        )
    finally:
        os.close(follower)
    screen = b""
    with contextlib.suppress(OSError):  # EIO: the terminal's other end is closed
        while chunk := os.read(leader, 4096):
            screen += chunk
    os.close(leader)
    assert done.returncode == 0
    shown = screen.decode()
    assert "\x1b[31mmismatch\x1b[0m" in shown
    assert "\x1b[32mmatch\x1b[0m" in shown
    plain = re.sub(r"\x1b\[\d+m", "", shown)
    assert all(len(row) <= 70 for row in plain.splitlines())


async def test_tail_follow_prints_new_records_across_rotation_until_ctrl_c(folder: Path) -> None:
    active = folder / "diff-2026-04-13.jsonl"
    active.write_bytes(lines([record(20, ts(13, 13, 0), "match")]))
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "shadowproxy", "diffs", "tail", "--follow", "-n", "1", "--dir",
        str(folder), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if k != "COLUMNS"},
    )  # fmt: skip
    assert child.stdout is not None
    assert child.stderr is not None
    printed = child.stdout

    async def next_id() -> str:
        line = (await asyncio.wait_for(printed.readline(), 30)).decode()
        return line.split()[2]

    try:
        assert await next_id() == cid(20)[:12]
        with active.open("ab") as handle:
            handle.write(lines([record(21, ts(13, 13, 1), "mismatch")])[:50])  # half a line
        await asyncio.sleep(1.2)
        with active.open("ab") as handle:
            handle.write(lines([record(21, ts(13, 13, 1), "mismatch")])[50:])
        assert await next_id() == cid(21)[:12]
        # the writer closes the segment (by size or day), compresses it, starts the next one
        with active.open("ab") as handle:
            handle.write(lines([record(22, ts(13, 13, 2), "mismatch")]))
        closed = folder / "diff-2026-04-13.3.jsonl"
        active.rename(closed)
        (folder / "diff-2026-04-13.3.jsonl.gz").write_bytes(gzip.compress(closed.read_bytes()))
        closed.unlink()
        (folder / "diff-2026-04-14.jsonl").write_bytes(lines([record(23, ts(14, 0, 0), "match")]))
        assert [await next_id(), await next_id()] == [cid(22)[:12], cid(23)[:12]]
    finally:
        child.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(child.wait(), 30)
    err = (await child.stderr.read()).decode()
    assert code == 130  # interrupted, README's "Exit codes"
    assert "Traceback" not in err


async def test_help_lists_the_subcommands(tmp_path: Path) -> None:
    code, out, _ = await cli("diffs", "--help", cwd=tmp_path, COLUMNS="200")
    assert code == 0
    for name in ("summary", "signatures", "show", "tail", "export"):
        assert name in out
    assert "Without a subcommand, `diffs [OPTIONS]` is `diffs summary [OPTIONS]`" in out
