"""Both answers of a comparison against every consumer: roles, shared breaks, what hurt the client.

`Inspector.answers` serves HTTP, `SocketChecks` one websocket connection (frame by frame, until
`take`). A break is marked with the role of the side that has it (authoritative: the client got
it; shadow: it would after a flip), `shared` when the other side has it too.
"""

from __future__ import annotations

import pytest

from shadowproxy.contracts.drift import DriftSettings, ShapeLearner
from shadowproxy.contracts.inspect import (
    MAX_BREAKS,
    UNCHECKED,
    Answer,
    Inspector,
    SocketChecks,
    drift_key,
)
from shadowproxy.contracts.model import Contract, Read, Surface, read
from shadowproxy.types import BreakKind, ClientFindings, ContractBreak, JSONValue, Role, Side

ROUTE, OTHER, SOCKET = "/api/r", "/api/other", "/ws/analysis/{task_id}"
WHY = "a documented frontend defect"
FIRST = Contract(
    "first",
    "reads x and the status",
    {
        Surface("GET", ROUTE): (
            read("x", required=True, types=("string",)),
            read("status", required=False, enum=("ok",), known={"odd": WHY}),
        ),
        Surface("GET", SOCKET, "progress"): (read("x", required=True, types=("string",)),),
    },
)
SECOND = Contract("second", "reads y", {Surface("GET", ROUTE): (read("y", required=True),)})
ELSEWHERE = Contract("elsewhere", "reads another route", {Surface("GET", OTHER): ()})
UNREAD = Contract("unread", "reads nothing", {Surface("GET", ROUTE): ()})
GOOD: dict[str, JSONValue] = {"x": "a", "y": 1, "status": "ok"}


def inspector(learner: ShapeLearner | None = None) -> Inspector:
    return Inspector([FIRST, SECOND, ELSEWHERE, UNREAD], learner)


def answers(
    legacy: Answer, app: Answer, authoritative: Side = Side.LEGACY, route: str = ROUTE
) -> ClientFindings:
    findings = inspector().answers("GET", route, authoritative, legacy, app)
    assert findings is not None
    return findings


def rows(findings: ClientFindings) -> list[tuple[str, Role, str, BreakKind, bool]]:
    return [(b.consumer, b.side, b.field, b.kind, b.shared) for b in findings.breaks]


A, S = Role.AUTHORITATIVE, Role.SHADOW
MISSING, TYPE = BreakKind.MISSING, BreakKind.TYPE_CHANGED


@pytest.mark.parametrize(
    ("authoritative", "legacy_role", "app_role"),
    [(Side.LEGACY, A, S), (Side.APP, S, A)],
)
def test_breaks_carry_the_role_of_their_side(
    authoritative: Side, legacy_role: Role, app_role: Role
) -> None:
    findings = answers({"y": 1}, {"x": "a"}, authoritative)
    assert rows(findings) == [
        ("first", legacy_role, "x", MISSING, False),
        ("second", app_role, "y", MISSING, False),
    ]
    hurt = [b.consumer for b in findings.hurt]
    assert hurt == (["first"] if authoritative is Side.LEGACY else ["second"])
    assert findings.broken("first", legacy_role)
    assert not findings.broken("first", app_role)
    assert findings.broken("second", app_role)
    assert not findings.broken("second", legacy_role)


def test_a_break_of_both_sides_is_shared_and_not_counted() -> None:
    findings = answers({"y": 1}, {"y": 2})
    assert rows(findings) == [
        ("first", A, "x", MISSING, True),
        ("first", S, "x", MISSING, True),
    ]
    assert not any(b.counts for b in findings.breaks)
    assert findings.hurt == ()
    assert not findings.broken("first", A)


@pytest.mark.parametrize(
    ("legacy", "app"),
    [
        pytest.param({"y": 1}, {"x": 5, "y": 1}, id="same field, other kind"),
        pytest.param({"x": "a"}, {"y": 1}, id="other consumer, other field"),
    ],
)
def test_shared_means_same_consumer_field_and_kind(legacy: JSONValue, app: JSONValue) -> None:
    findings = answers(legacy, app)
    assert findings.breaks
    assert not any(b.shared for b in findings.breaks)
    assert all(b.counts for b in findings.breaks)


