"""`/ws/orchestrator`: each client request paired with the one reply it produces on each side.

The backends answer every text message with exactly one message, in order (a bad request gets an
`{"error": ...}` reply and the socket closes), so the n-th reply of a side answers the n-th
request. Each pair is one comparison, published when both replies arrived, `settle_s` after the
first one did, or when the connection ends. Replies are compared per (ticker, date) with the
route's live-signal profile; besides, each side's signals must come in the order the request
listed the tickers (`signals.request_order`).
"""

from __future__ import annotations

from dataclasses import replace

from shadowproxy.diff.profile import digest
from shadowproxy.diff.streams.base import SIDES, Setup, Stream, Verdict
from shadowproxy.diff.streams.frames import Frame, FrameKind
from shadowproxy.types import Comparison, Difference, DiffKind, JSONValue, Side

REQUEST_ORDER = "signals.request_order"


class OrchestratorStream(Stream):
    def __init__(self, setup: Setup) -> None:
        super().__init__(setup)
        self._requests: list[list[str] | None] = []
        self._replies: dict[Side, list[Frame]] = {side: [] for side in SIDES}
        self._next = 0  # the first pair not yet published

    def client(self, frame: Frame) -> None:
        if frame.kind is FrameKind.TEXT:  # the backends ignore binary frames: no reply
            self._requests.append(_tickers(frame.json()))

    def on_frame(self, side: Side, frame: Frame) -> None:
        self._replies[side].append(frame)

    def deadline(self) -> float | None:
        """When the next pair, with one reply only, is published without the other."""
        pair = self._pair(self._next)
        if pair is None or (pair[0] is None) == (pair[1] is None):
            return None
        first = pair[0] or pair[1]
        assert first is not None
        missing = Side.APP if pair[0] is not None else Side.LEGACY
        return first.at if self.ended(missing) else first.at + self.timers.settle_s

    def due(self, now: float) -> list[Comparison]:
        published: list[Comparison] = []
        while (pair := self._pair(self._next)) is not None:
            legacy, app = pair
            if legacy is None or app is None:
                deadline = self.deadline()
                if deadline is None or now < deadline:
                    break
            published.append(self._compare(self._next, legacy, app))
            self._next += 1
        return published

    def finish(self, now: float) -> list[Comparison]:
        published = self.due(now)
        while (pair := self._pair(self._next)) is not None:
            published.append(self._compare(self._next, *pair))
            self._next += 1
        return published

    # ------------------------------------------------------------------ internals

    def _pair(self, index: int) -> tuple[Frame | None, Frame | None] | None:
        """Reply `index` of each side; None when neither side sent one yet."""
        legacy, app = (
            replies[index] if index < len(replies) else None
            for replies in (self._replies[side] for side in SIDES)
        )
        return None if legacy is None and app is None else (legacy, app)

    def _compare(self, index: int, legacy: Frame | None, app: Frame | None) -> Comparison:
        verdict = Verdict(frames={"legacy": int(legacy is not None), "app": int(app is not None)})
        if legacy is None or app is None:
            kind = DiffKind.MISSING if app is None else DiffKind.EXTRA
            verdict.found.append(Difference("reply", kind, _summary(legacy), _summary(app)))
            verdict.found.extend(self.early_close())
        else:
            documents = legacy.json(), app.json()
            if documents[0] is None or documents[1] is None:
                if legacy.data != app.data or legacy.kind is not app.kind:
                    verdict.found.append(
                        Difference("reply", DiffKind.CHANGED, _summary(legacy), _summary(app))
                    )
            else:
                verdict.values = self.engine.compare_values(
                    self.exchange.profile, *documents, self.ids, route=self.exchange.route
                )
                requested = self._requests[index] if index < len(self._requests) else None
                self._request_order(verdict, requested, *documents)
        exchange = replace(self.exchange, comparison_id=f"{self.exchange.comparison_id}-{index}")
        return self.compose(verdict, exchange)

    @staticmethod
    def _request_order(
        verdict: Verdict, requested: list[str] | None, legacy: JSONValue, app: JSONValue
    ) -> None:
        if requested is None:
            return
        orders = _order(legacy), _order(app)
        wrong = [
            side.value
            for side, order in zip(SIDES, orders, strict=True)
            if order is not None and order != requested
        ]
        if wrong:
            verdict.found.append(Difference(REQUEST_ORDER, DiffKind.REORDERED, *orders))
            verdict.notes.append(
                f"signals not in request order ({', '.join(requested)}) on {' and '.join(wrong)}"
            )


def _tickers(request: JSONValue) -> list[str] | None:
    """The ticker order a request asks for; None when it is not a `{"tickers": [...]}` object."""
    if not isinstance(request, dict):
        return None
    tickers = request.get("tickers") or []
    return [str(ticker) for ticker in tickers] if isinstance(tickers, list) else None


def _order(reply: JSONValue) -> list[JSONValue] | None:
    signals = reply.get("signals") if isinstance(reply, dict) else None
    if not isinstance(signals, list):
        return None
    return [str(signal.get("ticker")) if isinstance(signal, dict) else None for signal in signals]


def _summary(frame: Frame | None) -> JSONValue:
    return None if frame is None else f"{frame.kind} {digest(frame.data)}"
