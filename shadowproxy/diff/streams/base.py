"""One websocket connection's comparison: fed frames as they arrive, asked what is due.

A `Stream` is pure and synchronous. The relay feeds it the client's frames, each side's frames
and closes (with the proxy's monotonic time), and asks `due(now)` for the comparisons ready to
publish; `deadline()` says when to ask again at the latest (settle and stall timers), `finish(now)`
publishes what is left when the connection ends. The per-route streams decide what a comparison
is; the outcome rules they share (transport failures, the upgrade status, dropped frames, then
`diff.outcome.decide`) live here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from shadowproxy.diff import outcome as rules
from shadowproxy.diff.engine import DiffEngine, ValueComparison
from shadowproxy.diff.streams.frames import Frame
from shadowproxy.types import (
    Comparison,
    Difference,
    DiffKind,
    Exchange,
    IdAliases,
    Observation,
    Outcome,
    Side,
    SkipReason,
)

SIDES = (Side.LEGACY, Side.APP)
# close codes with which a side says it failed (RFC 6455 §7.4.1 and the IANA registry)
FAILURE_CLOSES = {
    1011: "internal error",
    1012: "service restart",
    1013: "try again later",
    1014: "bad gateway",
}


@dataclass(frozen=True, slots=True)
class Timers:
    stall_s: float  # SHADOWPROXY_WS_STALL_S
    settle_s: float  # SHADOWPROXY_WS_SETTLE_S


@dataclass(slots=True)
class SideRecord:
    """What one side did on this connection, beyond its frames."""

    observation: Observation | None = None  # the upgrade: status 101 and its latency, or a failure
    closed: int | None = None  # the close code the side sent first (it closed, not the proxy)
    frames: int = 0
    dropped: int = 0


@dataclass(slots=True)
class Verdict:
    """A comparison's findings before the shared rules turn them into a `Comparison`."""

    found: list[Difference] = field(default_factory=list)  # ws-level findings: always mismatches
    notes: list[str] = field(default_factory=list)  # why, for the comparison's reason
    values: ValueComparison | None = None  # the profile comparison of two documents, if any
    frames: Mapping[str, int] | None = None  # per side; the connection's counts when None


@dataclass(frozen=True, slots=True)
class Setup:
    """What every stream is built from."""

    exchange: Exchange
    engine: DiffEngine
    ids: IdAliases  # the correlation map's read view (app id -> legacy id)
    timers: Timers
    opened_at: float
    task_id: str | None = None  # the analysis the connection watches (legacy-side id)