def test_shared_is_per_consumer() -> None:
    """One consumer breaks on legacy, another on the app, on the same field: nothing shared."""
    off = Contract("off", "x unless on", {Surface("GET", ROUTE): (gated("x", negate=True),)})
    on = Contract("on", "x when on", {Surface("GET", ROUTE): (gated("x", negate=False),)})
    findings = Inspector([off, on], None).answers(
        "GET", ROUTE, Side.LEGACY, {"mode": "off"}, {"mode": "on"}
    )
    assert findings is not None
    assert [(b.consumer, b.side, b.field, b.kind, b.shared) for b in findings.breaks] == [
        ("off", A, "x", MISSING, False),
        ("on", S, "x", MISSING, False),
    ]


def gated(name: str, *, negate: bool) -> Read:
    return read(name, required=True, when=(("mode", ("on",), negate),))


def test_the_break_says_what_was_read() -> None:
    (found,) = answers({"x": 3, "y": 1}, GOOD).breaks
    assert found == ContractBreak(
        consumer="first",
        side=A,
        field="x",
        kind=TYPE,
        expected="string",
        got="number",
        message=None,
    )


def test_a_known_break_is_reported_and_never_hurts() -> None:
    findings = answers(GOOD | {"status": "odd"}, GOOD)
    (found,) = findings.breaks
    assert (found.field, found.kind, found.known, found.counts) == (
        "status",
        BreakKind.UNKNOWN_VALUE,
        WHY,
        False,
    )
    assert findings.hurt == ()
    assert not findings.broken("first", A)


def test_hurt_is_the_counted_breaks_of_the_authoritative_answer() -> None:
    findings = answers({"status": "odd"}, {"x": 1, "y": 1})
    assert [(b.consumer, b.field, b.side) for b in findings.hurt] == [
        ("first", "x", A),
        ("second", "y", A),
    ]


def test_consumers_are_those_that_read_the_surface() -> None:
    findings = answers(GOOD, GOOD)
    assert findings.consumers == ("first", "second")  # not `unread` (no reads), not `elsewhere`
    assert findings.breaks == ()
    assert findings.drift == ()


def test_nothing_read_gives_none() -> None:
    assert inspector().answers("GET", "/api/nobody", Side.LEGACY, GOOD, GOOD) is None
    assert inspector().answers("POST", ROUTE, Side.LEGACY, GOOD, GOOD) is None
    # a surface with no reads counts as not read
    assert inspector().answers("GET", OTHER, Side.LEGACY, GOOD, GOOD) is None


def test_unchecked_answers() -> None:
    assert inspector().answers("GET", ROUTE, Side.LEGACY, UNCHECKED, UNCHECKED) is None
    findings = answers(UNCHECKED, {"y": 1})
    assert rows(findings) == [("first", S, "x", MISSING, False)]
    findings = answers({"y": 1}, UNCHECKED, Side.APP)
    assert rows(findings) == [("first", S, "x", MISSING, False)]


def test_wants() -> None:
    """An HTTP exchange is worth parsing when a consumer reads its route, or drift learns."""
    checker = inspector()
    assert checker.wants("GET", ROUTE)
    assert not checker.wants("POST", ROUTE)
    assert not checker.wants("GET", OTHER)  # its consumer has no reads there
    assert not checker.wants("GET", "/api/nobody")
    assert inspector(ShapeLearner()).wants("GET", "/api/nobody")


def test_breaks_are_bounded() -> None:
    many = tuple(read(f"k{index}", required=True) for index in range(40))
    wide = Contract("wide", "reads 40 keys", {Surface("GET", ROUTE): many})
    findings = Inspector([wide], None).answers("GET", ROUTE, Side.LEGACY, {}, {})
    assert findings is not None
    assert len(findings.breaks) == MAX_BREAKS


# ---------------------------------------------------------------- drift through the inspector


def test_drift_is_learned_from_legacy_and_found_in_app() -> None:
    learner = ShapeLearner(DriftSettings(min_responses=3))
    checker = inspector(learner)
    legacy: JSONValue = {"x": "a", "y": 1, "extra": True}
    for _ in range(3):  # the app answer is judged on the earlier legacy answers only
        findings = checker.answers("GET", ROUTE, Side.LEGACY, legacy, GOOD)
        assert findings is not None
        assert findings.drift == ()
    findings = checker.answers("GET", ROUTE, Side.LEGACY, legacy, GOOD)
    assert findings is not None
    assert [(d.field, d.kind) for d in findings.drift] == [("extra", MISSING)]
    assert drift_key(Surface("GET", ROUTE)) in learner.report()
    # an app answer is never learned, a legacy one that is not checked is not either
    checker.answers("GET", ROUTE, Side.APP, UNCHECKED, {"x": "a"})
    assert learner.snapshot()["routes"]["GET /api/r"]["offered"] == 4


