"""`shadowproxy diffs` over the diff logs of several replicas, in subprocesses: `--dir` repeated
or a glob, every folder read once and the records merged in time order, files captured from a
replica's stdout beside them, `--replica` on every subcommand, counts per replica in `summary`
and `report`, the replica in `show`, `tail` (and `--follow`) across the folders."""

from __future__ import annotations

import asyncio
import gzip
import os
import signal
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from ..difflog.logs import cid, lines, record
from .commands import cli

# n: (replica, second of 2026-04-13T12:00): a and b interleave, c was captured from stdout
WRITTEN = {1: "a", 2: "b", 3: "a", 4: "b", 5: "a", 6: "b"}
CAPTURED = {7: "c", 8: "c"}
LOG_LINE = b'{"event":"shadowproxy_listening","level":"info","ts":"2026-04-13T11:59:59.000Z"}\n'


def made(n: int, name: str) -> dict[str, Any]:
    outcome = "mismatch" if n % 2 else "match"
    when = f"2026-04-13T12:00:{n:02d}.000Z"
    return record(n, when, outcome, schema=3, replica=f"replica-{name}")


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    """logs/replica-a and logs/replica-b (a closed segment and the active one each), and
    captures/pod-c.jsonl: `kubectl logs` of a replica writing to stdout, its log line included."""
    for name in ("a", "b"):
        folder = tmp_path / "logs" / f"replica-{name}"
        folder.mkdir(parents=True)
        mine = [made(n, name) for n, who in WRITTEN.items() if who == name]
        (folder / "diff-2026-04-13.1.jsonl.gz").write_bytes(gzip.compress(lines(mine[:1])))
        (folder / "diff-2026-04-13.jsonl").write_bytes(lines(mine[1:]))
    captures = tmp_path / "captures"
    captures.mkdir()
    captured = [made(n, name) for n, name in CAPTURED.items()]
    (captures / "pod-c.jsonl").write_bytes(LOG_LINE + lines(captured) + b"shadowproxy listening\n")
    (tmp_path / "logs" / "replica-list.txt").write_text("a file the glob matches: not read\n")
    return tmp_path


async def numbers(*args: str, cwd: Path) -> list[int]:
    """`diffs export ARGS`: the records' numbers, in the order printed."""
    code, out, err = await cli("diffs", "export", *args, cwd=cwd)
    assert code == 0, err
    return [int(orjson.loads(line)["comparison_id"][:2]) for line in out.splitlines()]


async def document(*args: str, cwd: Path) -> Any:
    code, out, err = await cli("diffs", *args, "--json", cwd=cwd)
    assert code == 0, err
    return orjson.loads(out)


async def test_several_folders_are_read_once_merged_in_time_order(logs: Path) -> None:
    both = ("--dir", "logs/replica-a", "--dir", "logs/replica-b")
    assert await numbers(*both, cwd=logs) == [1, 2, 3, 4, 5, 6]
    assert await numbers("--dir", "logs/replica-*", cwd=logs) == [1, 2, 3, 4, 5, 6]
    again = ("--dir", "logs/replica-b", "--dir", "logs/*", "--dir", str(logs / "logs/replica-a"))
    assert await numbers(*again, cwd=logs) == [1, 2, 3, 4, 5, 6]  # each folder once
    everything = ("--dir", "logs/replica-?", "--dir", "captures")
    assert await numbers(*everything, cwd=logs) == [1, 2, 3, 4, 5, 6, 7, 8]
    summary = await document("summary", *both, cwd=logs)
    assert (summary["dir"], summary["dirs"]) == (
        "logs/replica-a, logs/replica-b",
        ["logs/replica-a", "logs/replica-b"],
    )
    assert (summary["files"], summary["records"]) == (4, 6)


async def test_a_captured_stdout_reads_with_its_log_lines_counted_apart(logs: Path) -> None:
    code, out, err = await cli("diffs", "--dir", "captures", cwd=logs)
    assert code == 0, err
    head, skipped, *_ = out.splitlines()
    assert head == "2 records in 1 files under captures"
    assert skipped == "2 lines skipped: 1 not a shadow_comparison record, 1 not JSON"


@pytest.mark.parametrize(
    ("dirs", "code", "said"),
    [
        pytest.param(["logs/nothing-*"], 2, "--dir logs/nothing-* matches no folder", id="glob"),
        pytest.param(["logs/*.txt"], 2, "--dir logs/*.txt matches no folder", id="files-only"),
        pytest.param(["logs/replica-a", "logs/gone"], 1, "diff-log folder logs/gone does not exist",
                     id="missing"),
        pytest.param(["logs/replica-list.txt"], 1,
                     "diff-log folder logs/replica-list.txt is not a folder", id="a-file"),
    ],
)  # fmt: skip
async def test_what_no_folder_is_says_so_in_one_line(
    logs: Path, dirs: list[str], code: int, said: str
) -> None:
    for subcommand in ("summary", "tail"):
        args = [arg for value in dirs for arg in ("--dir", value)]
        returncode, out, err = await cli("diffs", subcommand, *args, cwd=logs)
        assert (returncode, out) == (code, ""), subcommand
        assert err.startswith(f"shadowproxy: error: {said}")
        assert err.count("\n") == 1  # one line


