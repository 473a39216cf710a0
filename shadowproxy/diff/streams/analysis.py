"""`/ws/analysis/{task_id}`: progress snapshots reduced to states, judged at the terminal state.

Per side, each `{"type": "progress", ...}` snapshot is projected with the route's status profile
and reduced to the sequence of distinct (status, current_stage, progress) states. A state whose
stage or progress is lower than the one before, or that leaves a terminal state, is a
`stage_sequence` finding on that side even when both sides agree. The terminal snapshots are
compared with the same profile as the HTTP status route; the comparison is published once, when
both sides reached a terminal state, `settle_s` after the first did, or when the connection
ends. While neither is terminal, the last snapshots are compared with the lifecycle tolerance.

Stall: when the authoritative side sent nothing for `stall_s` while the shadow progressed on the
same task after it, the comparison is published at once as a `progress_stalled` mismatch (the
"websocket clients stop receiving progress updates" rollback trigger).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shadowproxy.diff.profile import ProjectionContext
from shadowproxy.diff.streams.base import SIDES, Setup, Stream, Verdict, first_due
from shadowproxy.diff.streams.frames import Frame
from shadowproxy.diff.view import Lifecycle, View
from shadowproxy.types import Comparison, Difference, DiffKind, JSONValue, Side

STAGE_SEQUENCE = "stage_sequence"
PROGRESS_STALLED = "progress_stalled"


@dataclass(frozen=True, slots=True)
class State:
    status: JSONValue
    stage: JSONValue
    progress: JSONValue
    lifecycle: Lifecycle

    @classmethod
    def of(cls, view: View) -> State:
        fields = view.fields
        return cls(
            fields.get("status"),
            fields.get("current_stage"),
            fields.get("progress"),
            view.scopes.get("", Lifecycle(terminal=view.terminal)),
        )

    @property
    def key(self) -> tuple[JSONValue, JSONValue, JSONValue]:
        return (self.status, self.stage, self.progress)

    def label(self) -> str:
        return f"{self.status} {self.stage} {self.progress}"

    def goes_back_from(self, before: State) -> bool:
        now, then = self.lifecycle, before.lifecycle
        if then.terminal and not now.terminal:
            return True
        if now.stage is not None and then.stage is not None and now.stage < then.stage:
            return True
        if now.progress is None or then.progress is None:
            return False
        return now.progress < then.progress


@dataclass(slots=True)
class Track:
    """One side's reduced stream."""

    states: list[State] = field(default_factory=list)
    last: JSONValue = None  # the last progress snapshot, as parsed
    last_at: float | None = None  # when its last frame arrived
    changed_at: float | None = None  # when its state last changed
    terminal_at: float | None = None
    backwards: list[str] = field(default_factory=list)
    invalid: int = 0  # frames that are binary or not JSON

    def add(self, state: State, snapshot: JSONValue, at: float) -> None:
        self.last = snapshot
        if self.states and self.states[-1].key == state.key:
            return
        if self.states and state.goes_back_from(self.states[-1]):
            self.backwards.append(f"{self.states[-1].label()} -> {state.label()}")
        self.states.append(state)
        self.changed_at = at
        if state.lifecycle.terminal and self.terminal_at is None:
            self.terminal_at = at

    @property
    def terminal(self) -> bool:
        return bool(self.states) and self.states[-1].lifecycle.terminal

    def labels(self) -> list[JSONValue]:
        return [state.label() for state in self.states]

    def status(self) -> JSONValue:
        return self.states[-1].status if self.states else None


class AnalysisStream(Stream):
    def __init__(self, setup: Setup) -> None:
        super().__init__(setup)
        self._tracks = {side: Track() for side in SIDES}
        self._profile = self.engine.profile(self.exchange.profile, self.exchange.route)
        self._published = False

    def client(self, frame: Frame) -> None:
        """Client frames (pings) carry nothing to compare on this route."""

    def on_frame(self, side: Side, frame: Frame) -> None:
        track = self._tracks[side]
        track.last_at = frame.at
        value = frame.json()
        if value is None:
            track.invalid += 1
            return
        if not (isinstance(value, dict) and value.get("type") == "progress"):
            return  # {"type": "pong"}
        view = self._profile(value, ProjectionContext(side, self.ids))
        track.add(State.of(view), value, frame.at)

    def deadline(self) -> float | None:
        if self._published:
            return None
        return first_due([self._stall_at(), self._settle_at()])

    def due(self, now: float) -> list[Comparison]:
        if self._published:
            return []
        stall = self._stall_at()
        if stall is not None and now >= stall:
            return self._publish(stalled=True)
        settle = self._settle_at()
        settled = all(self._tracks[side].terminal or self.ended(side) for side in SIDES)
        if (settled and settle is not None) or (settle is not None and now >= settle):
            return self._publish()
        return []

    def finish(self, now: float) -> list[Comparison]:
        return [] if self._published else self._publish()

    # ------------------------------------------------------------------ internals

    def _stall_at(self) -> float | None:
        authoritative = self._tracks[self.authoritative]
        shadow = self._tracks[self.authoritative.other]
        if authoritative.terminal or shadow.changed_at is None:
            return None
        since = authoritative.last_at if authoritative.last_at is not None else self.opened_at
        return since + self.timers.stall_s if shadow.changed_at > since else None

    def _settle_at(self) -> float | None:
        first = first_due([track.terminal_at for track in self._tracks.values()])
        return None if first is None else first + self.timers.settle_s

    def _publish(self, *, stalled: bool = False) -> list[Comparison]:
        self._published = True
        return [self.compose(self._verdict(stalled))]

    def _verdict(self, stalled: bool) -> Verdict:
        legacy, app = (self._tracks[side] for side in SIDES)
        verdict = Verdict()
        for side in SIDES:
            if self._tracks[side].backwards:
                went = "; ".join(self._tracks[side].backwards[:3])
                verdict.notes.append(f"{side} stage went backwards: {went}")
        if legacy.backwards or app.backwards:
            verdict.found.append(
                Difference(STAGE_SEQUENCE, DiffKind.REORDERED, legacy.labels(), app.labels())
            )
        if stalled:
            last = [track.states[-1].label() if track.states else None for track in (legacy, app)]
            verdict.found.append(Difference(PROGRESS_STALLED, DiffKind.CHANGED, *last))
            verdict.notes.append(
                f"authoritative {self.authoritative} sent nothing for {self.timers.stall_s:g}s"
                f" while {self.authoritative.other} progressed"
            )
        verdict.found.extend(self.early_close())
        if stalled:  # the snapshots differ because of the stall: not findings of their own
            return verdict
        if legacy.invalid != app.invalid:
            verdict.found.append(
                Difference("invalid_frames", DiffKind.CHANGED, legacy.invalid, app.invalid)
            )
        if legacy.terminal != app.terminal:
            kind = DiffKind.MISSING if legacy.terminal else DiffKind.EXTRA
            verdict.found.append(Difference("terminal", kind, legacy.status(), app.status()))
        elif legacy.states and app.states:
            verdict.values = self.engine.compare_values(
                self.exchange.profile, legacy.last, app.last, self.ids, route=self.exchange.route
            )
        elif legacy.states or app.states:
            kind = DiffKind.MISSING if legacy.states else DiffKind.EXTRA
            verdict.found.append(Difference("progress", kind, legacy.status(), app.status()))
        return verdict