def test_drift_on_a_route_no_consumer_reads() -> None:
    learner = ShapeLearner(DriftSettings(min_responses=1))
    checker = inspector(learner)
    assert checker.answers("GET", "/api/nobody", Side.LEGACY, {"k": 1}, {"k": 1}) is None
    findings = checker.answers("GET", "/api/nobody", Side.LEGACY, {"k": 1}, {})
    assert findings is not None
    assert findings.consumers == ()
    assert [(d.field, d.kind, d.message) for d in findings.drift] == [("k", MISSING, None)]


def test_drift_keys() -> None:
    assert drift_key(Surface("GET", ROUTE)) == "GET /api/r"
    assert drift_key(Surface("GET", SOCKET, "progress")) == f"GET {SOCKET} #progress"


# ---------------------------------------------------------------- websocket connections


def frame(**values: JSONValue) -> JSONValue:
    return {"type": "progress", **values}


def test_socket_checks_progress_frames_by_role() -> None:
    checks = SocketChecks(inspector(), SOCKET, Side.APP)
    checks.frame(Side.LEGACY, frame(x=1))
    checks.frame(Side.APP, frame())
    findings = checks.take()
    assert findings is not None
    assert findings.consumers == ("first",)
    assert [(b.side, b.field, b.kind, b.message) for b in findings.breaks] == [
        (S, "x", TYPE, "progress"),
        (A, "x", MISSING, "progress"),
    ]


def test_socket_breaks_on_both_sides_are_shared() -> None:
    checks = SocketChecks(inspector(), SOCKET, Side.LEGACY)
    for _ in range(3):  # many frames, one finding per side
        checks.frame(Side.LEGACY, frame())
        checks.frame(Side.APP, frame(x=None))
    findings = checks.take()
    assert findings is not None
    assert [(b.side, b.shared) for b in findings.breaks] == [(A, True), (S, True)]
    assert findings.hurt == ()


@pytest.mark.parametrize(
    "document",
    [
        pytest.param({"x": 1}, id="no type"),
        pytest.param({"type": 1, "x": 1}, id="type not a string"),
        pytest.param({"type": None}, id="type null"),
        pytest.param({"type": ["progress"]}, id="type a list"),
        pytest.param(["progress"], id="not an object"),
        pytest.param("progress", id="a string"),
    ],
)
def test_socket_ignores_frames_without_a_string_type(document: JSONValue) -> None:
    learner = ShapeLearner(DriftSettings(min_responses=1))
    checks = SocketChecks(inspector(learner), SOCKET, Side.LEGACY)
    checks.frame(Side.LEGACY, document)
    checks.frame(Side.APP, document)
    assert checks.take() is None
    assert learner.report() == {}


def test_socket_frames_no_one_reads() -> None:
    checks = SocketChecks(inspector(), SOCKET, Side.LEGACY)
    checks.frame(Side.LEGACY, {"type": "log", "x": 1})
    assert checks.take() is None


def test_take_resets() -> None:
    checks = SocketChecks(inspector(), SOCKET, Side.LEGACY)
    checks.frame(Side.LEGACY, frame())
    first = checks.take()
    assert first is not None
    assert len(first.breaks) == 1
    assert checks.take() is None
    checks.frame(Side.APP, frame(x="a"))
    second = checks.take()
    assert second is not None
    assert (second.consumers, second.breaks) == (("first",), ())


def test_socket_drift_per_message_type() -> None:
    learner = ShapeLearner(DriftSettings(min_responses=2))
    checks = SocketChecks(inspector(learner), SOCKET, Side.LEGACY)
    for _ in range(2):
        checks.frame(Side.LEGACY, frame(x="a", stage="research"))
        checks.frame(Side.LEGACY, {"type": "log", "line": "STAGE:research"})
    checks.take()
    checks.frame(Side.APP, frame(x="a"))
    checks.frame(Side.APP, {"type": "log"})
    findings = checks.take()
    assert findings is not None
    assert sorted((d.message or "", d.field) for d in findings.drift) == [
        ("log", "line"),
        ("progress", "stage"),
    ]
    assert set(learner.report()) == {f"GET {SOCKET} #progress", f"GET {SOCKET} #log"}


def test_socket_message_types_are_cut() -> None:
    learner = ShapeLearner(DriftSettings(min_responses=1))
    checks = SocketChecks(inspector(learner), SOCKET, Side.LEGACY)
    checks.frame(Side.LEGACY, {"type": "t" * 100})
    assert list(learner.report()) == [f"GET {SOCKET} #{'t' * 64}"]
