"""Recommendations: legacy flat records against the app's normalized contract.

Canonical record: `ticker`, `name`, `date`, `decision`, `confidence`, `quant_rating`,
`llm_rating`. The legacy flat record has `analysis_date`, `decision`, `quant_signal`,
`llm_signal`, `confidence`; the app contract has `date`, `result.decision`, `result.confidence`,
`result.signals.{quant,llm}.rating` and a `compat` copy of the flat fields. Either shape is read
on either side (the app upgrades old flat files on the fly, so both can occur). Not compared:
`created_at` (each side wrote its own), and the app-only `status`, `degradation`, `data_quality`
and `contract_version`, which the flat record cannot express.
The list is ordered (date directories descending, then files descending, on both sides) and keyed
`recommendations[<ticker>:<date>]`; `total`, `limit`, `offset` are compared.
"""

from __future__ import annotations

from shadowproxy.diff.normalize import FirstOf
from shadowproxy.diff.profile import Profile, ProjectionContext
from shadowproxy.diff.profiles.status import ResultFields
from shadowproxy.diff.view import MemberKeys, View, items, member, obj, text
from shadowproxy.types import JSONValue

_PAGE = ("total", "limit", "offset")


class Recommendation:
    """One record, either shape, to the canonical record."""

    def __init__(self) -> None:
        self._date = FirstOf(("date",), ("analysis_date",), ("compat", "analysis_date"))
        self._results = ResultFields()

    def __call__(self, value: JSONValue) -> dict[str, JSONValue]:
        record = obj(value)
        ticker = record.get("ticker")
        return {
            "ticker": ticker,
            "name": record.get("name", ticker),
            "date": self._date(record),
            **self._results(record),
        }


class RecommendationDocument(Profile):
    name = "recommendation_document"
    side_free = True

    def __init__(self) -> None:
        self._record = Recommendation()

    def __call__(self, value: JSONValue, context: ProjectionContext) -> View:
        fields = self._record(value)
        return View(fields=fields, ticker=text(fields["ticker"]), date=text(fields["date"]))


class RecommendationsList(Profile):
    name = "recommendations_list"
    side_free = True

    def __init__(self) -> None:
        self._record = Recommendation()

    def __call__(self, value: JSONValue, context: ProjectionContext) -> View:
        document = obj(value)
        fields: dict[str, JSONValue] = {}
        keys = MemberKeys()
        for entry in items(document.get("recommendations")):
            record = self._record(entry)
            key = keys.add(f"{text(record.pop('ticker'))}:{text(record.pop('date'))}")
            fields.update({f"{member('recommendations', key)}.{k}": v for k, v in record.items()})
        fields.update({key: document[key] for key in _PAGE if key in document})
        return View(fields=fields, collections={"recommendations": keys.collection(ordered=True)})
