"""What the relay records of a websocket: data frames with the time they arrived, bounded.

The buffer is where the relay hands frames to the comparison without ever waiting: a push that
would exceed the frame or byte bound is dropped and counted, so a flooding side costs at most
the bound in memory and never slows the client's frames.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import StrEnum

import orjson

from shadowproxy.diff.profile import may_be_too_deep, too_deep
from shadowproxy.types import JSONValue


class FrameKind(StrEnum):
    TEXT = "text"
    BINARY = "binary"


@dataclass(frozen=True, slots=True)
class Frame:
    kind: FrameKind
    data: bytes  # text frames as UTF-8
    at: float  # the proxy's monotonic clock when the frame arrived

    def json(self) -> JSONValue | None:
        """The frame as a JSON document, or None for binary, non-JSON or absurdly nested text."""
        if self.kind is not FrameKind.TEXT:
            return None
        try:
            value: JSONValue = orjson.loads(self.data)
        except orjson.JSONDecodeError:
            return None
        return None if may_be_too_deep(self.data) and too_deep(value) else value


class FrameBuffer:
    def __init__(self, *, max_frames: int, max_bytes: int) -> None:
        self._max_frames = max_frames
        self._max_bytes = max_bytes
        self._frames: deque[Frame] = deque()
        self._bytes = 0
        self.received = 0
        self.dropped = 0

    def push(self, frame: Frame) -> bool:
        """Keep the frame, or drop and count it when the buffer is full; never blocks."""
        self.received += 1
        size = len(frame.data)
        if len(self._frames) >= self._max_frames or self._bytes + size > self._max_bytes:
            self.dropped += 1
            return False
        self._frames.append(frame)
        self._bytes += size
        return True

    def take(self) -> list[Frame]:
        """Everything held, oldest first; the buffer is empty afterwards."""
        frames = list(self._frames)
        self._frames.clear()
        self._bytes = 0
        return frames
