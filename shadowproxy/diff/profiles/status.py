"""Analysis documents (status route, `/ws/analysis` frames) and the accepted/ack envelopes.

Canonical status view, whichever shape a side sends (legacy raw state or app projection):
`task_id` (app ids mapped to their legacy twins), `ticker`, `date`, `status`, `degraded`,
`progress`, `current_stage`, `stages.<name>`, `decision`, `confidence`, `quant_rating`,
`llm_rating`, `error.present`, `error.message`, `error.code`; a portfolio batch has `type`,
`total`, `completed`, `failed`, `current_ticker` and `results[<ticker>].decision` instead of the
analysis fields.

Rules where the shapes differ:
- status: app `degraded_success` is `completed` + degraded; legacy `failed` with error 用户取消 is
  `cancelled` (see `normalize.StatusWord`).
- a cancelled document's 用户取消 error is the cancel notice, not an error: it is compared as
  `error.cancel_notice` (true/false), and `error.*` hold only another error, if any. So a task
  cancelled after it completed (legacy: failed/用户取消; app: cancelled, error null from its
  contract) differs on that one field, a built-in known difference (`config.py`).
- legacy stages are positional and unnamed: they are named by index (analysts, research, trading,
  risk, portfolio); an app entry's own `name` wins.
- results: legacy top-level `decision`/`quant_signal`/`llm_signal`/`confidence`; app
  `result.decision`, `result.signals.{quant,llm}.rating`, `result.confidence`, falling back to
  `compat.*` when `result` is null (tasks restored from legacy files).
- not compared, because the legacy shape (no `contract_version`) cannot express them at all:
  `degraded` and `error.code`. Envelope fields (`contract_version`, `request_id`,
  `executor_type`, `result_ref`, `*_summary`, `elapsed*`, `logs`, `created_at`) are not key fields.
- `progress`, `current_stage`, `ticker` and `date` are compared when the document carries them;
  a side that drops one reports it `missing`/`extra`.
"""

from __future__ import annotations

import math

from shadowproxy.diff.normalize import CANCELLED_TEXT, ErrorShape, StatusWord
from shadowproxy.diff.profile import Profile, ProjectionContext
from shadowproxy.diff.view import (
    Collection,
    Lifecycle,
    MemberKeys,
    View,
    dig,
    is_terminal,
    items,
    member,
    obj,
    text,
)
from shadowproxy.types import JSONValue, child_path

STAGE_NAMES = ("analysts", "research", "trading", "risk", "portfolio")
LEGACY_INEXPRESSIBLE = frozenset({"degraded", "error.code"})
# field names built once: every status poll of both sides names them
_STAGE_FIELDS = {name: f"stages.{name}" for name in STAGE_NAMES}
_POSITIONAL = tuple(_STAGE_FIELDS.values())  # legacy's unnamed stages, by index
_NO_STAGE: tuple[JSONValue, JSONValue] = (None, None)  # a stage entry that is not an object
_ERROR_FIELDS = {key: child_path("error", key) for key in ("present", "message", "code")}


def is_legacy_shape(document: dict[str, JSONValue]) -> bool:
    """The app stamps every public payload with `contract_version`; legacy never does."""
    return "contract_version" not in document


def is_batch(document: dict[str, JSONValue]) -> bool:
    task_id = text(document.get("task_id")) or ""
    return document.get("type") == "portfolio" or task_id.startswith("port_")


class ResultFields:
    """decision / confidence / quant and llm ratings from either shape (result, compat, flat).

    Each is the first non-null of app `result.*`, app `compat.*` and legacy's flat field (a
    `normalize.FirstOf` of three paths); the objects on the way are looked up once for all four,
    not once per field and path, because every status poll of both sides reads them.
    """

    def __call__(self, document: JSONValue) -> dict[str, JSONValue]:
        flat = obj(document)
        result = obj(flat.get("result"))
        compat = obj(flat.get("compat"))
        signals = obj(result.get("signals"))
        return {
            "decision": _first(
                result.get("decision"), compat.get("decision"), flat.get("decision")
            ),
            "confidence": _first(
                result.get("confidence"), compat.get("confidence"), flat.get("confidence")
            ),
            "quant_rating": _first(
                obj(signals.get("quant")).get("rating"),
                compat.get("quant_signal"),
                flat.get("quant_signal"),
            ),
            "llm_rating": _first(
                obj(signals.get("llm")).get("rating"),
                compat.get("llm_signal"),
                flat.get("llm_signal"),
            ),
        }


def _first(app: JSONValue, compat: JSONValue, legacy: JSONValue) -> JSONValue:
    if app is not None:
        return app
    return compat if compat is not None else legacy


