"""The analysis stream: progress snapshots of both sides, compared once both are terminal."""

from __future__ import annotations

from datetime import UTC, datetime

from shadowproxy.diff.streams.analysis import AnalysisStream
from shadowproxy.diff.streams.frames import Frame, FrameKind
from shadowproxy.difflog.record import RecordBuilder
from shadowproxy.types import DiffKind, Outcome, RouteGroup, Side

from ...ws_fakes import app_run, legacy_run, progress
from .setups import stream_setup, upgraded


def _analysis(**timers: float) -> AnalysisStream:
    stream = AnalysisStream(
        stream_setup(RouteGroup.WS_ANALYSIS, "/ws/analysis/{task_id}", "status_document", **timers)
    )
    upgraded(stream)
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


def test_a_websocket_record_carries_its_frame_counts() -> None:
    stream = _analysis()
    _feed(stream, Side.LEGACY, legacy_run("T1"))
    _feed(stream, Side.APP, app_run("T1"))
    [comparison] = stream.due(10.0)
    record = RecordBuilder.create(()).build(comparison, datetime(2026, 4, 13, tzinfo=UTC))
    assert record["kind"] == "ws"
    assert record["frames"] == {"legacy": 6, "app": 6}
    assert record["legacy"] == {"status": 101, "latency_ms": 0.0, "error": None}
