"""`diffs fixtures`, `diffs accept` and `replay` over the sample folder: what they write, and
every way they refuse (the round trip through a real proxy is test_replay.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shadowproxy.difflog.signatures import key

from ..difflog.logs import REPORT, STATUS, TASKS, records, sample
from .commands import cli

NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing listens


def signature(route: str) -> str:
    [found] = {key(r).id for r in records() if r["outcome"] == "mismatch" and r["route"] == route}
    return found


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return sample(tmp_path / "diff_logs")


async def test_fixtures_one_file_per_http_signature(folder: Path, tmp_path: Path) -> None:
    code, out, err = await cli("diffs", "fixtures", "out", "--json", cwd=tmp_path)
    assert code == 0, err
    assert "5 lines skipped" in err
    document = json.loads(out)
    assert document["left_out"] == {"websocket": 1}
    names = sorted(Path(path).name for path in document["written"])
    assert names == sorted(f"{signature(route)}.json" for route in (STATUS, TASKS, REPORT))
    tasks = json.loads((tmp_path / "out" / f"{signature(TASKS)}.json").read_text())
    assert tasks["seen"] == {
        "count": 4,
        "first": "2026-04-13T12:00:00.000Z",
        "last": "2026-04-13T12:20:00.000Z",
    }
    assert tasks["request"]["headers"] == [["Accept", "application/json"]]
    assert tasks["recorded"]["differences"][0]["field"] == "tasks[MSFT_2].stage"

    code, out, _ = await cli("diffs", "fixtures", "only", "--route", TASKS, cwd=tmp_path)
    assert code == 0
    assert out.splitlines() == ["wrote 1 fixtures into only"]


async def test_fixtures_into_a_folder_that_cannot_be_made(folder: Path, tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file")
    code, _, err = await cli("diffs", "fixtures", "taken", cwd=tmp_path)
    assert code == 1
    assert "cannot write fixtures into taken" in err


@pytest.mark.parametrize(
    ("args", "code", "problem"),
    [
        pytest.param(("abcdef",), 2, "--reason is required", id="no-reason"),
        pytest.param(("abc", "--reason", "r"), 2, "at least 4 characters", id="short"),
        pytest.param(("ffffffffffff", "--reason", "r"), 1, "no mismatch signature", id="unknown"),
        pytest.param(("abcd", "--withdraw"), 2, "takes the whole signature", id="withdraw-prefix"),
        pytest.param(
            ("ffffffffffff", "--withdraw"), 1, "cannot use the admin API", id="withdraw-no-admin"
        ),
        pytest.param(("x", "--expires", "soon"), 2, "expected a date like", id="expires"),
    ],
)
async def test_accept_refuses(
    folder: Path, tmp_path: Path, args: tuple[str, ...], code: int, problem: str
) -> None:
    found, _, err = await cli("diffs", "accept", *args, "--admin", NOWHERE, cwd=tmp_path)
    assert found == code, err
    assert problem in err
    assert "Traceback" not in err


async def test_accept_a_status_only_signature_or_without_an_admin(
    folder: Path, tmp_path: Path
) -> None:
    base = ("diffs", "accept", "--reason", "r", "--admin", NOWHERE)
    code, _, err = await cli(*base, signature(REPORT), cwd=tmp_path)
    assert code == 2
    assert "has no differing field to accept" in err
    code, _, err = await cli(*base, signature(STATUS)[:6], cwd=tmp_path)
    assert code == 1
    assert "cannot use the admin API at http://127.0.0.1:9" in err


async def test_replay_refuses(folder: Path, tmp_path: Path) -> None:
    base = ("replay", "--admin", NOWHERE, "--proxy", NOWHERE)
    code, _, err = await cli(*base, "missing", cwd=tmp_path)
    assert (code, "fixture folder missing does not exist" in err) == (1, True)
    (tmp_path / "empty").mkdir()
    code, _, err = await cli(*base, "empty", cwd=tmp_path)
    assert (code, "no fixtures (*.json) in empty" in err) == (1, True)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.json").write_text('{"fixture": 9}')
    code, _, err = await cli(*base, "bad", cwd=tmp_path)
    assert (code, "cannot use the fixture bad/x.json: not a fixture of version 1" in err) == (
        1,
        True,
    )
    code, _, _ = await cli("diffs", "fixtures", "good", cwd=tmp_path)
    assert code == 0
    code, _, err = await cli(*base, "good", "--header", "no colon", cwd=tmp_path)
    assert (code, "--header takes 'Name: value'" in err) == (2, True)
    code, _, err = await cli(*base, "good", "--wait", "0", cwd=tmp_path)
    assert (code, "--wait must be more than 0" in err) == (2, True)
    code, _, err = await cli(*base, "good", cwd=tmp_path)
    assert (code, "cannot use the admin API" in err) == (1, True)
    assert "Traceback" not in err
