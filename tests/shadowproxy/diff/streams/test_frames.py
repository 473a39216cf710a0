"""The frame buffer of a websocket comparison and what a frame is worth comparing.

Its settings are read and checked with the others, in tests/shadowproxy/test_settings.py.
"""

from __future__ import annotations

import pytest

from shadowproxy.diff.streams.frames import Frame, FrameBuffer, FrameKind


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