class StatusDocument(Profile):
    name = "status_document"

    def __init__(self) -> None:
        self._status = StatusWord()
        self._error = ErrorShape()
        self._results = ResultFields()

    def __call__(self, value: JSONValue, context: ProjectionContext) -> View:
        document = obj(value)
        error = self._error(document.get("error"))
        status, degraded = self._status(document.get("status"), text(error.get("message")))
        fields: dict[str, JSONValue] = {"task_id": context.canonical_id(document.get("task_id"))}
        for key in ("ticker", "date"):
            if key in document:
                fields[key] = document[key]
        fields["status"] = status
        fields["degraded"] = degraded
        collections: dict[str, Collection] = {}
        if is_batch(document):
            lifecycle = self._batch(document, fields, collections)
        else:
            lifecycle = self._analysis(document, fields, status)
        if status == "cancelled":
            fields["error.cancel_notice"] = error.get("message") == CANCELLED_TEXT
            if fields["error.cancel_notice"]:
                error = {"present": False}
        for key, part in error.items():
            fields[_ERROR_FIELDS.get(key) or child_path("error", key)] = part
        return View(
            fields=fields,
            collections=collections,
            inexpressible=LEGACY_INEXPRESSIBLE if is_legacy_shape(document) else frozenset(),
            scopes={"": lifecycle},
            task_id=text(fields["task_id"]),
            ticker=text(document.get("ticker")),
            date=text(document.get("date")),
        )

    def _analysis(
        self, document: dict[str, JSONValue], fields: dict[str, JSONValue], status: str | None
    ) -> Lifecycle:
        for key in ("progress", "current_stage"):
            if key in document:
                fields[key] = document[key]
        # obj/text/stage_name inlined: five stages per document, every poll of both sides
        for index, entry in enumerate(items(document.get("stages"))):
            name, state = (
                (entry.get("name"), entry.get("status")) if isinstance(entry, dict) else _NO_STAGE
            )
            if isinstance(name, str) and name:
                key = _STAGE_FIELDS.get(name) or f"stages.{name}"
            else:
                key = _POSITIONAL[index] if index < len(_POSITIONAL) else f"stages.stage{index}"
            fields[key] = state
        fields.update(self._results(document))
        return analysis_lifecycle(document, status)

    def _batch(
        self,
        document: dict[str, JSONValue],
        fields: dict[str, JSONValue],
        collections: dict[str, Collection],
    ) -> Lifecycle:
        fields["type"] = "portfolio"
        for key in ("total", "completed", "failed", "current_ticker"):
            if key in document:
                fields[key] = document[key]
        tickers = MemberKeys()
        for record in items(document.get("results")):
            ticker = tickers.add(text(dig(record, "ticker")))
            fields[f"{member('results', ticker)}.decision"] = self._results(record)["decision"]
        collections["results"] = tickers.collection()
        done = [document.get(key) for key in ("completed", "failed")]
        return Lifecycle(
            terminal=is_terminal(text(fields["status"])),
            stage=sum(n for n in done if isinstance(n, int) and not isinstance(n, bool)),
        )


def analysis_lifecycle(document: dict[str, JSONValue], status: str | None) -> Lifecycle:
    """Where one analysis stands: its progress points and the index of its current stage."""
    progress = document.get("progress")
    current = text(document.get("current_stage"))
    points = None
    if isinstance(progress, int | float) and not isinstance(progress, bool):
        points = int(progress) if math.isfinite(progress) else None
    return Lifecycle(
        terminal=is_terminal(status),
        progress=points,
        stage=STAGE_NAMES.index(current) if current in STAGE_NAMES else None,
    )


def stage_name(index: int) -> str:
    return STAGE_NAMES[index] if index < len(STAGE_NAMES) else f"stage{index}"


class _Envelope(Profile):
    """Accepted/ack responses: what was accepted, with the minted id compared through `ids`.

    `contract_version` is an envelope field the legacy side never sends, so it is not compared.
    """

    _KEYS = ("status", "ticker", "date", "total")

    def __call__(self, value: JSONValue, context: ProjectionContext) -> View:
        document = obj(value)
        fields: dict[str, JSONValue] = {"task_id": context.canonical_id(document.get("task_id"))}
        fields.update({key: document[key] for key in self._KEYS if key in document})
        return View(
            fields=fields,
            task_id=text(fields["task_id"]),
            ticker=text(document.get("ticker")),
            date=text(document.get("date")),
        )


class AnalysisAccepted(_Envelope):
    name = "analysis_accepted"


class CancelAck(_Envelope):
    name = "cancel_ack"


class BatchAccepted(_Envelope):
    name = "batch_accepted"
