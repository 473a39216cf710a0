"""The `shadowproxy` command in subprocesses: user errors, and `diffs` on a fixture folder."""

import gzip
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest


def shadowproxy(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shadowproxy", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=60,
        check=False,
    )


RUN = ["run", "--legacy", "http://127.0.0.1:1", "--app", "http://127.0.0.1:2"]
RUN += ["--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"]


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        pytest.param(RUN, {"SHADOWPROXY_SAMPLE_RATE": "2"}, "SHADOWPROXY_SAMPLE_RATE", id="rate"),
        pytest.param(
            RUN, {"TA_AUTHORITATIVE_ANALYSIS": "new"}, "TA_AUTHORITATIVE_ANALYSIS", id="flag"
        ),
        pytest.param(
            RUN, {"SHADOWPROXY_SHADOW_TIMEOUT_S": "soon"}, "SHADOWPROXY_SHADOW_TIMEOUT_S", id="num"
        ),
        pytest.param(
            ["run", "--legacy", "ftp://h", "--app", "http://127.0.0.1:2"], {}, "legacy", id="url"
        ),
        pytest.param(["diffs", "--since", "yesterday"], {}, "--since", id="since"),
        pytest.param(["diffs", "--outcome", "bad"], {}, "--outcome", id="outcome"),
        pytest.param(["demo", "--tickers", "9"], {}, "--tickers", id="tickers"),
        pytest.param(["demo", "--timeout", "-1"], {}, "--timeout", id="timeout"),
        pytest.param(["up", "--legacy-port", "70000"], {}, "--legacy-port", id="port"),
        pytest.param([*RUN, "--diff-log-keep-days", "0"], {}, "--diff-log-keep-days", id="keep"),
    ],
)
def test_user_errors_exit_2_with_one_clear_line(
    tmp_path: Path, args: list[str], env: dict[str, str], named: str
) -> None:
    result = shadowproxy(*args, env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert named in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        pytest.param([*RUN, "--config", "missing.toml"], {}, "missing.toml", id="config-file"),
        pytest.param(
            RUN, {"SHADOWPROXY_ADMIN_TOKEN_FILE": "gone"}, "SHADOWPROXY_ADMIN_TOKEN_FILE", id="tok"
        ),
        pytest.param(["diffs", "--dir", "nowhere"], {}, "nowhere", id="no-folder"),
        pytest.param(["flags", "--token-file", "gone"], {}, "token file gone", id="token-file"),
    ],
)
def test_a_file_that_cannot_be_read_exits_1(
    tmp_path: Path, args: list[str], env: dict[str, str], named: str
) -> None:
    result = shadowproxy(*args, env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("shadowproxy: error: ")
    assert named in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_bad_config_content_names_the_file(tmp_path: Path) -> None:
    config = tmp_path / "diff.toml"
    config.write_text("[diff]\nmax_differences = 'many'\n")
    result = shadowproxy(*RUN, "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert "diff.toml" in result.stderr
    assert "max_differences" in result.stderr


def record(n: int, outcome: str, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "ts": f"2026-04-13T12:00:{n:02d}.000Z",
        "event": "shadow_comparison",
        "comparison_id": f"cmp-{n}",
        "request_id": f"req-{n}",
        "kind": "http",
        "route_group": "analysis",
        "route": "/api/analysis/status/{task_id}",
        "outcome": outcome,
        "legacy": {"status": 200, "latency_ms": 1.0, "error": None},
        "app": {"status": 200, "latency_ms": 2.0, "error": None},
        "differences": [],
    }
    return base | extra


def diff(*fields: str) -> list[dict[str, Any]]:
    return [{"field": f, "kind": "changed", "legacy": 1, "app": 2} for f in fields]


@pytest.fixture
def diff_folder(tmp_path: Path) -> Path:
    """Two rotated .gz segments, an active one, a corrupt line and a stranger file."""
    folder = tmp_path / "diff_logs"
    folder.mkdir()
    decision = diff("result.decision", "signals[AAPL].rating")
    first = [record(n, "mismatch", differences=decision) for n in range(1, 4)]
    first.append(record(4, "mismatch", differences=diff("result.decision", "signals[MSFT].rating")))
    second = [
        record(5, "mismatch", route_group="reports", route="/api/reports/export",
               differences=diff("rows[0].summary")),
        record(6, "shadow_error", app={"status": None, "latency_ms": 0, "error": "timeout"}),
        record(7, "accepted"),
    ]  # fmt: skip
    active = [
        record(8, "mismatch", app={"status": 500, "latency_ms": 1, "error": None}),
        record(9, "match", route_group="portfolio", route="/api/portfolio/watchlist"),
    ]

    def lines(records: list[dict[str, Any]]) -> bytes:
        return b"".join(orjson.dumps(r) + b"\n" for r in records)

    (folder / "diff-2026-04-13.1.jsonl.gz").write_bytes(gzip.compress(lines(first)))
    (folder / "diff-2026-04-13.2.jsonl.gz").write_bytes(gzip.compress(lines(second)))
    (folder / "diff-2026-04-13.jsonl").write_bytes(lines(active) + b"{not json\n")
    (folder / "notes.txt").write_text("not a diff log")
    return folder


def test_diffs_summarises_rotated_and_active_segments(diff_folder: Path) -> None:
    """Bare `diffs` is `diffs summary` (tests/shadowproxy/ops/test_diffs.py has the rest)."""
    result = shadowproxy("diffs", "--dir", str(diff_folder))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "9 records in 3 files" in out
    assert "1 line skipped: 1 not JSON" in out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line[:1].isalpha()}
    # columns: records match mismatch inflight_skew accepted noise errors skipped
    assert rows["analysis"] == ["7", "0", "5", "0", "1", "0", "1", "0"]
    assert rows["reports"] == ["1", "0", "1", "0", "0", "0", "0", "0"]
    assert rows["portfolio"] == ["1", "1", "0", "0", "0", "0", "0", "0"]
    # the top differing fields, indexes folded as in the metrics, with the first example
    decision = rows["result.decision"]
    assert (decision[:2], decision[-1]) == (["/api/analysis/status/{task_id}", "4"], "cmp-1")
    assert decision[2:6] == ["04-13", "12:00:01", "04-13", "12:00:04"]  # first and last seen
    assert rows["signals[].rating"][1] == "4"


@pytest.mark.parametrize(
    ("filters", "records", "mismatches"),
    [
        pytest.param(["--outcome", "mismatch"], 6, 6, id="outcome"),
        pytest.param(["--route", "/api/reports/export"], 1, 1, id="route"),
        pytest.param(["--since", "2026-04-13T12:00:06Z"], 4, 1, id="since"),
        pytest.param(["--since", "2026-04-14"], 0, 0, id="since-later-day"),
    ],
)
def test_diffs_filters(
    diff_folder: Path, filters: list[str], records: int, mismatches: int
) -> None:
    result = shadowproxy("diffs", "--dir", str(diff_folder), "--json", *filters)
    assert result.returncode == 0, result.stderr
    summary = orjson.loads(result.stdout)
    assert (summary["records"], summary["mismatches"]) == (records, mismatches)


def test_diffs_survives_a_truncated_gz(tmp_path: Path) -> None:
    whole = gzip.compress(orjson.dumps(record(1, "mismatch")) + b"\n")
    (tmp_path / "diff-2026-04-12.1.jsonl.gz").write_bytes(whole[:12])  # crash mid-compress
    (tmp_path / "diff-2026-04-13.jsonl").write_bytes(orjson.dumps(record(2, "mismatch")) + b"\n")
    result = shadowproxy("diffs", "--dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "1 records in 2 files under" in result.stdout
    assert (
        "1 file unreadable: diff-2026-04-12.1.jsonl.gz (compressed segment cut short)"
        in result.stdout
    )
