"""Properties of the checker and the drift learner on any JSON document.

- A document satisfies the contract learned from itself: every path it has (arrays as `[]`)
  required, with the one type it has there (paths whose type differs between elements, or that
  some element lacks, are left out), and `violations` finds nothing.
- A learner fed one document `min_responses` times (or more) finds no drift in that document.
- Removing a path the learner expects from the document is a `missing` drift finding.
"""

from __future__ import annotations

from collections.abc import Iterator

from hypothesis import given, settings
from hypothesis import strategies as st

from shadowproxy.contracts.check import violations
from shadowproxy.contracts.drift import DriftSettings, ShapeLearner
from shadowproxy.contracts.model import EACH, Read, Segments, read, scope_of, show_path, type_of
from shadowproxy.types import BreakKind, JSONValue

NAMES = st.sampled_from(
    [
        "task_id",
        "status",
        "decision",
        "result",
        "compat",
        "signals",
        "rating",
        "tasks",
        "error",
        "type",
        "stages",
        "用户",
    ]
) | st.text(alphabet="abcxyz_", min_size=1, max_size=3)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-3, 120)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.sampled_from(["running", "completed", "degraded_success", "portfolio", "用户取消"])
    | st.text(max_size=4)
)
JSON: st.SearchStrategy[JSONValue] = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(NAMES, inner, max_size=5),
    max_leaves=25,
)
# rows of one shape, as real lists are, so array paths survive the consistency filter
ROWS: st.SearchStrategy[JSONValue] = st.lists(
    st.fixed_dictionaries({"task_id": st.text(max_size=3), "status": st.sampled_from(["a", "b"])}),
    max_size=4,
)
DOCUMENTS = JSON | st.dictionaries(NAMES, JSON | ROWS, max_size=5) | ROWS
# keys the drift paths spell unambiguously (no ".", "[*]" or empty key)
OBJECTS: st.SearchStrategy[dict[str, JSONValue]] = st.dictionaries(
    NAMES, JSON | ROWS, min_size=1, max_size=5
)


def nodes(value: JSONValue, at: Segments = ()) -> Iterator[tuple[Segments, JSONValue]]:
    """Every value of the document below its root, with its path (array elements as EACH)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*at, key), item
            yield from nodes(item, (*at, key))
    elif isinstance(value, list):
        for item in value:
            yield (*at, EACH), item
            yield from nodes(item, (*at, EACH))


def learned_contract(document: JSONValue) -> tuple[Read, ...]:
    """What a consumer reading exactly this document could require of it.

    A path is required when every element of its array scope has it (the document itself is the
    one element of the empty scope), and only with the one type it has everywhere.
    """
    seen: dict[Segments, list[str]] = {}
    for path, value in nodes(document):
        seen.setdefault(path, []).append(type_of(value).value)
    reads: list[Read] = []
    for path, types in seen.items():
        scope = scope_of(path)
        elements = 1 if not scope else len(seen[scope])
        if len(set(types)) == 1 and (path == scope or len(types) == elements):
            reads.append(read(show_path(path), required=True, types=(types[0],)))
    return tuple(reads)


@settings(max_examples=120, deadline=None)
@given(document=DOCUMENTS)
def test_a_document_satisfies_the_contract_learned_from_itself(document: JSONValue) -> None:
    reads = learned_contract(document)
    assert violations(reads, document) == []


def test_the_learned_contract_is_not_empty_and_can_break() -> None:
    """The helper under the property really requires things (a guard against a vacuous test)."""
    document: JSONValue = {
        "status": "completed",
        "result": {"decision": "BUY", "confidence": 0.6},
        "tasks": [{"task_id": "a", "error": None}, {"task_id": "b"}],
        "accounts": ["main", 3],
    }
    reads = learned_contract(document)
    assert {r.name for r in reads} == {
        "status",
        "result",
        "result.decision",
        "result.confidence",
        "tasks",
        "tasks[]",
        "tasks[].task_id",
        "accounts",
    }  # tasks[].error is in one row only, accounts[] has two types
    changed: JSONValue = {
        "status": "completed",
        "result": {"decision": 1, "confidence": 0.6},
        "tasks": [{"task_id": "a"}, {}],
        "accounts": [],
    }
    assert [(v.field, v.kind) for v in violations(reads, changed)] == [
        ("result.decision", BreakKind.TYPE_CHANGED),
        ("tasks[].task_id", BreakKind.MISSING),
    ]


SMALL = DriftSettings(min_responses=5)


@settings(max_examples=80, deadline=None)
@given(document=DOCUMENTS, extra=st.integers(0, 30), small=st.booleans())
def test_a_learner_finds_no_drift_in_what_it_learned(
    document: JSONValue, extra: int, small: bool
) -> None:
    learner = ShapeLearner(SMALL if small else None)
    for _ in range(learner.settings.min_responses + extra):
        learner.learn("GET /r", document)
    assert learner.check("GET /r", document) == []


def dict_paths(value: JSONValue, at: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every key path through objects only (no array on the way)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*at, key)
            yield from dict_paths(item, (*at, key))


def without(document: JSONValue, path: tuple[str, ...]) -> JSONValue:
    if not isinstance(document, dict):
        return document
    head, rest = path[0], path[1:]
    if not rest:
        return {k: v for k, v in document.items() if k != head}
    return {k: without(v, rest) if k == head else v for k, v in document.items()}


@settings(max_examples=80, deadline=None)
@given(document=OBJECTS, data=st.data())
def test_removing_an_expected_path_is_missing_drift(
    document: dict[str, JSONValue], data: st.DataObject
) -> None:
    learner = ShapeLearner(SMALL)
    for _ in range(SMALL.min_responses):
        learner.learn("GET /r", document)
    path = data.draw(st.sampled_from(sorted(dict_paths(document))), label="removed")
    field = ".".join(path)
    assert field in learner.report()["GET /r"]["expected"]
    found = learner.check("GET /r", without(document, path))
    assert [(f.kind, f.legacy_presence, f.got) for f in found if f.field == field] == [
        (BreakKind.MISSING, 1.0, None)
    ]
    # nothing else is missing, whatever was below the removed key
    assert {f.field for f in found} == {field}
