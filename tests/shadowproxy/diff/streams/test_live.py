"""The orchestrator stream: replies compared in pairs, whoever asked for them."""

from __future__ import annotations

from shadowproxy.diff.streams.frames import Frame, FrameKind
from shadowproxy.diff.streams.live import OrchestratorStream
from shadowproxy.types import Outcome, RouteGroup, Side

from .setups import stream_setup, upgraded


def test_an_orchestrator_reply_nobody_asked_for_is_compared_at_the_end() -> None:
    stream = OrchestratorStream(
        stream_setup(RouteGroup.WS_ORCHESTRATOR, "/ws/orchestrator", "live_signals")
    )
    upgraded(stream)
    stream.client(Frame(FrameKind.BINARY, b"\x00", 0.0))  # ignored by the backends: no reply
    error = b'{"error": "orchestrator setup failed"}'
    stream.frame(Side.LEGACY, Frame(FrameKind.TEXT, error, 1.0))
    stream.frame(Side.APP, Frame(FrameKind.TEXT, error, 1.5))
    [comparison] = stream.due(2.0)
    assert comparison.outcome is Outcome.MATCH
    assert comparison.exchange.comparison_id == "c1-0"
