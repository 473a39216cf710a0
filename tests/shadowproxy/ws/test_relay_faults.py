"""Fault injection on the websocket path: every way `faults.FaultServer` breaks, on either side.

Each test runs one session with both sides healthy (the reference), then REPEAT with one side
broken, then one more once it healed, through the real proxy and relay in front of two
`FaultServer`s, on a generic route (frames compared one by one). A client session (`watch`)
reads half the frames, waits until the shadow's upgrade is decided, sends one frame (which is
when a side's mid-stream fault strikes), reads the rest, waits until the shadow sent what it
will, and closes. A broken shadow never changes what the client sees; a broken authoritative
upgrade is a 502/504 with a JSON `detail` or the side's own status, never later than the
upstream timeout (plus BOUND_S's slack); an authoritative socket breaking mid-stream closes the
client at once; healed, the next session is the reference again; nothing is left behind (fds,
tasks).
A side that vanishes mid-stream (a reset, or a FIN without a close frame), closes 1011, or
answers the upgrade with a broken 101 (a bad Sec-WebSocket-Accept) is compared as that side's
error; the client of a vanished authoritative side is closed with 1014 (bad gateway).

Only HANG runs with the fault suite's short timeouts (its answer is the timeout); the other
cases keep the proxy's defaults, so no healthy session races a timer (`env`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import orjson
import pytest
from aiohttp import WSMsgType

from shadowproxy.types import Comparison, Outcome, Side, SkipReason

from ..factories import ServerFactory
from ..faults import (
    BOUND_S,
    FRAMES,
    HALF,
    Fault,
    FaultyProxy,
    faulty_proxy,
    frames_sent,
    no_leaks,
    refused,
    resources,
)
from ..faults import ENV as FAULT_ENV
from ..ws_fakes import until

T = TypeVar("T")

ENV = {**FAULT_ENV, "SHADOWPROXY_WS_SETTLE_S": "0.3"}
TIMEOUTS = ("SHADOWPROXY_SHADOW_TIMEOUT_S", "SHADOWPROXY_UPSTREAM_TIMEOUT_S")
REPEAT = 2  # sessions with the side broken: a leak per session shows twice
ROUTE = "/ws/feed"  # no route of the table: group system, the generic stream
UPGRADE = {
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}


@dataclass(frozen=True)
class Watched:
    """What the client saw: the frames, who closed, and with which code and reason."""

    frames: tuple[str, ...]
    closed_by: str  # "client" once it had every frame it waited for, else "proxy"
    code: int | None
    reason: str


def env(fault: Fault) -> dict[str, str]:
    """The proxy's settings for a test of `fault`: ENV's short timeouts for HANG only.

    The proxy runs on this process's event loop, and one pause of it outlasted the 0.25 s shadow
    timeout while a healthy session's shadow connected (a full collection of a long suite's heap:
    0.25-0.5 s for 2M objects here); the session then waited out BOUND_S for frames the shadow
    never got (the error_500 case, twice in full-suite CI runs). No other fault needs a timeout.
    """
    if fault is Fault.HANG:
        return ENV
    return {name: value for name, value in ENV.items() if name not in TIMEOUTS}


def shadow_progress(rig: FaultyProxy) -> tuple[float, float]:
    """The shadow side's upgrades decided (any result) and data frames received, so far."""
    proxy = rig.proxy
    decided = sum(
        proxy.connections("system", "app", result) for result in ("connected", "refused", "failed")
    )
    labels = {"route_group": "system", "side": "app", "direction": "received"}
    return decided, proxy.metric("shadowproxy_ws_frames_total", **labels)


async def watch(rig: FaultyProxy, *, frames: int, shadow_frames: int) -> Watched:
    """One client session (see the module docstring): reads up to `frames` frames; before it
    closes, the shadow (app) has received `shadow_frames` more."""
    decided, received = shadow_progress(rig)
    seen: list[str] = []
    async with (
        asyncio.timeout(BOUND_S),
        rig.client.ws_connect(rig.proxy.url(ROUTE)) as ws,
    ):
        while len(seen) < frames:
            if len(seen) == HALF:
                await until(lambda: shadow_progress(rig)[0] > decided)
                await ws.send_str("go")
            message = await ws.receive()
            if message.type is not WSMsgType.TEXT:
                code = message.data if message.type is WSMsgType.CLOSE else None
                return Watched(tuple(seen), "proxy", code, message.extra or "")
            seen.append(message.data)
        await until(lambda: shadow_progress(rig)[1] >= received + shadow_frames)
        await ws.close()
    return Watched(tuple(seen), "client", ws.close_code, "")


async def healthy_session(rig: FaultyProxy) -> Watched:
    return await watch(rig, frames=len(FRAMES), shadow_frames=len(FRAMES))


