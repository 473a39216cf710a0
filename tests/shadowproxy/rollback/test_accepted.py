"""Runtime acceptances: applied to the engine's set, kept across restarts, nothing half-done."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shadowproxy.diff.known import KnownDifferences
from shadowproxy.errors import StateFileError
from shadowproxy.rollback.accepted import ACCEPTED_FILE, Acceptances
from shadowproxy.types import AcceptedDifference, Difference, DiffKind

CONFIGURED = AcceptedDifference("*", "confidence", "tolerance")
ROUTE = "/api/analysis/tasks"


def entry(field: str, signature: str = "aaaaaaaaaaaa", **extra: object) -> AcceptedDifference:
    fields = {"reason": "race", "signature": signature, "kinds": frozenset({"changed"})} | extra
    return AcceptedDifference(ROUTE, field, **fields)  # type: ignore[arg-type]


def accepted(known: KnownDifferences, field: str) -> bool:
    return bool(known.split(ROUTE, [Difference(field, DiffKind.CHANGED)]).accepted)


def fresh(state: Path) -> Acceptances:
    return Acceptances(KnownDifferences([CONFIGURED]), state)


def test_an_acceptance_applies_at_once_and_after_a_restart(tmp_path: Path) -> None:
    acceptances = fresh(tmp_path)
    assert acceptances.accept("aaaaaaaaaaaa", [entry("tasks[*].stage")]) is False
    assert accepted(acceptances.known, "tasks[AAPL_1].stage")
    again = fresh(tmp_path)
    assert again.runtime() == (entry("tasks[*].stage"),)
    assert again.known.entries() == (CONFIGURED, entry("tasks[*].stage"))
    assert accepted(again.known, "tasks[AAPL_1].stage")


def test_accepting_a_signature_again_replaces_it_and_withdraw_removes_it(tmp_path: Path) -> None:
    acceptances = fresh(tmp_path)
    acceptances.accept("aaaaaaaaaaaa", [entry("stage"), entry("decision")])
    acceptances.accept("bbbbbbbbbbbb", [entry("error", "bbbbbbbbbbbb")])
    renewed = entry("stage", expires="2099-01-01")
    assert acceptances.accept("aaaaaaaaaaaa", [renewed]) is True
    assert acceptances.runtime() == (entry("error", "bbbbbbbbbbbb"), renewed)
    assert not accepted(acceptances.known, "decision")
    assert acceptances.withdraw("aaaaaaaaaaaa") == (renewed,)
    assert acceptances.withdraw("aaaaaaaaaaaa") == ()
    assert fresh(tmp_path).runtime() == (entry("error", "bbbbbbbbbbbb"),)


def test_a_bad_entry_changes_neither_the_file_nor_the_set(tmp_path: Path) -> None:
    acceptances = fresh(tmp_path)
    acceptances.accept("aaaaaaaaaaaa", [entry("stage")])
    before = (tmp_path / ACCEPTED_FILE).read_bytes()
    with pytest.raises(ValueError, match="expires must be a date"):
        acceptances.accept("bbbbbbbbbbbb", [entry("x", "bbbbbbbbbbbb", expires="soon")])
    assert (tmp_path / ACCEPTED_FILE).read_bytes() == before
    assert acceptances.runtime() == (entry("stage"),)


def test_a_disk_that_refuses_changes_nothing(tmp_path: Path) -> None:
    """A write that fails (here: the temp file's name is taken by a folder) keeps the old set."""
    acceptances = fresh(tmp_path)
    acceptances.accept("aaaaaaaaaaaa", [entry("stage")])
    (tmp_path / (ACCEPTED_FILE + ".tmp")).mkdir()
    with pytest.raises(IsADirectoryError):
        acceptances.withdraw("aaaaaaaaaaaa")
    assert acceptances.runtime() == (entry("stage"),)
    assert accepted(acceptances.known, "stage")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param("{", "cannot be read", id="not-json"),
        pytest.param('{"version": 2, "entries": []}', "version must be 1", id="version"),
        pytest.param('{"version": 1}', "malformed", id="no-entries"),
        pytest.param(
            '{"version": 1, "entries": [{"route": "/x", "field": "f", "reason": "r"}]}',
            "'signature' must be a non-empty string",
            id="no-signature",
        ),
        pytest.param(
            json.dumps(
                {
                    "version": 1,
                    "entries": [
                        {"route": "/x", "field": "f", "reason": "r", "signature": "s", "kinds": 1}
                    ],
                }
            ),
            "'kinds' must be a list",
            id="kinds",
        ),
        pytest.param(
            json.dumps(
                {
                    "version": 1,
                    "entries": [
                        {"route": "/x", "field": "f", "reason": "r", "signature": "s",
                         "expires": "someday"}
                    ],
                }
            ),
            "expires must be a date",
            id="expires",
        ),
    ],
)  # fmt: skip
def test_a_file_that_cannot_be_used_stops_the_start_with_a_sentence(
    tmp_path: Path, text: str, problem: str
) -> None:
    (tmp_path / ACCEPTED_FILE).write_text(text)
    with pytest.raises(StateFileError, match=problem) as raised:
        fresh(tmp_path)
    assert str(tmp_path / ACCEPTED_FILE) in str(raised.value)
