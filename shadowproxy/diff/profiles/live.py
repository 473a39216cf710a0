"""Live signals (`/ws/orchestrator` replies): one signal per (ticker, date), in request order.

Legacy sends flat signals (`{ticker, date, direction, confidence, quant_direction,
llm_direction, timestamp}` or `{ticker, date, error}`); the app wraps each in a contract with
`status`, `result{...}`, a structured `error`, `degradation`, `data_quality` and `research`.
Compared per `signals[<ticker>:<date>]`: `status` (`ok` or `failed`), `direction`, `confidence`
(with tolerance), `quant_direction`, `llm_direction`, `error.present`. A different order of the
same keys is `reordered` on `signals.order`. Not compared: timestamps (each side computes its
own), and the app-only `degradation`, `data_quality`, `research` and `contract_version`, which
the legacy shape cannot express. A whole-reply error (`{"error": "..."}`) is `error.present` and
`error.message` at the top.
"""

from __future__ import annotations

from shadowproxy.diff.normalize import ErrorShape, FirstOf
from shadowproxy.diff.profile import Profile, ProjectionContext
from shadowproxy.diff.view import MemberKeys, View, items, member, obj, text
from shadowproxy.types import JSONValue

_LANES = ("direction", "confidence", "quant_direction", "llm_direction")


class LiveSignals(Profile):
    name = "live_signals"
    side_free = True

    def __init__(self) -> None:
        self._error = ErrorShape()
        self._lanes = {lane: FirstOf(("result", lane), (lane,)) for lane in _LANES}

    def __call__(self, value: JSONValue, context: ProjectionContext) -> View:
        document = obj(value)
        fields: dict[str, JSONValue] = {}
        if "error" in document:
            fields.update({f"error.{k}": v for k, v in self._error(document["error"]).items()})
        keys = MemberKeys()
        for entry in items(document.get("signals")):
            signal = obj(entry)
            key = keys.add(f"{text(signal.get('ticker'))}:{text(signal.get('date'))}")
            prefix = member("signals", key) + "."
            error = self._error(signal.get("error"))
            failed = signal.get("status") == "failed" or bool(error["present"])
            fields[prefix + "status"] = "failed" if failed else "ok"
            for lane, read in self._lanes.items():
                fields[prefix + lane] = read(signal)
            fields[prefix + "error.present"] = error["present"]
        signals = items(document.get("signals"))
        first = obj(signals[0]) if signals else {}
        return View(
            fields=fields,
            collections={"signals": keys.collection(ordered=True)},
            ticker=text(first.get("ticker")),
            date=text(first.get("date")),
        )