async def exercise(
    rig: FaultyProxy, side: Side, fault: Fault, attempt: Callable[[], Awaitable[T]]
) -> tuple[list[T], list[Comparison]]:
    """A healthy session, REPEAT `attempt`s with `side` broken by `fault`, a healthy session
    once it healed; asserts both healthy ones are the reference and matches, and that no fd or
    task was left behind. Returns what the attempts gave and the comparisons they published."""
    sink = rig.proxy.sink
    reference = Watched(FRAMES, "client", 1000, "")
    assert await healthy_session(rig) == reference
    await rig.settled()
    assert [c.outcome for c in sink.comparisons] == [Outcome.MATCH]
    before = resources()

    await rig.sides[side].set(fault)
    results = []
    for _ in range(REPEAT):
        results.append(await attempt())
        await rig.settled()
    broken = sink.comparisons[1:]

    await rig.sides[side].set(Fault.HEALTHY)
    assert await healthy_session(rig) == reference
    await rig.settled()
    assert sink.comparisons[-1].outcome is Outcome.MATCH, sink.comparisons[-1]
    await no_leaks(before)
    return results, broken


# ---------------------------------------------------------------- the shadow breaks

SHADOW_FAULTS = [
    Fault.REFUSE,
    Fault.HANG,
    Fault.GARBAGE,
    Fault.ERROR_500,
    Fault.WS_BAD_ACCEPT,
    Fault.WS_RESET,
    Fault.WS_EOF,
    Fault.WS_1011,
    Fault.WS_FLOOD,
]


async def broken_shadow_sessions(
    aiohttp_server: ServerFactory, tmp_path: Path, fault: Fault
) -> tuple[list[Watched], list[Comparison], str]:
    """The sessions with the shadow broken by `fault`, their comparisons, and how the proxy
    describes the shadow refusing a connection."""
    async with faulty_proxy(aiohttp_server, tmp_path, env(fault)) as rig:

        async def session() -> Watched:
            return await watch(rig, frames=len(FRAMES), shadow_frames=len(frames_sent(fault)))

        sessions, comparisons = await exercise(rig, Side.APP, fault, session)
        return sessions, comparisons, refused(rig.sides[Side.APP])


@pytest.mark.parametrize("fault", [pytest.param(fault, id=str(fault)) for fault in SHADOW_FAULTS])
async def test_a_broken_shadow_websocket_never_reaches_the_client(
    aiohttp_server: ServerFactory, tmp_path: Path, fault: Fault
) -> None:
    sessions, comparisons, _ = await broken_shadow_sessions(aiohttp_server, tmp_path, fault)
    assert sessions == [Watched(FRAMES, "client", 1000, "")] * REPEAT
    assert len(comparisons) == REPEAT


@pytest.mark.parametrize(
    ("fault", "outcome", "reason"),
    [
        pytest.param(Fault.REFUSE, Outcome.SHADOW_ERROR, "shadow app: {refused}", id="refuse"),
        pytest.param(Fault.HANG, Outcome.SHADOW_ERROR, "shadow app: timed out", id="hang"),
        pytest.param(
            Fault.GARBAGE,
            Outcome.SHADOW_ERROR,
            "shadow app: failed: ClientResponseError",
            id="garbage",
        ),
        pytest.param(Fault.ERROR_500, Outcome.SHADOW_ERROR, "shadow app: HTTP 500", id="500"),
        pytest.param(
            Fault.WS_FLOOD, Outcome.SKIPPED, SkipReason.FRAMES_DROPPED.value, id="ws_flood"
        ),
        pytest.param(
            Fault.WS_BAD_ACCEPT,
            Outcome.SHADOW_ERROR,
            None,
            id="ws_bad_accept",
        ),
        pytest.param(
            Fault.WS_RESET,
            Outcome.SHADOW_ERROR,
            None,
            id="ws_reset",
        ),
        pytest.param(
            Fault.WS_EOF,
            Outcome.SHADOW_ERROR,
            None,
            id="ws_eof",
        ),
        pytest.param(
            Fault.WS_1011,
            Outcome.SHADOW_ERROR,
            None,
            id="ws_1011",
        ),
    ],
)
async def test_a_broken_shadow_websocket_is_compared_as_the_shadows_error(
    aiohttp_server: ServerFactory,
    tmp_path: Path,
    fault: Fault,
    outcome: Outcome,
    reason: str | None,
) -> None:
    """`reason` None: only that it is the shadow's (its wording is the fix's to choose)."""
    _, comparisons, refusal = await broken_shadow_sessions(aiohttp_server, tmp_path, fault)
    for comparison in comparisons:
        assert comparison.outcome is outcome, comparison
        if reason is None:
            assert comparison.reason is not None
            assert comparison.reason.startswith("shadow app: "), comparison
        else:
            assert comparison.reason == reason.format(refused=refusal)


# ---------------------------------------------------------------- the authoritative side breaks