async def test_replica_selects_on_every_subcommand(logs: Path) -> None:
    where = ("--dir", "logs/replica-*", "--dir", "captures")
    assert await numbers(*where, "--replica", "replica-b", cwd=logs) == [2, 4, 6]
    two = ("--replica", "replica-a", "--replica", "replica-c")
    assert await numbers(*where, *two, cwd=logs) == [1, 3, 5, 7, 8]
    assert await numbers(*where, "--replica", "nobody", cwd=logs) == []
    signatures = await document("signatures", *where, "--replica", "replica-c", cwd=logs)
    assert (signatures["records"], signatures["mismatches"]) == (2, 1)
    shown = await document("show", "0", *where, "--replica", "replica-c", "--outcome", "match",
                           cwd=logs)  # fmt: skip
    assert shown["comparison_id"] == cid(8)  # the only one: the others starting with 0 are not
    code, _, err = await cli("diffs", "show", cid(2), *where, "--replica", "replica-a", cwd=logs)
    assert code == 1
    assert f"no comparison {cid(2)} among the 3 records selected under logs/replica-a" in err


async def test_summary_counts_per_replica_when_there_are_several(logs: Path) -> None:
    where = ("--dir", "logs/replica-*", "--dir", "captures")
    code, out, err = await cli("diffs", "summary", *where, cwd=logs)
    assert code == 0, err
    text = out.splitlines()
    assert text[0] == "8 records in 5 files under logs/replica-a, logs/replica-b, captures"
    at = text.index("per replica:")
    # records match mismatch inflight_skew accepted noise errors skipped
    assert [line.split() for line in text[at + 2 : at + 5]] == [
        ["replica-a", "3", "0", "3", "0", "0", "0", "0", "0"],
        ["replica-b", "3", "3", "0", "0", "0", "0", "0", "0"],
        ["replica-c", "2", "1", "1", "0", "0", "0", "0", "0"],
    ]
    summary = await document("summary", *where, cwd=logs)
    assert [(r["replica"], r["records"], r["mismatch"]) for r in summary["replicas"]] == [
        ("replica-a", 3, 3),
        ("replica-b", 3, 0),
        ("replica-c", 2, 1),
    ]
    _, alone, _ = await cli("diffs", "summary", *where, "--replica", "replica-a", cwd=logs)
    assert "per replica:" not in alone  # one replica: nothing to tell apart


async def test_show_names_the_replica(logs: Path) -> None:
    code, out, err = await cli("diffs", "show", "04", "--dir", "logs/replica-*", cwd=logs)
    assert code == 0, err
    assert out.splitlines()[3].split() == ["replica", "replica-b"]  # after the header and `at`


async def test_report_has_a_row_per_replica(logs: Path) -> None:
    page = logs / "report.html"
    code, out, err = await cli(
        "diffs", "report", "--html", str(page), "--dir", "logs/replica-*", "--replica",
        "replica-a", "--replica", "replica-b", cwd=logs,
    )  # fmt: skip
    assert code == 0, err
    assert out.startswith(f"wrote {page}: 6 records")
    html = page.read_text(encoding="utf-8")
    assert "parity report: logs/replica-a, logs/replica-b" in html
    assert "replica replica-a, replica-b" in html  # the filters, in the header
    table = html.split('<table id="replica-table">', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == 3  # the header and a row per replica


async def test_tail_and_follow_across_the_folders(logs: Path) -> None:
    code, out, err = await cli("diffs", "tail", "-n", "3", "--dir", "logs/replica-*", cwd=logs)
    assert code == 0, err
    assert [line.split()[2] for line in out.splitlines()] == [cid(n)[:12] for n in (4, 5, 6)]
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "shadowproxy", "diffs", "tail", "--follow", "-n", "1", "--json",
        "--dir", "logs/replica-*", cwd=logs, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env={k: v for k, v in os.environ.items() if k != "COLUMNS"},
    )  # fmt: skip
    assert child.stdout is not None
    assert child.stderr is not None
    printed = child.stdout

    async def next_record() -> str:
        line = await asyncio.wait_for(printed.readline(), 30)
        return str(orjson.loads(line)["replica"])

    try:
        assert await next_record() == "replica-b"  # the last record: it follows from here on
        for name, n in (("b", 10), ("a", 11), ("b", 12)):
            active = logs / "logs" / f"replica-{name}" / "diff-2026-04-13.jsonl"
            with active.open("ab") as handle:
                handle.write(lines([made(n, name)]))
            assert await next_record() == f"replica-{name}"
    finally:
        child.send_signal(signal.SIGINT)
        returncode = await asyncio.wait_for(child.wait(), 30)
    assert returncode == 130
    assert "Traceback" not in (await child.stderr.read()).decode()
