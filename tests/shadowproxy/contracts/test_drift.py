"""The shape learner: when a path is expected, what an app answer lacking it gives, its bounds.

A path is expected once its parent was seen in `min_responses` learned legacy answers and the
path in at least `presence` of those; an app answer whose parent is there but the path is not
(or whose type there legacy never sent) is a drift finding. Emptiness is never drift.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from shadowproxy.contracts.drift import (
    ELEMENTS,
    DriftSettings,
    ShapeLearner,
    flatten,
    parent_of,
)
from shadowproxy.types import BreakKind, DriftFinding, JSONValue

KEY = "GET /api/analysis/status/{task_id}"
MISSING, TYPE = BreakKind.MISSING, BreakKind.TYPE_CHANGED


def legacy(**extra: JSONValue) -> dict[str, JSONValue]:
    """A legacy status document of a finished analysis, in short."""
    document: dict[str, JSONValue] = {
        "task_id": "AAPL_20260413_120000_ab12cd",
        "status": "completed",
        "decision": "BUY",
        "confidence": 0.62,
        "stages": [{"status": "completed", "completed_at": "12:00:03"}],
        "error": None,
    }
    document.update(extra)
    return document


def trained(documents: int = 50, document: JSONValue = None, **settings: Any) -> ShapeLearner:
    learner = ShapeLearner(DriftSettings(**settings))
    for _ in range(documents):
        learner.learn(KEY, legacy() if document is None else document)
    return learner


def drift(learner: ShapeLearner, document: JSONValue) -> set[tuple[str, BreakKind, str | None]]:
    return {(f.field, f.kind, f.got) for f in learner.check(KEY, document)}


def test_nothing_is_expected_before_min_responses() -> None:
    app: JSONValue = {"task_id": "x", "status": "completed"}
    learner = trained(49)
    assert learner.check(KEY, app) == []
    assert learner.report()[KEY]["learned"] is False
    assert learner.report()[KEY]["expected"] == {}
    learner.learn(KEY, legacy())
    assert learner.report()[KEY]["learned"] is True
    assert sorted(learner.check(KEY, app), key=lambda f: f.field) == [
        DriftFinding("confidence", MISSING, 1.0, "number", None),
        DriftFinding("decision", MISSING, 1.0, "string", None),
        DriftFinding("error", MISSING, 1.0, "null", None),
        DriftFinding("stages", MISSING, 1.0, "array", None),
    ]


def test_a_complete_answer_has_no_drift_and_extra_paths_are_fine() -> None:
    learner = trained()
    assert learner.check(KEY, legacy()) == []
    assert learner.check(KEY, legacy(result={"decision": "BUY"}, compat={})) == []


def test_an_unknown_key_has_no_drift() -> None:
    assert trained().check("GET /elsewhere", {}) == []


@pytest.mark.parametrize(
    ("with_path", "expected"),
    [
        pytest.param(98, False, id="98 percent is not expected"),
        pytest.param(99, True, id="99 percent is expected"),
        pytest.param(100, True, id="always"),
    ],
)
def test_presence_ratio(with_path: int, expected: bool) -> None:
    learner = ShapeLearner(DriftSettings(learn_every=1))  # all 100 answers learned
    for index in range(100):
        learner.learn(KEY, legacy(ticker="AAPL") if index < with_path else legacy())
    found = learner.check(KEY, legacy())
    if expected:
        assert found == [DriftFinding("ticker", MISSING, with_path / 100, "string", None)]
        assert learner.report()[KEY]["expected"]["ticker"]["presence"] == with_path / 100
    else:
        assert found == []
        assert "ticker" not in learner.report()[KEY]["expected"]


def test_presence_is_a_setting() -> None:
    learner = ShapeLearner(DriftSettings(min_responses=10, presence=0.5))
    for index in range(10):
        learner.learn(KEY, legacy(ticker="AAPL") if index % 2 else legacy())
    assert drift(learner, legacy()) == {("ticker", MISSING, None)}


def test_type_changed() -> None:
    found = trained().check(KEY, legacy(confidence="0.62", decision={"rating": "BUY"}))
    assert sorted(found, key=lambda f: f.field) == [
        DriftFinding("confidence", TYPE, 1.0, "number", "string"),
        DriftFinding("decision", TYPE, 1.0, "string", "object"),
    ]


def test_every_type_legacy_sent_is_fine() -> None:
    learner = ShapeLearner()
    for index in range(60):
        learner.learn(KEY, legacy(error=None if index % 2 else "boom"))
    assert learner.check(KEY, legacy(error="x")) == []
    assert learner.check(KEY, legacy(error=None)) == []
    assert learner.check(KEY, legacy(error={"code": "x"})) == [
        DriftFinding("error", TYPE, 1.0, "null|string", "object")
    ]


def test_bool_is_not_number() -> None:
    assert drift(trained(), legacy(confidence=True)) == {("confidence", TYPE, "boolean")}


def test_an_empty_list_is_not_drift() -> None:
    learner = trained()
    assert learner.check(KEY, legacy(stages=[])) == []
    assert "stages[*]" in learner.report()[KEY]["expected"]
    # a row that is there but lacks a key is
    assert drift(learner, legacy(stages=[{"status": "completed"}])) == {
        ("stages[*].completed_at", MISSING, None)
    }
    # a path under a list is present when any walked row has it
    rows: list[JSONValue] = [
        {"status": "running"},
        {"status": "completed", "completed_at": "12:00:03"},
    ]
    assert learner.check(KEY, legacy(stages=rows)) == []


def test_below_a_null_or_mistyped_parent_only_the_parent_is_judged() -> None:
    learner = trained(document={"result": {"decision": "BUY"}, "tasks": [{"id": "a"}]})
    assert drift(learner, {"result": None, "tasks": [{"id": "a"}]}) == {("result", TYPE, "null")}
    assert drift(learner, {"result": {"decision": "BUY"}, "tasks": ["a"]}) == {
        ("tasks[*]", TYPE, "string")
    }
    assert drift(learner, {"tasks": [{"id": "a"}]}) == {("result", MISSING, None)}


def test_a_non_object_answer() -> None:
    assert drift(trained(), [1, 2]) == {
        (name, MISSING, None)
        for name in ("task_id", "status", "decision", "confidence", "stages", "error")
    }


def test_only_the_first_elements_are_walked() -> None:
    rows: list[JSONValue] = [{"status": "completed"} for _ in range(ELEMENTS)]
    late: list[JSONValue] = [*rows, {"status": "completed", "late": 1}]
    assert "stages[*].late" not in flatten({"stages": late})
    assert "stages[*].status" in flatten({"stages": late})


def test_paths_per_key_are_bounded() -> None:
    wide: JSONValue = {f"k{index:02}": index for index in range(20)}
    learner = trained(document=wide, max_paths=5, min_responses=5, documents=10)
    report = learner.report()[KEY]
    assert report["paths_kept"] == 5
    assert report["paths_not_kept"] > 0
    assert len(report["expected"]) == 5
    assert len(learner.snapshot()["routes"][KEY]["paths"]) == 5
    # only what was kept is judged
    assert len(learner.check(KEY, {})) == 5


def test_keys_are_bounded() -> None:
    learner = ShapeLearner(DriftSettings(min_responses=1, max_keys=2))
    for key in ("GET /a", "GET /b", "GET /c"):
        learner.learn(key, {"x": 1})
    assert set(learner.report()) == {"GET /a", "GET /b"}
    assert learner.check("GET /c", {}) == []
    assert learner.check("GET /a", {}) == [DriftFinding("x", MISSING, 1.0, "number", None)]


def test_answers_are_sampled_after_the_threshold() -> None:
    learner = trained(5, min_responses=5, learn_every=10)
    assert learner.report()[KEY]["responses"] == 5
    for _ in range(4):  # offered 6..9: none is the tenth
        learner.learn(KEY, legacy())
    assert learner.report()[KEY]["responses"] == 5
    learner.learn(KEY, legacy())  # offered 10
    assert learner.report()[KEY]["responses"] == 6
    for _ in range(95):  # offered 11..105: 20, 30, ..., 100
        learner.learn(KEY, legacy())
    snapshot = learner.snapshot()["routes"][KEY]
    assert (snapshot["responses"], snapshot["offered"]) == (15, 105)


def test_sampling_slows_what_is_learned_after_the_threshold() -> None:
    learner = trained(50)
    for _ in range(100):  # a new path in every answer, but only one in ten is learned
        learner.learn(KEY, legacy(ticker="AAPL"))
    seen = learner.snapshot()["routes"][KEY]["paths"]["ticker"]["seen"]
    assert seen == 10
    assert "ticker" not in learner.report()[KEY]["expected"]


def test_learn_every_one_learns_everything() -> None:
    learner = trained(80, min_responses=50, learn_every=1)
    assert learner.report()[KEY]["responses"] == 80


def changed(learner: ShapeLearner) -> bool:
    return learner.changed


def test_changed_flag() -> None:
    learner = ShapeLearner()
    assert not changed(learner)
    learner.learn(KEY, legacy())
    assert changed(learner)
    learner.snapshot()
    assert not changed(learner)


# ---------------------------------------------------------------- persistence


def mixed_learner() -> ShapeLearner:
    learner = ShapeLearner(DriftSettings(min_responses=10))
    for index in range(40):
        learner.learn(KEY, legacy(error=None if index % 3 else "boom"))
        learner.learn("GET /ws/analysis/{task_id} #progress", {"type": "progress", "n": index})
    return learner


PROBES: list[JSONValue] = [
    legacy(),
    {},
    legacy(confidence="x", error={"code": 1}),
    legacy(stages=[{}]),
    [1],
]


def by_field(found: list[DriftFinding]) -> list[DriftFinding]:
    return sorted(found, key=lambda f: (f.field, f.kind))


def test_snapshot_restore_round_trip() -> None:
    learner = mixed_learner()
    snapshot = learner.snapshot()
    restored = ShapeLearner(DriftSettings(min_responses=10))
    restored.restore(json.loads(json.dumps(snapshot)))  # what the state file holds
    for probe in PROBES:  # the same findings (their order follows the paths' order)
        assert by_field(restored.check(KEY, probe)) == by_field(learner.check(KEY, probe))
    assert restored.check("GET /ws/analysis/{task_id} #progress", {"type": "progress"}) == [
        DriftFinding("n", MISSING, 1.0, "number", None)
    ]
    assert restored.report() == learner.report()
    assert restored.snapshot() == snapshot
    # and it goes on learning from where it was (sampling included)
    for target in (learner, restored):
        for _ in range(20):
            target.learn(KEY, legacy(ticker="AAPL"))
    assert restored.snapshot() == learner.snapshot()


def test_restore_replaces_what_was_learned() -> None:
    learner = trained()
    learner.restore({"version": 1, "routes": {}})
    assert learner.report() == {}
    assert learner.check(KEY, {}) == []


def valid_snapshot() -> dict[str, Any]:
    return {
        "version": 1,
        "routes": {
            KEY: {
                "responses": 50,
                "offered": 50,
                "overflow": 0,
                "paths": {"status": {"seen": 50, "types": ["string"]}},
            }
        },
    }


def broken(**changes: Any) -> dict[str, Any]:
    snapshot = valid_snapshot()
    route = snapshot["routes"][KEY]
    for name, value in changes.items():
        if name == "seen":
            route["paths"]["status"]["seen"] = value
        elif name == "types":
            route["paths"]["status"]["types"] = value
        elif name == "path":
            route["paths"]["status"] = value
        elif value is None:
            del route[name]
        else:
            route[name] = value
    return snapshot


@pytest.mark.parametrize(
    "data",
    [
        pytest.param([], id="a list"),
        pytest.param("snapshot", id="a string"),
        pytest.param({}, id="empty"),
        pytest.param({"version": 2, "routes": {}}, id="another version"),
        pytest.param({"version": "1", "routes": {}}, id="version as text"),
        pytest.param({"version": 1}, id="no routes"),
        pytest.param({"version": 1, "routes": []}, id="routes a list"),
        pytest.param({"version": 1, "routes": {KEY: 5}}, id="route not a table"),
        pytest.param({"version": 1, "routes": {KEY: {"responses": 1}}}, id="route without paths"),
        pytest.param(broken(paths=[]), id="paths a list"),
        pytest.param(broken(responses=None), id="responses absent"),
        pytest.param(broken(responses=-1), id="responses negative"),
        pytest.param(broken(responses="50"), id="responses text"),
        pytest.param(broken(offered=1.5), id="offered a float"),
        pytest.param(broken(overflow=True), id="overflow a bool"),
        pytest.param(broken(seen=None), id="seen null"),
        pytest.param(broken(seen=-3), id="seen negative"),
        pytest.param(broken(types="string"), id="types not a list"),
        pytest.param(broken(path=["string"]), id="path entry not a table"),
    ],
)
def test_restore_rejects_malformed_snapshots(data: Any) -> None:
    learner = trained()
    before = learner.snapshot()
    with pytest.raises(ValueError, match=r"drift snapshot|count"):
        learner.restore(data)
    assert learner.snapshot() == before  # nothing half restored


def test_the_valid_snapshot_of_these_tests_restores() -> None:
    learner = ShapeLearner()
    learner.restore(valid_snapshot())
    assert learner.check(KEY, {}) == [DriftFinding("status", MISSING, 1.0, "string", None)]


def test_restore_is_bounded() -> None:
    routes = {
        f"GET /r{index}": {
            "responses": 5,
            "offered": 5,
            "overflow": 0,
            "paths": {f"p{p}": {"seen": 5, "types": ["number"]} for p in range(10)},
        }
        for index in range(5)
    }
    learner = ShapeLearner(DriftSettings(min_responses=5, max_keys=3, max_paths=4))
    learner.restore({"version": 1, "routes": routes})
    report = learner.report()
    assert len(report) == 3
    assert all(entry["paths_kept"] == 4 for entry in report.values())


# ---------------------------------------------------------------- settings and helpers


@pytest.mark.parametrize(
    "settings",
    [
        {"min_responses": 0},
        {"max_paths": 0},
        {"max_keys": 0},
        {"learn_every": 0},
        {"presence": 0.0},
        {"presence": 1.01},
        {"presence": -0.5},
    ],
)
def test_settings_are_validated(settings: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="drift"):
        DriftSettings(**settings)


def test_defaults() -> None:
    assert DriftSettings() == DriftSettings(
        min_responses=50, presence=0.99, max_paths=256, max_keys=256, learn_every=10
    )


def test_flatten() -> None:
    document: JSONValue = {
        "a": [{"b": 1}, {"b": "x", "c": None}],
        "d": {},
        "e": [[1], []],
        "f": True,
    }
    assert flatten(document) == {
        "a": {"array"},
        "a[*]": {"object"},
        "a[*].b": {"number", "string"},
        "a[*].c": {"null"},
        "d": {"object"},
        "e": {"array"},
        "e[*]": {"array"},
        "e[*][*]": {"number"},
        "f": {"boolean"},
    }
    assert flatten([{"x": 1}]) == {"[*]": {"object"}, "[*].x": {"number"}}
    assert flatten("scalar") == {}


@pytest.mark.parametrize(
    ("path", "parent"),
    [
        ("status", ""),
        ("result.decision", "result"),
        ("tasks[*]", "tasks"),
        ("tasks[*].status", "tasks[*]"),
        ("e[*][*]", "e[*]"),
        ("[*]", ""),
        ("[*].x", "[*]"),
    ],
)
def test_parent_of(path: str, parent: str) -> None:
    assert parent_of(path) == parent
