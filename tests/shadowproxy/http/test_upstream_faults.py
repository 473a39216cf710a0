"""Fault injection on the HTTP path: every way `faults.FaultServer` breaks, on either side.

Each test runs one exchange with both sides healthy (the reference answer), then REPEAT with
one side broken, then one more once it healed, through the real proxy in front of two
`FaultServer`s. A broken shadow never changes what the client gets: every answer is the
reference (status, reason, every header but Date, body), and its comparison names the
failure. A broken authoritative side is a 502/504 with a JSON `detail`, its own error passed
through, or, once its status line went out, a cut connection; never later than the upstream
timeout (plus BOUND_S's slack); and the next request after it healed is answered as before,
without a restart. Nothing is left behind: fds and tasks are back to what they were before.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson
import pytest

from shadowproxy.types import Comparison, Outcome, Side

from ..factories import ServerFactory
from ..faults import (
    BOUND_S,
    ENV,
    ERROR_BODY,
    Fault,
    FaultyProxy,
    faulty_proxy,
    healthy_body,
    no_leaks,
    refused,
    resources,
)

HEAL_TRIES = 3
REPEAT = 2  # exchanges with the side broken: a leak per exchange shows twice
TARGET = "/faults/probe"  # an unknown route: group system, shadowed, compared as bytes
REQUEST_ID = "fault-probe"  # sent by the client, so every answer carries the same one


@dataclass(frozen=True)
class Answer:
    """What the client got: status line, headers as sent (Date left out), body."""

    status: int
    reason: str | None
    headers: tuple[tuple[str, str], ...]
    body: bytes | None  # None: the connection was cut before Content-Length bytes came


async def ask(rig: FaultyProxy) -> Answer:
    async with (
        asyncio.timeout(BOUND_S),
        rig.client.get(rig.proxy.url(TARGET), headers={"X-Request-ID": REQUEST_ID}) as response,
    ):
        try:
            body: bytes | None = await response.read()
        except aiohttp.ClientPayloadError:
            body = None
    headers = tuple((name, value) for name, value in response.headers.items() if name != "Date")
    return Answer(response.status, response.reason, headers, body)


async def exercise(
    rig: FaultyProxy, side: Side, fault: Fault
) -> tuple[Answer, list[tuple[Answer, Comparison]]]:
    """The reference exchange, REPEAT with `side` broken by `fault`, one after healing it;
    asserts the healed one is the reference again and a match, and that no fd or task was
    left behind. Returns the reference answer and the broken exchanges with their comparisons.
    """
    sink = rig.proxy.sink
    reference = await ask(rig)
    assert (reference.status, reference.body) == (200, healthy_body(TARGET))
    assert (await sink.wait_for(1))[-1].outcome is Outcome.MATCH
    await rig.settled()
    before = resources()

    await rig.sides[side].set(fault)
    broken = []
    for count in range(2, REPEAT + 2):
        answer = await ask(rig)
        broken.append((answer, (await sink.wait_for(count))[-1]))
        await rig.settled()

    await rig.sides[side].set(Fault.HEALTHY)
    # healed: the reference again, and a match; a loaded machine may take a shadow past the
    # short SHADOW_TIMEOUT_S once, so up to HEAL_TRIES exchanges, each the reference
    for count in range(REPEAT + 2, REPEAT + 2 + HEAL_TRIES):
        assert await ask(rig) == reference
        healed = (await sink.wait_for(count))[-1]
        if healed.outcome is Outcome.MATCH or healed.reason != "shadow app: timed out":
            break
    assert healed.outcome is Outcome.MATCH, healed
    await rig.settled()
    await no_leaks(before)
    return reference, broken


SHADOW_FAILURES = {
    Fault.REFUSE: (Outcome.SHADOW_ERROR, "shadow app: {refused}"),
    Fault.RESET: (Outcome.SHADOW_ERROR, "shadow app: failed: ClientPayloadError"),
    Fault.HANG: (Outcome.SHADOW_ERROR, "shadow app: timed out"),
    Fault.GARBAGE: (Outcome.SHADOW_ERROR, "shadow app: failed: ClientResponseError"),
    # the declared body is the healthy one; what follows it must never become an answer
    Fault.SHORT_LENGTH: (Outcome.MATCH, None),
    Fault.LONG_LENGTH: (Outcome.SHADOW_ERROR, "shadow app: failed: ClientPayloadError"),
    Fault.TRICKLE: (Outcome.SHADOW_ERROR, "shadow app: timed out"),  # its total timeout
    Fault.ERROR_500: (Outcome.SHADOW_ERROR, "shadow app: HTTP 500"),
}


@pytest.mark.parametrize(
    ("fault", "outcome", "reason"),
    [pytest.param(fault, *expected, id=fault.value) for fault, expected in SHADOW_FAILURES.items()],
)
async def test_a_broken_shadow_never_reaches_the_client_and_is_compared_as_its_failure(
    aiohttp_server: ServerFactory,
    tmp_path: Path,
    fault: Fault,
    outcome: Outcome,
    reason: str | None,
) -> None:
    async with faulty_proxy(aiohttp_server, tmp_path, ENV) as rig:
        if reason is not None:
            reason = reason.format(refused=refused(rig.sides[Side.APP]))
        reference, broken = await exercise(rig, Side.APP, fault)
        for answer, comparison in broken:
            assert answer == reference
            assert comparison.outcome is outcome, comparison
            assert comparison.reason == reason


GATEWAY_ERRORS = {  # the client's status; what the side did, in its detail and the reason
    Fault.REFUSE: (502, "{refused}"),
    Fault.HANG: (504, "timed out"),
    Fault.GARBAGE: (502, "failed: ClientResponseError"),
}


@pytest.mark.parametrize(
    ("fault", "status", "failure"),
    [pytest.param(fault, *expected, id=fault.value) for fault, expected in GATEWAY_ERRORS.items()],
)
async def test_an_authoritative_side_without_an_answer_is_a_json_gateway_error_then_recovers(
    aiohttp_server: ServerFactory, tmp_path: Path, fault: Fault, status: int, failure: str
) -> None:
    async with faulty_proxy(aiohttp_server, tmp_path, ENV) as rig:
        failure = failure.format(refused=refused(rig.sides[Side.LEGACY]))
        _, broken = await exercise(rig, Side.LEGACY, fault)
        for answer, comparison in broken:
            assert answer.status == status
            headers = dict(answer.headers)
            assert headers["Content-Type"] == "application/json; charset=utf-8"
            assert headers["X-Shadowproxy-Authoritative"] == "legacy"
            assert headers["X-Request-ID"] == REQUEST_ID
            assert answer.body is not None
            assert orjson.loads(answer.body) == {"detail": f"legacy upstream {failure}"}
            assert comparison.outcome is Outcome.AUTHORITATIVE_ERROR
            assert comparison.reason == f"authoritative legacy: {failure}"


async def test_an_authoritative_500_is_passed_through_as_it_is_then_recovers(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    async with faulty_proxy(aiohttp_server, tmp_path, ENV) as rig:
        _, broken = await exercise(rig, Side.LEGACY, Fault.ERROR_500)
        for answer, comparison in broken:
            assert (answer.status, answer.reason, answer.body) == (
                500,
                "Internal Server Error",
                ERROR_BODY,
            )
            assert dict(answer.headers)["Content-Type"] == "application/json"
            assert comparison.outcome is Outcome.AUTHORITATIVE_ERROR
            assert comparison.reason == "authoritative legacy: HTTP 500"


@pytest.mark.parametrize(
    ("fault", "declared"),
    [
        pytest.param(Fault.RESET, 1, id=Fault.RESET.value),
        pytest.param(Fault.LONG_LENGTH, 2, id=Fault.LONG_LENGTH.value),
    ],
)
async def test_an_authoritative_side_failing_mid_body_cuts_the_client_then_recovers(
    aiohttp_server: ServerFactory, tmp_path: Path, fault: Fault, declared: int
) -> None:
    async with faulty_proxy(aiohttp_server, tmp_path, ENV) as rig:
        reference, broken = await exercise(rig, Side.LEGACY, fault)
        length = str(declared * len(healthy_body(TARGET)))
        headers = tuple((k, length if k == "Content-Length" else v) for k, v in reference.headers)
        for answer, comparison in broken:
            # the status line and the side's own Content-Length went out before the body broke:
            # the only honest signal left is the connection cut short of that length
            assert answer == Answer(200, "OK", headers, None)
            assert comparison.outcome is Outcome.AUTHORITATIVE_ERROR
            assert comparison.reason == "authoritative legacy: failed: ClientPayloadError"


@pytest.mark.parametrize("fault", [Fault.TRICKLE, Fault.SHORT_LENGTH], ids=str)
async def test_an_authoritative_side_slow_or_overlong_still_gives_the_client_its_answer(
    aiohttp_server: ServerFactory, tmp_path: Path, fault: Fault
) -> None:
    async with faulty_proxy(aiohttp_server, tmp_path, ENV) as rig:
        reference, broken = await exercise(rig, Side.LEGACY, fault)
        for answer, comparison in broken:
            assert answer == reference  # SHORT_LENGTH: never the response that followed it
            assert comparison.outcome is Outcome.MATCH, comparison
