"""Any other websocket route: the two sides' frames compared one by one, by kind and bytes.

Only digests of the frames one side sent ahead of the other are held (at most `max_pending`
per side; beyond that they are counted as dropped), and at most `max_differences` differing
positions are listed. The comparison is published when the connection ends.
"""

from __future__ import annotations

from collections import deque

from shadowproxy.diff.profile import digest
from shadowproxy.diff.streams.base import SIDES, Setup, Stream, Verdict
from shadowproxy.diff.streams.frames import Frame
from shadowproxy.types import Comparison, Difference, DiffKind, JSONValue, Side


class GenericStream(Stream):
    def __init__(self, setup: Setup, *, max_pending: int, max_differences: int) -> None:
        super().__init__(setup)
        self._pending: dict[Side, deque[JSONValue]] = {side: deque() for side in SIDES}
        self._max_pending = max_pending
        self._max_differences = max_differences
        self._compared = 0
        self._differences: list[Difference] = []
        self._published = False

    def client(self, frame: Frame) -> None:
        """Client frames are what both sides answer; only the answers are compared."""

    def on_frame(self, side: Side, frame: Frame) -> None:
        pending = self._pending[side]
        if len(pending) >= self._max_pending:
            self.dropped(side, 1, seen=True)
            return
        pending.append(f"{frame.kind} {digest(frame.data)}")
        legacy, app = (self._pending[side] for side in SIDES)
        while legacy and app:
            left, right = legacy.popleft(), app.popleft()
            if left != right and len(self._differences) < self._max_differences:
                self._differences.append(
                    Difference(f"frames[{self._compared}]", DiffKind.CHANGED, left, right)
                )
            self._compared += 1

    def deadline(self) -> float | None:
        return None

    def due(self, now: float) -> list[Comparison]:
        return []

    def finish(self, now: float) -> list[Comparison]:
        if self._published:
            return []
        self._published = True
        verdict = Verdict(found=list(self._differences))
        legacy, app = (self.records[side].frames for side in SIDES)
        if legacy != app:
            verdict.found.append(Difference("frames.count", DiffKind.CHANGED, legacy, app))
        verdict.found.extend(self.early_close())
        return [self.compose(verdict)]