@pytest.mark.parametrize(
    ("fault", "status", "detail"),
    [
        pytest.param(Fault.REFUSE, 502, "legacy upstream {refused}", id="refuse"),
        pytest.param(Fault.HANG, 504, "legacy upstream timed out", id="hang"),
        pytest.param(
            Fault.GARBAGE, 502, "legacy upstream failed: ClientResponseError", id="garbage"
        ),
        pytest.param(
            Fault.ERROR_500,
            500,  # the side's own status, passed through
            "legacy upstream refused the websocket upgrade with HTTP 500",
            id="500",
        ),
        pytest.param(
            Fault.WS_BAD_ACCEPT,
            502,
            None,
            id="ws_bad_accept",
        ),
    ],
)
async def test_a_broken_authoritative_upgrade_is_a_json_error_then_the_proxy_recovers(
    aiohttp_server: ServerFactory,
    tmp_path: Path,
    fault: Fault,
    status: int,
    detail: str | None,
) -> None:
    """`detail` None: any detail (its wording is the fix's to choose)."""
    async with faulty_proxy(aiohttp_server, tmp_path, env(fault)) as rig:

        async def upgrade() -> tuple[int, str | None, bytes]:
            async with (
                asyncio.timeout(BOUND_S),
                rig.client.get(rig.proxy.url(ROUTE), headers=UPGRADE) as response,
            ):
                return response.status, response.content_type, await response.read()

        answers, comparisons = await exercise(rig, Side.LEGACY, fault, upgrade)
        refusal = refused(rig.sides[Side.LEGACY])
    assert comparisons == []  # the client was never accepted: nothing was shadowed
    for answer in answers:
        assert answer[:2] == (status, "application/json")
        body = orjson.loads(answer[2])
        assert isinstance(body, dict)
        assert list(body) == ["detail"]
        if detail is not None:
            assert body["detail"] == detail.format(refused=refusal)


MID_STREAM = {  # what the client sees when the authoritative side breaks after half the frames
    Fault.WS_RESET: Watched(FRAMES[:HALF], "proxy", 1014, ""),  # bad gateway
    Fault.WS_EOF: Watched(FRAMES[:HALF], "proxy", 1014, ""),
    Fault.WS_1011: Watched(FRAMES[:HALF], "proxy", 1011, "boom"),  # passed through
    Fault.WS_FLOOD: Watched(frames_sent(Fault.WS_FLOOD), "client", 1000, ""),  # every frame
}


async def broken_authoritative_sessions(
    aiohttp_server: ServerFactory, tmp_path: Path, fault: Fault
) -> tuple[list[Watched], list[Comparison]]:
    async with faulty_proxy(aiohttp_server, tmp_path, env(fault)) as rig:

        async def session() -> Watched:
            frames = max(len(FRAMES), len(frames_sent(fault)))  # or until the proxy closes it
            return await watch(rig, frames=frames, shadow_frames=len(FRAMES))

        return await exercise(rig, Side.LEGACY, fault, session)


@pytest.mark.parametrize(
    ("fault", "seen"), [pytest.param(*item, id=item[0].value) for item in MID_STREAM.items()]
)
async def test_an_authoritative_websocket_breaking_mid_stream_closes_the_client_then_recovers(
    aiohttp_server: ServerFactory, tmp_path: Path, fault: Fault, seen: Watched
) -> None:
    sessions, _ = await broken_authoritative_sessions(aiohttp_server, tmp_path, fault)
    assert sessions == [seen] * REPEAT


@pytest.mark.parametrize(
    ("fault", "outcome"),
    [
        pytest.param(Fault.WS_FLOOD, Outcome.SKIPPED, id="ws_flood"),
        pytest.param(
            Fault.WS_RESET,
            Outcome.AUTHORITATIVE_ERROR,
            id="ws_reset",
        ),
        pytest.param(
            Fault.WS_EOF,
            Outcome.AUTHORITATIVE_ERROR,
            id="ws_eof",
        ),
        pytest.param(
            Fault.WS_1011,
            Outcome.AUTHORITATIVE_ERROR,
            id="ws_1011",
        ),
    ],
)
async def test_an_authoritative_websocket_breaking_mid_stream_is_compared_as_its_error(
    aiohttp_server: ServerFactory, tmp_path: Path, fault: Fault, outcome: Outcome
) -> None:
    _, comparisons = await broken_authoritative_sessions(aiohttp_server, tmp_path, fault)
    assert len(comparisons) == REPEAT
    for comparison in comparisons:
        assert comparison.outcome is outcome, comparison
        if outcome is Outcome.SKIPPED:  # the flood outgrew the comparison's buffer
            assert comparison.reason == SkipReason.FRAMES_DROPPED.value
        else:
            assert comparison.reason is not None
            assert comparison.reason.startswith("authoritative legacy: "), comparison
