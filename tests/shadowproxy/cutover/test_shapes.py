"""The drift learner's shapes in `<state_dir>/shapes.json`: kept across restarts, never fatal.

A saved snapshot loads back into a learner that finds the same drift; a missing file is a first
start; a file that is not a snapshot is moved aside to `shapes.json.bad`, bytes intact, and
learning starts over; a save goes through a temp file, so it never leaves half a file behind.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from shadowproxy.contracts.drift import DriftSettings, ShapeLearner
from shadowproxy.cutover.shapes import SHAPES_FILE, ShapeFile
from shadowproxy.types import BreakKind, DriftFinding, JSONValue

KEY = "GET /api/analysis/status/{task_id}"
SETTINGS = DriftSettings(min_responses=3, learn_every=1)


def legacy(n: int) -> JSONValue:
    return {
        "task_id": f"AAPL_{n}",
        "status": "completed",
        "decision": "BUY",
        "confidence": 0.6,
        "stages": [{"status": "completed"}],
    }


APP: JSONValue = {"task_id": "x", "status": "completed", "confidence": "0.6", "stages": [{}]}


def trained() -> ShapeLearner:
    learner = ShapeLearner(SETTINGS)
    for n in range(3):
        learner.learn(KEY, legacy(n))
    return learner


def drift(learner: ShapeLearner) -> list[DriftFinding]:
    """The learner's findings on the app answer, by path (a restored learner walks its paths
    in the snapshot's sorted order, a learning one in the order it met them)."""
    return sorted(learner.check(KEY, APP), key=lambda found: (found.field, found.kind))


