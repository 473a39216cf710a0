"""The pure side of the websocket relay: the frame buffer and the per-route streams.

Its settings are read and checked with the others, in test_settings_load.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shadowproxy.correlation import CorrelationMap
from shadowproxy.diff.engine import DiffEngine
from shadowproxy.diff.streams.analysis import AnalysisStream
from shadowproxy.diff.streams.base import Setup, Timers
from shadowproxy.diff.streams.frames import Frame, FrameBuffer, FrameKind
from shadowproxy.diff.streams.live import OrchestratorStream
from shadowproxy.difflog.record import RecordBuilder
from shadowproxy.types import (
    DiffKind,
    Exchange,
    ExchangeKind,
    Observation,
    Outcome,
    RouteGroup,
    Side,
)

from ...ws_fakes import app_run, legacy_run, progress


def test_the_frame_buffer_drops_and_counts_beyond_its_bounds() -> None:
    buffer = FrameBuffer(max_frames=2, max_bytes=10)
    frames = [Frame(FrameKind.TEXT, data, 0.0) for data in (b"12345", b"123456", b"1234", b"1")]
    assert [buffer.push(frame) for frame in frames] == [True, False, True, False]
    assert (buffer.received, buffer.dropped) == (4, 2)
    assert [frame.data for frame in buffer.take()] == [b"12345", b"1234"]
    assert buffer.take() == []
    assert buffer.push(frames[1])  # room again once taken


@pytest.mark.parametrize(
    ("data", "kind", "parsed"),
    [
        pytest.param(b'{"a": 1}', FrameKind.TEXT, {"a": 1}, id="json"),
        pytest.param(b"{broken", FrameKind.TEXT, None, id="not-json"),
        pytest.param(b'{"a": 1}', FrameKind.BINARY, None, id="binary"),
        pytest.param(b"[" * 100 + b"]" * 100, FrameKind.TEXT, None, id="too-deep"),
    ],
)
def test_a_frame_is_json_only_when_it_is_sane_text(
    data: bytes, kind: FrameKind, parsed: object
) -> None:
    assert Frame(kind, data, 0.0).json() == parsed


def _setup(group: RouteGroup, route: str, profile: str, **timers: float) -> Setup:
    exchange = Exchange(
        comparison_id="c1",
        request_id="r1",
        kind=ExchangeKind.WS,
        route_group=group,
        route=route,
        method="GET",
        path="/ws/analysis/T1",
        authoritative=Side.LEGACY,
        profile=profile,
    )
    return Setup(
        exchange=exchange,
        engine=DiffEngine(),
        ids=CorrelationMap().aliases,
        timers=Timers(stall_s=timers.get("stall_s", 5.0), settle_s=timers.get("settle_s", 10.0)),
        opened_at=0.0,
        task_id="T1",
    )


def _analysis(**timers: float) -> AnalysisStream:
    stream = AnalysisStream(
        _setup(RouteGroup.WS_ANALYSIS, "/ws/analysis/{task_id}", "status_document", **timers)
    )
    for side in Side:
        stream.connected(Observation(side=side, status=101))
    return stream


def _feed(stream: AnalysisStream, side: Side, frames: list[str], start: float = 0.0) -> None:
    for index, text in enumerate(frames):
        stream.frame(side, Frame(FrameKind.TEXT, text.encode(), start + index))


def test_repeated_snapshots_reduce_to_distinct_states_and_publish_at_terminal_both() -> None:
    stream = _analysis()
    run = legacy_run("T1")
    _feed(stream, Side.LEGACY, [run[0], run[0], *run[1:]])
    assert stream.due(10.0) == []
    assert stream.deadline() == 6.0 + 10.0  # the legacy terminal frame came at 6 s
    _feed(stream, Side.APP, app_run("T1"), start=1.0)
    [comparison] = stream.due(7.0)
    assert comparison.outcome is Outcome.MATCH
    assert comparison.frames == {"legacy": 7, "app": 6}
    assert stream.due(8.0) == []
    assert stream.finish(9.0) == []  # published once


def test_a_connection_closed_mid_run_compares_the_last_snapshots_in_flight() -> None:
    stream = _analysis()
    _feed(stream, Side.LEGACY, legacy_run("T1")[:2])  # research 40
    _feed(stream, Side.APP, app_run("T1")[:3])  # trading 60
    [comparison] = stream.finish(5.0)
    assert comparison.outcome is Outcome.INFLIGHT_SKEW
    assert {d.field for d in comparison.differences} == {"progress", "current_stage"}


def test_leaving_a_terminal_state_is_a_stage_sequence_finding() -> None:
    stream = _analysis()
    run = legacy_run("T1")
    _feed(stream, Side.LEGACY, [*run, progress("T1", "running", "risk", 80)])
    _feed(stream, Side.APP, app_run("T1"))
    [comparison] = stream.finish(20.0)
    assert comparison.outcome is Outcome.MISMATCH
    assert comparison.differences[0].field == "stage_sequence"
    assert comparison.differences[0].kind is DiffKind.REORDERED
    assert comparison.reason is not None
    assert "legacy stage went backwards: completed portfolio 100 -> running risk 80" in (
        comparison.reason
    )


def test_the_stall_deadline_counts_from_the_authoritative_sides_last_frame() -> None:
    stream = _analysis(stall_s=2.0)
    _feed(stream, Side.LEGACY, legacy_run("T1")[:1], start=1.0)  # analysts at 1 s, then silence
    assert stream.deadline() is None  # the shadow has not moved
    _feed(stream, Side.APP, app_run("T1")[:2], start=1.5)  # analysts, research at 2.5 s
    assert stream.deadline() == 3.0
    assert stream.due(2.9) == []
    [comparison] = stream.due(3.0)
    assert [d.field for d in comparison.differences] == ["progress_stalled"]


def test_an_orchestrator_reply_nobody_asked_for_is_compared_at_the_end() -> None:
    stream = OrchestratorStream(
        _setup(RouteGroup.WS_ORCHESTRATOR, "/ws/orchestrator", "live_signals")
    )
    for side in Side:
        stream.connected(Observation(side=side, status=101))
    stream.client(Frame(FrameKind.BINARY, b"\x00", 0.0))  # ignored by the backends: no reply
    error = b'{"error": "orchestrator setup failed"}'
    stream.frame(Side.LEGACY, Frame(FrameKind.TEXT, error, 1.0))
    stream.frame(Side.APP, Frame(FrameKind.TEXT, error, 1.5))
    [comparison] = stream.due(2.0)
    assert comparison.outcome is Outcome.MATCH
    assert comparison.exchange.comparison_id == "c1-0"


def test_a_websocket_record_carries_its_frame_counts() -> None:
    stream = _analysis()
    _feed(stream, Side.LEGACY, legacy_run("T1"))
    _feed(stream, Side.APP, app_run("T1"))
    [comparison] = stream.due(10.0)
    record = RecordBuilder.create(()).build(comparison, datetime(2026, 4, 13, tzinfo=UTC))
    assert record["kind"] == "ws"
    assert record["frames"] == {"legacy": 6, "app": 6}
    assert record["legacy"] == {"status": 101, "latency_ms": 0.0, "error": None}
