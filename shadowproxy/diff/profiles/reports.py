"""Reports: the list, one report document, and CSV exports (reports and positions).

- `reports_list`: members `reports[<ticker>:<date>]` with the `path` tail after the last
  `results` segment (each backend has its own data dir, so absolute paths always differ), plus
  `total`, `limit`, `offset`. Not ordered: both sort by date, but tickers of one date follow each
  backend's directory iteration order; a different page shows up as missing/extra members.
- `report_document`: the same file keys (`report`, `market_report.md`, ...) with the same text.
- `csv`: the header row as `header`, then each data row `rows[<i>].<column>` named by that side's
  own header, so a renamed or dropped column is a missing/extra field and a changed cell is one
  field.
"""

from __future__ import annotations

from shadowproxy.diff.normalize import Flatten, PathTail
from shadowproxy.diff.profile import BodyKind, Profile, ProjectionContext
from shadowproxy.diff.view import Collection, MemberKeys, View, items, member, obj, text
from shadowproxy.types import JSONValue, child_path

_PAGE = ("total", "limit", "offset")


class ReportsList(Profile):
    name = "reports_list"
    side_free = True

    def __init__(self) -> None:
        self._tail = PathTail("results")

    def __call__(self, value: JSONValue, context: ProjectionContext) -> View:
        document = obj(value)
        fields: dict[str, JSONValue] = {}
        keys = MemberKeys()
        for entry in items(document.get("reports")):
            report = obj(entry)
            key = keys.add(f"{text(report.get('ticker'))}:{text(report.get('date'))}")
            fields[member("reports", key) + ".path"] = self._tail(report.get("path"))
        fields.update({key: document[key] for key in _PAGE if key in document})
        return View(fields=fields, collections={"reports": keys.collection()})


class ReportDocument(Profile):
    name = "report_document"
    side_free = True

    def __init__(self) -> None:
        self._flatten = Flatten()

    def __call__(self, value: JSONValue, context: ProjectionContext) -> View:
        return View(fields=self._flatten(value))


class Csv(Profile):
    name = "csv"
    side_free = True
    body = BodyKind.CSV

    def __call__(self, value: JSONValue, context: ProjectionContext) -> View:
        rows = [
            [cell if isinstance(cell, str) else "" for cell in items(row)] for row in items(value)
        ]
        if not rows:
            return View(fields={"header": []})
        header, data = rows[0], rows[1:]
        fields: dict[str, JSONValue] = {"header": list[JSONValue](header)}
        for index, row in enumerate(data):
            prefix = member("rows", str(index))
            for column, cell in enumerate(row):
                name = header[column] if column < len(header) else f"column{column}"
                fields[child_path(prefix, name)] = cell
        return View(
            fields=fields, collections={"rows": Collection(tuple(str(i) for i in range(len(data))))}
        )