def files(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


# ---------------------------------------------------------------- save, then load


def test_a_saved_learner_loads_back_with_the_same_findings(tmp_path: Path) -> None:
    before = trained()
    found = drift(before)
    assert {(f.field, f.kind) for f in found} == {
        ("decision", BreakKind.MISSING),
        ("confidence", BreakKind.TYPE_CHANGED),
        ("stages[*].status", BreakKind.MISSING),
    }
    snapshot = before.snapshot()
    ShapeFile(tmp_path).save(snapshot)

    after = ShapeLearner(SETTINGS)
    ShapeFile(tmp_path).load(after)
    assert drift(after) == found
    assert after.snapshot() == snapshot
    assert after.report() == before.report()
    assert after.changed is False  # nothing new learned: no save is due


def test_learning_goes_on_after_a_load(tmp_path: Path) -> None:
    ShapeFile(tmp_path).save(trained().snapshot())
    learner = ShapeLearner(SETTINGS)
    ShapeFile(tmp_path).load(learner)
    learner.learn(KEY, legacy(4))
    assert learner.changed
    assert learner.report()[KEY]["responses"] == 4


def test_the_file_is_sorted_json_with_a_trailing_newline(tmp_path: Path) -> None:
    snapshot = trained().snapshot()
    ShapeFile(tmp_path).save(snapshot)
    text = (tmp_path / SHAPES_FILE).read_text(encoding="utf-8")
    assert text == json.dumps(snapshot, sort_keys=True) + "\n"
    assert json.loads(text)["version"] == 1


def test_save_creates_the_state_dir(tmp_path: Path) -> None:
    state = tmp_path / "var" / "state"
    shape_file = ShapeFile(state)
    assert shape_file.path == state / SHAPES_FILE
    shape_file.save(trained().snapshot())
    assert files(state) == [SHAPES_FILE]


def test_save_replaces_the_previous_file_and_leaves_no_temp(tmp_path: Path) -> None:
    shape_file = ShapeFile(tmp_path)
    shape_file.save(ShapeLearner(SETTINGS).snapshot())
    (tmp_path / f"{SHAPES_FILE}.tmp").write_text("left by a crash", encoding="utf-8")
    learner = trained()
    shape_file.save(learner.snapshot())
    assert files(tmp_path) == [SHAPES_FILE]
    loaded = ShapeLearner(SETTINGS)
    shape_file.load(loaded)
    assert loaded.snapshot() == learner.snapshot()


def test_a_failed_save_leaves_the_old_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rename is the only step that touches shapes.json: before it, the old one stands."""
    shape_file = ShapeFile(tmp_path)
    shape_file.save(trained().snapshot())
    old = shape_file.path.read_bytes()

    def refuse(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)  # what shapes.py renames with
    with pytest.raises(OSError, match="No space left"):
        shape_file.save(ShapeLearner(SETTINGS).snapshot())
    assert shape_file.path.read_bytes() == old


# ---------------------------------------------------------------- what load makes of a file


def test_a_missing_file_is_a_first_start(tmp_path: Path) -> None:
    learner = ShapeLearner(SETTINGS)
    with capture_logs() as logs:
        ShapeFile(tmp_path / "nowhere").load(learner)
    assert logs == []
    assert learner.snapshot()["routes"] == {}
    assert not (tmp_path / "nowhere").exists()


CORRUPT = [
    pytest.param(b'{"version": 1, "routes": {', id="truncated-json"),
    pytest.param(b"", id="empty"),
    pytest.param(b"\xff\xfe\x00\x01 not text", id="not-utf8"),
    pytest.param(b'{"version": 2, "routes": {}}', id="another-version"),
    pytest.param(b"[1, 2, 3]", id="not-an-object"),
    pytest.param(b'{"version": 1}', id="no-routes"),
    pytest.param(
        b'{"version": 1, "routes": {"k": {"responses": -1, "offered": 0, "overflow": 0,'
        b' "paths": {}}}}',
        id="a-negative-count",
    ),
    pytest.param(
        b'{"version": 1, "routes": {"k": {"responses": 1, "offered": 1, "overflow": 0,'
        b' "paths": {"a": {"seen": 1, "types": "string"}}}}}',
        id="types-not-a-list",
    ),
]


@pytest.mark.parametrize("content", CORRUPT)
def test_a_corrupt_file_is_moved_aside_and_learning_starts_over(
    tmp_path: Path, content: bytes
) -> None:
    shape_file = ShapeFile(tmp_path)
    shape_file.path.write_bytes(content)
    learner = ShapeLearner(SETTINGS)
    with capture_logs() as logs:
        shape_file.load(learner)
    aside = tmp_path / f"{SHAPES_FILE}.bad"
    assert files(tmp_path) == [f"{SHAPES_FILE}.bad"]
    assert aside.read_bytes() == content  # nothing is lost
    assert learner.snapshot()["routes"] == {}
    assert [(e["event"], e["log_level"], e["path"], e["moved_to"]) for e in logs] == [
        ("drift_shapes_reset", "warning", str(shape_file.path), str(aside))
    ]
    assert logs[0]["error"]

    for n in range(3):  # learning starts fresh, and the next save is a good file
        learner.learn(KEY, legacy(n))
    assert drift(learner)
    shape_file.save(learner.snapshot())
    assert files(tmp_path) == [SHAPES_FILE, f"{SHAPES_FILE}.bad"]
    again = ShapeLearner(SETTINGS)
    shape_file.load(again)
    assert drift(again) == drift(learner)


def test_a_corrupt_file_leaves_a_learner_as_it_was(tmp_path: Path) -> None:
    """Restoring is all or nothing: a snapshot bad halfway through changes nothing."""
    learner = trained()
    before = learner.snapshot()
    routes = {
        "a": {"responses": 1, "offered": 1, "overflow": 0, "paths": {}},
        "b": {"responses": "many", "offered": 1, "overflow": 0, "paths": {}},
    }
    (tmp_path / SHAPES_FILE).write_text(json.dumps({"version": 1, "routes": routes}))
    ShapeFile(tmp_path).load(learner)
    assert learner.snapshot() == before
    assert (tmp_path / f"{SHAPES_FILE}.bad").is_file()


def test_an_unreadable_file_is_left_where_it_is(tmp_path: Path) -> None:
    """An OS error is not a corrupt snapshot: warn, learn afresh, move nothing."""
    (tmp_path / SHAPES_FILE).mkdir()  # reading a directory fails with an OSError
    learner = ShapeLearner(SETTINGS)
    with capture_logs() as logs:
        ShapeFile(tmp_path).load(learner)
    assert [e["event"] for e in logs] == ["drift_shapes_unreadable"]
    assert logs[0]["path"] == str(tmp_path / SHAPES_FILE)
    assert files(tmp_path) == [SHAPES_FILE]
    assert learner.snapshot()["routes"] == {}