class Stream(ABC):
    def __init__(self, setup: Setup) -> None:
        self.exchange = setup.exchange
        self.engine = setup.engine
        self.ids = setup.ids
        self.timers = setup.timers
        self.opened_at = setup.opened_at
        self.task_id = setup.task_id
        self.records = {side: SideRecord() for side in SIDES}
        self.proxy_close: str | None = None  # set when the proxy itself closed the connection

    @property
    def authoritative(self) -> Side:
        return self.exchange.authoritative

    # ------------------------------------------------------------------ what the relay reports

    def connected(self, observation: Observation) -> None:
        self.records[observation.side].observation = observation

    def lost(self, side: Side, error: str) -> None:
        """The side's connection broke without a close frame: it gave no (complete) answer."""
        record = self.records[side]
        if record.observation is not None and record.observation.error is None:
            record.observation = Observation(
                side=side, status=None, latency_s=record.observation.latency_s, error=error
            )

    def closed(self, side: Side, code: int) -> None:
        """The side sent a close frame (before the proxy closed it). A code that says the
        side failed (1011-1014: internal error, restarting, overloaded, bad gateway) is that
        side's error, as a broken connection is, not a difference between the sides."""
        record = self.records[side]
        if record.closed is None:
            record.closed = code
        failure = FAILURE_CLOSES.get(code)
        if failure is not None:
            self.lost(side, f"closed with {code} ({failure})")

    def ended(self, side: Side) -> bool:
        """The side will send nothing more: it closed, broke, or never connected."""
        record = self.records[side]
        return record.closed is not None or (
            record.observation is not None and record.observation.failed
        )

    def proxy_closed(self, code: int, why: str) -> None:
        """The proxy closed the connection itself (1008 client too slow, 1009 message too big):
        what the sides sent after it cannot be compared, the comparison is skipped, saying so."""
        if self.proxy_close is None:
            self.proxy_close = f"proxy closed the connection with {code} ({why})"

    def dropped(self, side: Side, count: int, *, seen: bool = False) -> None:
        """Frames that cannot be compared; `seen` ones already passed through `frame()`, the
        others never reached the stream (a full buffer) but count as frames the side sent."""
        record = self.records[side]
        record.dropped += count
        if not seen:
            record.frames += count

    def frame(self, side: Side, frame: Frame) -> None:
        self.records[side].frames += 1
        self.on_frame(side, frame)

    # ------------------------------------------------------------------ per route

    @abstractmethod
    def client(self, frame: Frame) -> None:
        """A data frame the client sent (to both sides)."""

    @abstractmethod
    def on_frame(self, side: Side, frame: Frame) -> None:
        """A data frame one side sent."""

    @abstractmethod
    def due(self, now: float) -> list[Comparison]:
        """Comparisons ready to publish at `now`."""

    @abstractmethod
    def deadline(self) -> float | None:
        """When `due` may have something new without a new frame (a timer), or None."""

    @abstractmethod
    def finish(self, now: float) -> list[Comparison]:
        """The connection ended: everything not yet published."""

    # ------------------------------------------------------------------ shared rules

    def early_close(self) -> list[Difference]:
        """A side that closed on its own while the other stayed open: one `close_code` finding."""
        legacy, app = (self.records[side].closed for side in SIDES)
        if (legacy is None) == (app is None):
            return []
        return [Difference("close_code", DiffKind.CHANGED, legacy=legacy, app=app)]

    def compose(self, verdict: Verdict, exchange: Exchange | None = None) -> Comparison:
        exchange = exchange or self.exchange
        frames = verdict.frames if verdict.frames is not None else self.frame_counts()
        if self.records[exchange.authoritative.other].observation is None:
            # the client left before the shadow connected: nothing to compare (as for HTTP)
            gone = SkipReason.CLIENT_DISCONNECTED.value
            return Comparison(exchange, Outcome.SKIPPED, reason=gone, frames=frames)
        legacy, app = (self.records[side].observation for side in SIDES)
        assert legacy is not None  # the relay reports its own side first, the shadow was checked
        assert app is not None
        if self.proxy_close is not None:  # neither side's doing: not a mismatch, nor a match
            closed = f"{SkipReason.NOT_COMPARABLE.value}: {self.proxy_close}"
            return Comparison(exchange, Outcome.SKIPPED, legacy, app, reason=closed, frames=frames)
        failure = rules.transport_failure(exchange.authoritative, legacy, app)
        if failure is not None:
            return Comparison(exchange, failure[0], legacy, app, reason=failure[1], frames=frames)
        status = rules.status_difference(legacy, app)
        if status is not None:
            return Comparison(
                exchange,
                Outcome.MISMATCH,
                legacy,
                app,
                differences=(status,),
                reason=rules.summarise((status,)),
                frames=frames,
            )
        if any(self.records[side].dropped for side in SIDES):
            return Comparison(
                exchange,
                Outcome.SKIPPED,
                legacy,
                app,
                reason=SkipReason.FRAMES_DROPPED.value,
                frames=frames,
            )
        values = verdict.values
        mismatches = tuple(verdict.found)
        skew: tuple[Difference, ...] = ()
        accepted: tuple[Difference, ...] = ()
        if values is not None:
            accepted = values.accepted
            if values.inflight:
                skew = values.differences
            else:
                mismatches += values.differences
        outcome = rules.decide(mismatches, skew, accepted)
        reason = "; ".join(verdict.notes) or None
        if reason is None and outcome is Outcome.MISMATCH:
            reason = rules.summarise(mismatches)
        elif reason is None and values is not None:
            reason = values.reason
        return Comparison(
            exchange,
            outcome,
            legacy,
            app,
            differences=mismatches + skew,
            accepted=accepted,
            reason=reason,
            task_id=(values.task_id if values else None) or self.task_id,
            ticker=values.ticker if values else None,
            date=values.date if values else None,
            frames=frames,
        )

    def frame_counts(self) -> dict[str, int]:
        counts = {side.value: self.records[side].frames for side in SIDES}
        for side in SIDES:
            if self.records[side].dropped:
                counts[f"{side.value}_dropped"] = self.records[side].dropped
        return counts


def first_due(deadlines: Sequence[float | None]) -> float | None:
    """The earliest of the timers that are set."""
    set_ = [deadline for deadline in deadlines if deadline is not None]
    return min(set_) if set_ else None
