"""`shadowproxy diffs` over records of schema 4 with noise, in subprocesses: noise is counted in
its own column and listed apart with the rate measured, `show` and `tail` name it, `export`
has its column, the report its section, and `--fail-on-mismatch` never counts it."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import orjson
import pytest

from ..difflog.logs import STATUS, TASKS, changed, cid, lines, record, ts
from .commands import cli

RATE = "noise: legacy differs with itself on {}% of 64 reads (legacy vs app 29% of 200)"


def noisy(field: str, rate: int = 31) -> dict[str, Any]:
    return changed(field, "12:00:01", "12:00:02") | {"reason": RATE.format(rate)}


def noise(n: int, when: str, *entries: dict[str, Any], route: str = STATUS) -> dict[str, Any]:
    return record(n, when, "noise", route, schema=4, noise=list(entries))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """One mismatch with noise beside it, three noise records, a match."""
    records = [
        record(1, ts(13, 12, 0), "mismatch", schema=4, differences=[changed("decision")],
               noise=[noisy("updated_at")]),
        noise(2, ts(13, 12, 1), noisy("updated_at", 34)),
        noise(3, ts(13, 12, 2), noisy("tasks[A].progress", 12), route=TASKS),
        noise(4, ts(13, 12, 3), noisy("tasks[B].progress", 12), route=TASKS),
        record(5, ts(13, 12, 4), "match", schema=4),
    ]  # fmt: skip
    folder = tmp_path / "diff_logs"
    folder.mkdir()
    (folder / "diff-2026-04-13.jsonl").write_bytes(lines(records))
    return folder


async def test_summary_counts_noise_apart_and_lists_its_fields_with_their_rate(
    folder: Path,
) -> None:
    code, out, err = await cli("diffs", "--dir", str(folder), cwd=folder.parent)
    assert (code, err) == (0, "")  # every schema-4 record read, none skipped
    text = out.splitlines()
    assert text[0] == f"5 records in 1 files under {folder}"
    rows = {line.split()[0]: line.split()[1:] for line in text if line[:1] not in " ("}
    # records, match, mismatch, inflight_skew, accepted, noise, errors, skipped
    assert rows["analysis"] == ["5", "1", "1", "0", "0", "3", "0", "0"]
    assert rows[TASKS] == ["analysis", "2", "0", "0", "2", "0"]  # records mismatch accepted noise
    assert rows["decision"][:2] == [STATUS, "1"]  # the one differing field
    assert rows["updated_at"][:2] == [STATUS, "2"]  # a noisy one, with the latest rate
    assert " ".join(rows["updated_at"][-15:]) == RATE.format(34).removeprefix("noise: ")
    assert rows["tasks[].progress"][:2] == [TASKS, "2"]
    document = orjson.loads((await cli("diffs", "--dir", str(folder), "--json",
                                       cwd=folder.parent))[1])  # fmt: skip
    assert (document["mismatches"], document["counts"]["analysis"]["noise"]) == (1, 3)
    assert [f["field"] for f in document["noise_fields"]] == ["updated_at", "tasks[].progress"]


async def test_fail_on_mismatch_never_counts_noise(folder: Path) -> None:
    gate = ("diffs", "--dir", str(folder), "--fail-on-mismatch")
    code, _, err = await cli(*gate, cwd=folder.parent)
    assert (code, err) == (
        3,
        "shadowproxy: error: 1 mismatches not accepted in the selected records\n",
    )
    code, out, err = await cli(*gate, "--outcome", "noise", cwd=folder.parent)
    assert (code, err) == (0, "")  # three noise records: no mismatch
    assert out.startswith("3 records selected of 5")


async def test_show_and_tail_name_the_noise(folder: Path) -> None:
    code, out, err = await cli("diffs", "show", "02", "--dir", str(folder), cwd=folder.parent)
    assert code == 0, err
    text = out.splitlines()
    assert text[0] == f"comparison {cid(2)}: noise"
    at = text.index("noise: 1")
    assert text[at + 1].split() == ["field", "kind", "legacy", "app", "reason"]
    assert text[at + 2] == f'updated_at  changed  "12:00:01"  "12:00:02"  {RATE.format(34)}'
    assert "differences:" not in out
    code, out, _ = await cli("diffs", "tail", "-n", "4", "--dir", str(folder), cwd=folder.parent)
    assert code == 0
    assert [line.split()[3] for line in out.splitlines()] == ["noise", "noise", "noise", "match"]
    code, out, _ = await cli("diffs", "tail", "-n", "5", "--dir", str(folder), cwd=folder.parent)
    assert out.splitlines()[0].endswith("200/200  decision; noise updated_at")


async def test_export_has_the_noise_fields(folder: Path) -> None:
    code, out, err = await cli(
        "diffs", "export", "--format", "csv", "--dir", str(folder), cwd=folder.parent
    )
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["outcome"], r["fields"], r["noise"]) for r in rows] == [
        ("mismatch", "decision", "updated_at"),
        ("noise", "", "updated_at"),
        ("noise", "", "tasks[A].progress"),
        ("noise", "", "tasks[B].progress"),
        ("match", "", ""),
    ]


async def test_the_report_has_the_noise_section(folder: Path) -> None:
    page = folder.parent / "report.html"
    code, _, err = await cli(
        "diffs", "report", "--dir", str(folder), "--html", str(page), cwd=folder.parent
    )
    assert code == 0, err
    html = page.read_text(encoding="utf-8")
    assert '<section id="noise"><h2>Noisy fields</h2>' in html
    assert RATE.format(34).removeprefix("noise: ") in html
    assert "80.00%" in html  # parity: one mismatch in five compared records, noise among them
