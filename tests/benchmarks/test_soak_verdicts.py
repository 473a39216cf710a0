"""The soak's first criterion: how a client's answer is judged against legacy's own answer.

Only what the client got byte for byte as legacy sent it is identical; a gateway error without
any answer from legacy is the authoritative restart's only inside legacy's downtime; everything
else is a difference.
"""

from __future__ import annotations

import pytest

from benchmarks.soak import DIFFERENT, IDENTICAL, RESTART, Window, classify_call, classify_watch
from benchmarks.tap import Answer, Message, Socket, Tap, digest
from benchmarks.traffic import Call, Watch

BODY = digest(b'{"status": "completed"}')
DOWN = [Window("legacy", down_s=10.0, up_s=12.0), Window("app", down_s=20.0, up_s=22.0)]


def tap_with(*answers: tuple[str, int, bytes]) -> Tap:
    tap = Tap(lambda: 0.0)
    for request_id, status, body in answers:
        tap.answers[request_id].append(Answer("GET", "/api/analysis/tasks", status, body, 1.0))
    return tap


def call(status: int | None, body: bytes | None = BODY, *, at: float = 1.0) -> Call:
    error = None if status is not None else "ServerDisconnectedError"
    return Call("r1", "tasks", "GET", "/api/analysis/tasks", at, at + 0.1, status, body, error)


@pytest.mark.parametrize(
    ("answers", "got", "verdict"),
    [
        ([("r1", 200, BODY)], call(200), IDENTICAL),
        ([("r1", 200, BODY)], call(200, digest(b"{}")), DIFFERENT),  # another body
        ([("r1", 200, BODY)], call(502), DIFFERENT),  # legacy answered, the client did not get it
        ([("r1", 502, BODY), ("r1", 200, BODY)], call(200), IDENTICAL),  # a retried request
        ([], call(502, at=11.0), RESTART),  # nothing from legacy while it was down
        ([], call(None, None, at=13.5), RESTART),  # within the grace after it came back
        ([], call(502, at=5.0), DIFFERENT),  # nothing from legacy, and it was up
        ([], call(502, at=21.0), DIFFERENT),  # the shadow's restart excuses nothing
        ([], call(500, at=11.0), DIFFERENT),  # not a gateway error
    ],
)
def test_http_answers(answers: list[tuple[str, int, bytes]], got: Call, verdict: str) -> None:
    assert classify_call(got, tap_with(*answers), DOWN) == verdict


def messages(*texts: bytes, at: float = 2.0) -> list[Message]:
    return [Message(1, digest(text), at) for text in texts]


def socket_tap(sent: list[Message], close_code: int | None) -> Tap:
    tap = Tap(lambda: 0.0)
    tap.sockets["w1"] = Socket("/ws/analysis/T", sent, close_code)
    return tap


def watch(got: list[Message], *, closed_at: float | None = None, close: int | None = None) -> Watch:
    return Watch(
        "w1",
        "/ws/analysis/T",
        1.0,
        False,
        status=101,
        messages=got,
        server_close=close,
        client_closed_at=closed_at,
        ended=5.0 if closed_at is None else closed_at,
    )


@pytest.mark.parametrize(
    ("sent", "close_code", "got", "verdict"),
    [
        (messages(b"a", b"b"), None, watch(messages(b"a", b"b"), closed_at=4.0), IDENTICAL),
        # sent by legacy just before the client closed: still on its way, not lost
        (
            messages(b"a") + messages(b"b", at=3.5),
            None,
            watch(messages(b"a"), closed_at=4.0),
            IDENTICAL,
        ),
        # sent long before the client closed and never delivered: lost
        (messages(b"a", b"b"), None, watch(messages(b"a"), closed_at=4.0), DIFFERENT),
        (messages(b"a", b"b"), None, watch(messages(b"b", b"a"), closed_at=4.0), DIFFERENT),
        (messages(b"a"), 1001, watch(messages(b"a"), close=1001), IDENTICAL),
        (messages(b"a"), 1001, watch(messages(b"a"), close=1011), DIFFERENT),
        # legacy's socket died without a close frame, outside its restart
        (messages(b"a"), None, watch(messages(b"a"), close=1011), DIFFERENT),
    ],
)
def test_websockets(sent: list[Message], close_code: int | None, got: Watch, verdict: str) -> None:
    assert classify_watch(got, socket_tap(sent, close_code), DOWN) == verdict


def test_a_websocket_legacy_dropped_in_its_restart_is_the_restarts() -> None:
    dropped = Watch("w1", "/ws/analysis/T", 9.0, False, status=101, server_close=1011, ended=10.5)
    assert classify_watch(dropped, socket_tap([], None), DOWN) == RESTART


def test_a_refused_upgrade_is_judged_like_an_http_answer() -> None:
    refused = Watch("w1", "/ws/analysis/T", 11.0, False, status=502, ended=11.1)
    assert classify_watch(refused, Tap(lambda: 0.0), DOWN) == RESTART
    assert classify_watch(refused, tap_with(("w1", 404, BODY)), DOWN) == DIFFERENT
