"""The checker, table by table: one read (or a few) against one document, and what it breaks.

Each row is (reads, document, breaks) with a break written (field, kind, got[, known]). The
semantics under test: a read's value is the first of its path and fallbacks that is present and
not null; absent or null is `missing` unless the read is optional or allows null; a present
value of an undeclared type is `type_changed`; a scalar outside the enum is `unknown_value`
(carrying the contract's reason when the value is a documented one); `when` gates the read per
element; an array read reports its first failing element only.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from shadowproxy.contracts.check import MAX_GOT, Violation, violations
from shadowproxy.contracts.inspect import UNCHECKED, Inspector, http_answer
from shadowproxy.contracts.model import (
    EACH,
    Contract,
    JsonType,
    Read,
    Segments,
    Surface,
    parse_path,
    read,
    show_path,
)
from shadowproxy.types import BreakKind, JSONValue, Observation, Side

Break = tuple[str, str, JSONValue] | tuple[str, str, JSONValue, str]

MISSING, TYPE, VALUE = BreakKind.MISSING.value, BreakKind.TYPE_CHANGED.value, "unknown_value"


def found(reads: Read | tuple[Read, ...], document: JSONValue) -> list[Break]:
    """The breaks as (field, kind, got), with the known reason appended when there is one."""
    listed = reads if isinstance(reads, tuple) else (reads,)
    out: list[Break] = []
    for violation in violations(listed, document):
        row: Break = (violation.field, violation.kind.value, violation.got)
        if violation.known is not None:
            row = (*row, violation.known)
        out.append(row)
    return out


def case(
    name: str, reads: Read | tuple[Read, ...], document: JSONValue, *breaks: Break
) -> Any:  # a pytest ParameterSet
    return pytest.param(reads, document, list(breaks), id=name)


# ---------------------------------------------------------------- fallbacks

DECISION = read("result.decision", fallbacks=("compat.decision",), required=True, types=("string",))
THREE = read("a", fallbacks=("b", "c"), required=True, types=("number",))

FALLBACKS = [
    case("first present wins", DECISION, {"result": {"decision": "BUY"}, "compat": {}}),
    case(
        "first present wins over a bad fallback",
        DECISION,
        {"result": {"decision": "BUY"}, "compat": {"decision": 5}},
    ),
    case(
        "a bad first value is judged, not skipped",
        DECISION,
        {"result": {"decision": 5}, "compat": {"decision": "BUY"}},
        ("result.decision", TYPE, "number"),
    ),
    case(
        "null falls through to the fallback",
        DECISION,
        {"result": {"decision": None}, "compat": {"decision": "BUY"}},
    ),
    case("only the fallback", DECISION, {"compat": {"decision": "BUY"}}),
    case(
        "a fallback of the wrong type is judged",
        DECISION,
        {"compat": {"decision": ["BUY"]}},
        ("result.decision", TYPE, "array"),
    ),
    case("both absent", DECISION, {}, ("result.decision", MISSING, "absent")),
    case(
        "first null, fallback absent",
        DECISION,
        {"result": {"decision": None}},
        ("result.decision", MISSING, "null"),
    ),
    case(
        "first absent, fallback null",
        DECISION,
        {"compat": {"decision": None}},
        ("result.decision", MISSING, "null"),
    ),
    case(
        "a null parent is absent below it",
        DECISION,
        {"result": None},
        ("result.decision", MISSING, "absent"),
    ),
    case(
        "a scalar parent is absent below it",
        DECISION,
        {"result": "BUY"},
        ("result.decision", MISSING, "absent"),
    ),
    case("third path", THREE, {"a": None, "c": 3}),
    case("third path of the wrong type", THREE, {"c": "3"}, ("a", TYPE, "string")),
    case("all three null", THREE, {"a": None, "b": None, "c": None}, ("a", MISSING, "null")),
    case("not an object at all", THREE, [1, 2], ("a", MISSING, "absent")),
]

# ---------------------------------------------------------------- optional and nullable

OPTIONAL = read("report", required=False, types=("string",))
NULLABLE = read("error", required=True, types=("string", "null"))
ANY_TYPE = read("x", required=True)
OPTIONALS = [
    case("optional absent", OPTIONAL, {}),
    case("optional null", OPTIONAL, {"report": None}),
    case("optional present", OPTIONAL, {"report": "# AAPL"}),
    case("optional of the wrong type", OPTIONAL, {"report": 5}, ("report", TYPE, "number")),
    case(
        "optional object where string",
        OPTIONAL,
        {"report": {"path": "r.md"}},
        ("report", TYPE, "object"),
    ),
    case(
        "optional outside its enum",
        read("s", required=False, enum=("a",)),
        {"s": "b"},
        ("s", VALUE, "b"),
    ),
    case("required but null allowed: null", NULLABLE, {"error": None}),
    case("required but null allowed: absent", NULLABLE, {}),
    case("required but null allowed: object", NULLABLE, {"error": {}}, ("error", TYPE, "object")),
    case("no types declared: any value", ANY_TYPE, {"x": [1, {"y": None}]}),
    case("no types declared: still required", ANY_TYPE, {"x": None}, ("x", MISSING, "null")),
]

# ---------------------------------------------------------------- arrays

ROW = read("tasks[].x", required=True, types=("string",))
ACCOUNTS = read("accounts[]", required=True, types=("string",))
NESTED = read("a[].b[].c", required=True, types=("number",))
ROOT = read("[]", required=True, types=("number",))
ROOT_ROWS = read("[].ticker", required=True, types=("string",))
ARRAYS = [
    case("every row good", ROW, {"tasks": [{"x": "a"}, {"x": "b"}]}),
    case(
        "first failing row only",
        ROW,
        {"tasks": [{"x": "a"}, {}, {"x": 3}, {"x": None}]},
        ("tasks[].x", MISSING, "absent"),
    ),
    case(
        "a later row fails",
        ROW,
        {"tasks": [{"x": "a"}, {"x": "b"}, {"x": True}]},
        ("tasks[].x", TYPE, "boolean"),
    ),
    case("empty array: no rows, no break", ROW, {"tasks": []}),
    case("not an array at the scope: no rows", ROW, {"tasks": {"x": 1}}),
    case("null at the scope: no rows", ROW, {"tasks": None}),
    case("absent scope: no rows", ROW, {}),
    case("a scalar row has no keys", ROW, {"tasks": ["a"]}, ("tasks[].x", MISSING, "absent")),
    case("array of scalars", ACCOUNTS, {"accounts": ["main", "ira"]}),
    case(
        "array of scalars, one wrong",
        ACCOUNTS,
        {"accounts": ["main", 3]},
        ("accounts[]", TYPE, "number"),
    ),
    case(
        "array of scalars, one null",
        ACCOUNTS,
        {"accounts": ["main", None]},
        ("accounts[]", MISSING, "null"),
    ),
    case("nested arrays", NESTED, {"a": [{"b": [{"c": 1}]}, {"b": []}, {"b": [{"c": 2.5}]}]}),
    case(
        "nested arrays, inner row fails",
        NESTED,
        {"a": [{"b": [{"c": 1}]}, {"b": [{"c": 2}, {"c": "3"}]}]},
        ("a[].b[].c", TYPE, "string"),
    ),
    case("root array", ROOT, [1, 2.5, 3]),
    case("root array, one wrong", ROOT, [1, "2"], ("[]", TYPE, "string")),
    case("root array read of an object document: no rows", ROOT, {"tasks": [1]}),
    case("root array of rows", ROOT_ROWS, [{"ticker": "AAPL"}, {"ticker": "MSFT"}]),
    case(
        "root array of rows, one lacking",
        ROOT_ROWS,
        [{"ticker": "AAPL"}, {"name": "x"}],
        ("[].ticker", MISSING, "absent"),
    ),
    case(
        "each read reports once",
        (ROW, read("tasks[].y", required=True, types=("number",))),
        {"tasks": [{"x": 1, "y": "a"}, {"x": 2, "y": "b"}]},
        ("tasks[].x", TYPE, "number"),
        ("tasks[].y", TYPE, "string"),
    ),
]

# ---------------------------------------------------------------- enums and known values

WHY = "a documented frontend defect"
STATUS = read("status", required=True, types=("string",), enum=("running", "completed"))
ROWS = read(
    "tasks[].status",
    required=True,
    types=("string",),
    enum=("running", "completed"),
    known={"cancelled": WHY},
)
UNTYPED = read("s", required=True, enum=("a", "b"))
ENUMS = [
    case("a listed value", STATUS, {"status": "running"}),
    case("an unknown value", STATUS, {"status": "paused"}, ("status", VALUE, "paused")),
    case("the type is judged first", STATUS, {"status": 5}, ("status", TYPE, "number")),
    case(
        "a long value is cut",
        STATUS,
        {"status": "x" * (MAX_GOT + 50)},
        ("status", VALUE, "x" * MAX_GOT + "…"),
    ),
    case("no types: an object is no value", UNTYPED, {"s": {"a": 1}}, ("s", VALUE, "object")),
    case("no types: a list is no value", UNTYPED, {"s": ["a"]}, ("s", VALUE, "array")),
    case("no types: a number is no listed value", UNTYPED, {"s": 1}, ("s", VALUE, 1)),
    case(
        "a known value is reported with its reason",
        ROWS,
        {"tasks": [{"status": "running"}, {"status": "cancelled"}]},
        ("tasks[].status", VALUE, "cancelled", WHY),
    ),
    case(
        "known twice is one finding",
        ROWS,
        {"tasks": [{"status": "cancelled"}, {"status": "cancelled"}]},
        ("tasks[].status", VALUE, "cancelled", WHY),
    ),
    case(
        "known does not hide a later unknown value",
        ROWS,
        {"tasks": [{"status": "cancelled"}, {"status": "paused"}, {"status": "zzz"}]},
        ("tasks[].status", VALUE, "paused"),
    ),
    case(
        "known does not hide a later type change",
        ROWS,
        {"tasks": [{"status": "cancelled"}, {"status": 7}]},
        ("tasks[].status", TYPE, "number"),
    ),
    case(
        "known does not hide a later missing value",
        ROWS,
        {"tasks": [{"status": "cancelled"}, {}]},
        ("tasks[].status", MISSING, "absent"),
    ),
    case("a number in a numeric enum", read("n", required=True, enum=(1, 2)), {"n": 1.0}),
    case(
        "true is not the enum's 1",
        read("n", required=True, enum=(1, 2)),
        {"n": True},
        ("n", VALUE, True),
    ),
    case(
        "1 is not the enum's true",
        read("flag", required=True, enum=(True,)),
        {"flag": 1},
        ("flag", VALUE, 1),
    ),
    case(
        "0 is not the enum's false",
        read("flag", required=True, enum=(False,)),
        {"flag": 0},
        ("flag", VALUE, 0),
    ),
    case("true is the enum's true", read("flag", required=True, enum=(True,)), {"flag": True}),
    case(
        "known only applies to strings",
        read("n", required=True, enum=(1, 2), known={"3": WHY}),
        {"n": 3},
        ("n", VALUE, 3),
    ),
]

# ---------------------------------------------------------------- type changes

TEXT = read("decision", required=True, types=("string",))
NUMBER = read("confidence", required=True, types=("number",))
FLAG = read("configured", required=True, types=("boolean",))
OBJECT = read("result", required=True, types=("object",))
TYPES = [
    case(
        "object where string", TEXT, {"decision": {"rating": "BUY"}}, ("decision", TYPE, "object")
    ),
    case("array where string", TEXT, {"decision": ["BUY"]}, ("decision", TYPE, "array")),
    case("number where string", TEXT, {"decision": 1}, ("decision", TYPE, "number")),
    case("string where number", NUMBER, {"confidence": "0.6"}, ("confidence", TYPE, "string")),
    case("bool is not number", NUMBER, {"confidence": True}, ("confidence", TYPE, "boolean")),
    case("false is not number", NUMBER, {"confidence": False}, ("confidence", TYPE, "boolean")),
    case("number is not bool", FLAG, {"configured": 1}, ("configured", TYPE, "number")),
    case("int is number", NUMBER, {"confidence": 1}),
    case("float is number", NUMBER, {"confidence": 0.615}),
    case("array where object", OBJECT, {"result": []}, ("result", TYPE, "array")),
    case("either of two types", read("c", required=True, types=("number", "string")), {"c": "x"}),
]

# ---------------------------------------------------------------- when


def gated(*conditions: tuple[str, tuple[JSONValue, ...], bool]) -> Read:
    return read("tasks[].decision", required=True, types=("string",), when=conditions)


FINISHED = gated(
    ("tasks[].status", ("completed", "degraded_success"), False),
    ("tasks[].type", ("portfolio",), True),
)
TOP = read("decision", required=True, when=(("status", ("completed",), False),))
DEEP = gated(("tasks[].meta.kind", ("analysis",), False))
MISS = ("tasks[].decision", MISSING, "absent")
WHEN = [
    case("in: holds", FINISHED, {"tasks": [{"status": "completed"}]}, MISS),
    case("in: the other listed value", FINISHED, {"tasks": [{"status": "degraded_success"}]}, MISS),
    case("in: not listed", FINISHED, {"tasks": [{"status": "running"}]}),
    case("in: absent does not satisfy in", FINISHED, {"tasks": [{}]}),
    case("in: null is not a listed value", FINISHED, {"tasks": [{"status": None}]}),
    case("in: a list is never in", FINISHED, {"tasks": [{"status": ["completed"]}]}),
    case("not_in: listed", FINISHED, {"tasks": [{"status": "completed", "type": "portfolio"}]}),
    case(
        "not_in: not listed",
        FINISHED,
        {"tasks": [{"status": "completed", "type": "analysis"}]},
        MISS,
    ),
    case("not_in: absent satisfies not_in", FINISHED, {"tasks": [{"status": "completed"}]}, MISS),
    case(
        "not_in: null satisfies not_in",
        FINISHED,
        {"tasks": [{"status": "completed", "type": None}]},
        MISS,
    ),
    case(
        "judged per row: skipped rows do not hide a failing one",
        FINISHED,
        {
            "tasks": [
                {"status": "running"},
                {"status": "completed", "type": "portfolio"},
                {"status": "completed", "decision": "BUY"},
                {"status": "completed", "decision": None},
            ]
        },
        ("tasks[].decision", MISSING, "null"),
    ),
    case("document scope: gated off", TOP, {"status": "running"}),
    case("document scope: gated on", TOP, {"status": "completed"}, ("decision", MISSING, "absent")),
    case("in: true is not 1", gated(("tasks[].level", (1,), False)), {"tasks": [{"level": True}]}),
    case("in: 0 is not false", gated(("tasks[].ok", (False,), False)), {"tasks": [{"ok": 0}]}),
    case("in: 1.0 is 1", gated(("tasks[].level", (1,), False)), {"tasks": [{"level": 1.0}]}, MISS),
    case(
        "not_in: true is not 1",
        gated(("tasks[].level", (1,), True)),
        {"tasks": [{"level": True}]},
        MISS,
    ),
    case("nested condition path", DEEP, {"tasks": [{"meta": {"kind": "analysis"}}]}, MISS),
    case("nested condition path, other value", DEEP, {"tasks": [{"meta": {"kind": "batch"}}]}),
    case("nested condition path, parent not an object", DEEP, {"tasks": [{"meta": "analysis"}]}),
]


@pytest.mark.parametrize(
    ("reads", "document", "expected"),
    [*FALLBACKS, *OPTIONALS, *ARRAYS, *ENUMS, *TYPES, *WHEN],
)
def test_violations(
    reads: Read | tuple[Read, ...], document: JSONValue, expected: list[Break]
) -> None:
    assert found(reads, document) == expected


def test_a_violation_says_what_was_expected() -> None:
    assert violations((STATUS,), {"status": "paused"}) == [
        Violation("status", BreakKind.UNKNOWN_VALUE, "completed | running", "paused")
    ]
    assert violations((read("c", required=True, types=("string", "number")),), {}) == [
        Violation("c", BreakKind.MISSING, "number|string", "absent")
    ]
    assert violations((ANY_TYPE,), {}) == [Violation("x", BreakKind.MISSING, "present", "absent")]


# ---------------------------------------------------------------- answers that are not checked


def answer(status: int | None, body: bytes) -> Observation:
    return Observation(Side.APP, status, (("Content-Type", "application/json"),), body)


@pytest.mark.parametrize(
    ("observation", "expected"),
    [
        pytest.param(answer(200, b'{"a": 1}'), {"a": 1}, id="200 JSON"),
        pytest.param(answer(201, b"[1, null]"), [1, None], id="201 JSON array"),
        pytest.param(answer(299, b'"text"'), "text", id="299 JSON string"),
        pytest.param(answer(200, b"null"), None, id="200 JSON null is checked"),
        pytest.param(answer(404, b'{"detail": "Task not found"}'), UNCHECKED, id="404"),
        pytest.param(answer(500, b'{"a": 1}'), UNCHECKED, id="500"),
        pytest.param(answer(302, b"{}"), UNCHECKED, id="302"),
        pytest.param(answer(199, b"{}"), UNCHECKED, id="199"),
        pytest.param(answer(None, b""), UNCHECKED, id="transport error"),
        pytest.param(answer(200, b"<html>oops</html>"), UNCHECKED, id="invalid JSON"),
        pytest.param(answer(200, b'{"a": '), UNCHECKED, id="truncated JSON"),
        pytest.param(answer(204, b""), UNCHECKED, id="empty body"),
        pytest.param(answer(200, b"%PDF-1.7\xff\xfe"), UNCHECKED, id="binary"),
        pytest.param(None, UNCHECKED, id="absent"),
    ],
)
def test_http_answer(observation: Observation | None, expected: JSONValue) -> None:
    assert http_answer(observation) == expected


def test_unchecked_answers_give_no_findings() -> None:
    surface = Surface("GET", "/r")
    inspector = Inspector([Contract("c", "", {surface: (TEXT,)})], None)
    bad = http_answer(answer(500, b"{}"))
    assert inspector.answers("GET", "/r", Side.LEGACY, bad, http_answer(None)) is None
    findings = inspector.answers("GET", "/r", Side.LEGACY, bad, http_answer(answer(200, b"{}")))
    assert findings is not None
    assert [(b.field, b.side.value) for b in findings.breaks] == [("decision", "shadow")]


# ---------------------------------------------------------------- a large document


def test_a_huge_list_is_checked_in_sane_time() -> None:
    rows: list[JSONValue] = [
        {"task_id": f"T{i}", "status": "completed", "decision": "BUY", "error": None}
        for i in range(10_000)
    ]
    rows.append({"task_id": "T-last", "status": "completed", "decision": 0.5, "error": None})
    reads = (
        read("tasks", required=True, types=("array",)),
        read("tasks[].task_id", required=True, types=("string",)),
        read("tasks[].status", required=True, types=("string",), enum=("running", "completed")),
        read("tasks[].error", required=True, types=("string", "null")),
        read(
            "tasks[].decision",
            required=True,
            types=("string",),
            when=(("tasks[].status", ("completed",), False),),
        ),
    )
    started = time.perf_counter()
    result = found(reads, {"tasks": rows, "total": len(rows)})
    elapsed = time.perf_counter() - started
    assert result == [("tasks[].decision", TYPE, "number")]
    assert elapsed < 2.0, f"{elapsed:.2f} s for {len(rows)} rows"


# ---------------------------------------------------------------- surfaces


HTTP, WS = "/api/analysis/status/{task_id}", "/ws/analysis/{task_id}"
CONTRACT = Contract(
    "c", "a test consumer", {Surface("GET", HTTP): (TEXT,), Surface("GET", WS, "progress"): (TEXT,)}
)


def test_contract_routes() -> None:
    assert CONTRACT.routes() == {HTTP, WS}


# ---------------------------------------------------------------- paths and the read builder


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("status", ("status",)),
        ("result.signals.llm.rating", ("result", "signals", "llm", "rating")),
        ("tasks[].status", ("tasks", EACH, "status")),
        ("accounts[]", ("accounts", EACH)),
        ("[]", (EACH,)),
        ("[].ticker", (EACH, "ticker")),
        ("[][]", (EACH, EACH)),
        ("a[][].b", ("a", EACH, EACH, "b")),
        ("a[].b[].c", ("a", EACH, "b", EACH, "c")),
        ("用户.名", ("用户", "名")),
    ],
)
def test_parse_path(text: str, segments: Segments) -> None:
    assert parse_path(text) == segments
    assert show_path(segments) == text


@pytest.mark.parametrize(
    "text",
    ["", " status", "status ", "a..b", ".a", "a.", "a[0]", "a[]b", "a.[]", "a]", "[x]", "a[", "."],
)
def test_parse_path_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"path|only"):
        parse_path(text)


def test_read_builds_scope_and_relative_paths() -> None:
    built = read(
        "tasks[].result.decision",
        fallbacks=("tasks[].compat.decision",),
        required=True,
        types=("string", "null"),
        enum=("BUY", "SELL"),
        known={"HOLD": "why"},
        when=(("tasks[].status", ("completed",), False), ("tasks[].type", ("portfolio",), True)),
    )
    assert built.name == "tasks[].result.decision"
    assert built.scope == ("tasks", EACH)
    assert built.paths == (("result", "decision"), ("compat", "decision"))
    assert built.types == {JsonType.STRING, JsonType.NULL}
    assert built.enum == {"BUY", "SELL"}
    assert dict(built.known) == {"HOLD": "why"}
    assert [(c.path, c.values, c.negate) for c in built.when] == [
        (("status",), frozenset({"completed"}), False),
        (("type",), frozenset({"portfolio"}), True),
    ]
    assert built.expected == "BUY | SELL"
    assert read("a", required=False).expected == "present"
    assert read("a", required=False, types=("number", "null")).expected == "null|number"


@pytest.mark.parametrize(
    ("path", "fallbacks", "when", "types", "message"),
    [
        pytest.param(" a", (), (), (), "path", id="bad path"),
        pytest.param("a", ("b..c",), (), (), "path", id="bad fallback"),
        pytest.param("tasks[].a", ("b",), (), (), "same array", id="fallback outside the array"),
        pytest.param("a", ("tasks[].a",), (), (), "same array", id="fallback inside an array"),
        pytest.param("tasks[].a", ("jobs[].a",), (), (), "same array", id="fallback other array"),
        pytest.param("a[].b", ("a[].c[].d",), (), (), "same array", id="fallback deeper array"),
        pytest.param(
            "tasks[].a", (), (("status", ("x",), False),), (), "condition", id="when outside"
        ),
        pytest.param(
            "tasks[].a",
            (),
            (("tasks[].sub[].x", ("x",), False),),
            (),
            "condition",
            id="when deeper array",
        ),
        pytest.param("a", (), (("t[].s", ("x",), True),), (), "condition", id="when in an array"),
        pytest.param("a", (), (("", ("x",), False),), (), "path", id="when bad path"),
        pytest.param("a", (), (), ("str",), "types must be among", id="unknown type"),
        pytest.param("a", (), (), ("String",), "types must be among", id="type case"),
    ],
)
def test_read_rejects(
    path: str,
    fallbacks: tuple[str, ...],
    when: tuple[tuple[str, tuple[JSONValue, ...], bool], ...],
    types: tuple[str, ...],
    message: str,
) -> None:
    with pytest.raises(ValueError, match=message):
        read(path, required=True, fallbacks=fallbacks, when=when, types=types)
