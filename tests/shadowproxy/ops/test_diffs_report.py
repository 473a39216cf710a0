"""`diffs report`: the subcommand `register` adds, its filters, and how it fails."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import orjson
import pytest

from shadowproxy.errors import RunError, UnreadableFile, UsageError
from shadowproxy.ops.diffs_report import register

from ..difflog.records import REPORT, record, write_folder


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="shadowproxy diffs")
    register(parser.add_subparsers())
    return parser.parse_args(argv)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Ten analysis records a minute apart from 12:00, five reports records from 12:10."""
    records = [record(n, at=60.0 * n) for n in range(10)]
    records += [
        record(10 + n, "mismatch", at=600.0 + n, group="reports", route=REPORT) for n in range(5)
    ]
    return write_folder(tmp_path / "diff_logs", records)


def report(folder: Path, out: Path, *options: str) -> str:
    args = parse("report", "--dir", str(folder), "--html", str(out), *options)
    assert args.func(args) == 0
    return out.read_text(encoding="utf-8")


def recorded(html: str) -> int:
    found = re.search(r'<p class="meta">([\d,]+) records', html)
    assert found is not None
    return int(found.group(1).replace(",", ""))


def test_register_adds_report_with_its_options(tmp_path: Path) -> None:
    args = parse("report", "--html", "out.html")
    assert (args.dir, args.html, args.since, args.until, args.group, args.route) == (
        None,  # diff_logs (ops/diffs_reading.py, `folders`)
        Path("out.html"),
        None,
        None,
        None,
        None,
    )
    with pytest.raises(SystemExit) as missing:
        parse("report")  # --html is required
    assert missing.value.code == 2
    with pytest.raises(SystemExit):
        parse("report", "--html", "x.html", "--group", "nope")


def test_the_page_is_written_and_reported(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    html = report(folder, tmp_path / "report.html")
    assert recorded(html) == 15
    assert "every record" in html
    said = capsys.readouterr()
    assert said.out.startswith(f"wrote {tmp_path / 'report.html'}: 15 records, ")
    assert said.err == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["diff_logs", "report.html"]


@pytest.mark.parametrize(
    ("options", "selected", "header"),
    [
        pytest.param(
            ("--since", "2026-04-13T12:05"), 10, "since 2026-04-13 12:05:00 UTC", id="since"
        ),
        pytest.param(
            ("--until", "2026-04-13T12:05Z"), 5, "until 2026-04-13 12:05:00 UTC", id="until"
        ),
        pytest.param(
            ("--since", "2026-04-13T12:02", "--until", "2026-04-13T14:04+02:00"),
            2,
            "since 2026-04-13 12:02:00 UTC; until 2026-04-13 12:04:00 UTC",
            id="both",
        ),
        pytest.param(("--group", "reports"), 5, "group reports", id="group"),
        pytest.param(
            ("--route", REPORT, "--since", "2026-04-13T12:10:02"),
            3,
            f"since 2026-04-13 12:10:02 UTC; route {REPORT}",
            id="route",
        ),
        pytest.param(("--since", "1h"), 0, "records since 20", id="an-age-before-now"),
    ],
)
def test_filters_select_the_records(
    folder: Path, tmp_path: Path, options: tuple[str, ...], selected: int, header: str
) -> None:
    html = report(folder, tmp_path / "report.html", *options)
    assert recorded(html) == selected
    assert header in html


def test_skipped_lines_are_named_on_the_page_and_on_stderr(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    active = next(folder.glob("*.jsonl"))
    active.write_bytes(active.read_bytes() + b"{not json\n" + orjson.dumps(record(99)) + b"\n")
    html = report(folder, tmp_path / "report.html")
    assert recorded(html) == 16
    assert "1 line skipped: 1 not JSON" in html
    assert "shadowproxy: warning: 1 line skipped: 1 not JSON" in capsys.readouterr().err


def test_a_bad_time_is_a_usage_error(folder: Path, tmp_path: Path) -> None:
    args = parse("report", "--dir", str(folder), "--html", str(tmp_path / "r.html"))
    args.until = "soon"
    with pytest.raises(UsageError, match="--until must be an age like 30m"):
        args.func(args)
    assert not (tmp_path / "r.html").exists()


def test_until_must_be_later_than_since(folder: Path, tmp_path: Path) -> None:
    out = str(tmp_path / "r.html")
    args = parse("report", "--dir", str(folder), "--html", out, "--since", "1h", "--until", "2h")
    with pytest.raises(UsageError, match="--until must be later than --since"):
        args.func(args)


def test_a_missing_folder_is_a_runtime_error(tmp_path: Path) -> None:
    args = parse("report", "--dir", str(tmp_path / "nowhere"), "--html", str(tmp_path / "r.html"))
    with pytest.raises(UnreadableFile, match="does not exist"):
        args.func(args)


def test_a_page_that_cannot_be_written_is_a_runtime_error(folder: Path, tmp_path: Path) -> None:
    args = parse("report", "--dir", str(folder), "--html", str(tmp_path / "no" / "r.html"))
    with pytest.raises(RunError, match="cannot write"):
        args.func(args)
