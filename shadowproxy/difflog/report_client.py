"""The report's client side: consumer-contract breaks, wire drift and cutover readiness.

What the dashboards would see (docs/consumers.md), from the records' `client` findings as
`report_data` tallies them; the readiness verdict only as far as records can tell it (see
`report_data`), and omitted with a note when no record carries a consumer's findings.
"""

from __future__ import annotations

from html import escape

from shadowproxy.difflog.report_data import MIN_CHECKED, WINDOW_S, ReportData
from shadowproxy.difflog.report_markup import code, notes, section, shown, table, ts

TOP_BREAKS, TOP_DRIFT = 50, 25


def consumers(data: ReportData) -> str:
    if not data.with_client:
        text = notes(
            [
                "No record carries consumer findings (client): no consumer contract is"
                " configured for the routes recorded, or the log predates them."
            ]
        )
        return section("consumers", "Consumer-contract breaks", text)
    return section(
        "consumers",
        "Consumer-contract breaks",
        _breaks(data) + "<h3>Wire drift</h3>" + _drift(data),
    )


def _breaks(data: ReportData) -> str:
    rows = [
        [
            escape(consumer),
            escape(group),
            escape(backend),
            code(path),
            escape(kind),
            escape(standing),
            f"{t.count:,}",
            ts(t.first),
            ts(t.last),
            code(t.example),
            escape(t.detail or ""),
        ]
        for (consumer, group, backend, path, kind, standing), t in data.breaks.top(TOP_BREAKS)
    ]
    headers = ["consumer", "route group", "answer of", "field", "kind", "standing", "records"]
    listing = table(
        "breaks-table",
        [*headers, "first seen", "last seen", "example", "detail"],
        rows,
        numeric=[6],
    )
    remarks = [
        f"{data.with_client:,} records carry consumer findings. "
        + shown(len(rows), data.breaks, "breaks"),
        "standing: counted breaks are the ones a flip makes; shared ones break on both backends,"
        " known ones are documented frontend defects (reported, never counted). Quiet outcomes'"
        " findings are written as one exemplar per route and finding a minute, so these are"
        " counts of records, a lower bound of the comparisons.",
    ]
    return listing + notes(remarks)


def _drift(data: ReportData) -> str:
    rows = [
        [
            escape(group),
            code(route),
            code(path),
            escape(kind),
            f"{t.count:,}",
            ts(t.last),
            code(t.example),
            escape(t.detail or ""),
        ]
        for (group, route, path, kind), t in data.drift.top(TOP_DRIFT)
    ]
    if not rows:
        return notes(["No drift finding: the app's answers carry every path legacy always sends."])
    headers = ["route group", "route", "field", "kind", "records", "last seen", "example", "detail"]
    listing = table("drift-table", headers, rows, numeric=[4])
    return listing + notes([shown(len(rows), data.drift, "drift findings")])


def cutover(data: ReportData) -> str:
    span = data.readiness.span
    verdicts = data.readiness.verdicts()
    if not data.with_client or span is None or not verdicts:
        text = notes(
            [
                "Omitted: readiness is judged from consumer findings, and no dated record"
                " carries any. `shadowproxy cutover` asks the live proxy."
            ]
        )
        return section("cutover", "Cutover readiness", text)
    rows = []
    for v in verdicts:
        breaks = ", ".join(f"{n:,} on {path}" for path, n in v.breaks) or "none"
        if v.verdict is None:
            verdict = "no app break recorded (ready or not enough traffic: cannot tell)"
        else:
            verdict = v.verdict.replace("_", " ")
        rows.append(
            [
                escape(v.group),
                escape(v.consumer),
                f"{v.checked:,}",
                escape(breaks),
                f'<span class="v-{escape(v.verdict or "unknown")}">{escape(verdict)}</span>',
                code(v.example or "-"),
            ]
        )
    listing = table(
        "readiness-table",
        [
            "route group",
            "consumer",
            "records checked",
            "app breaks (counted)",
            "verdict",
            "example",
        ],
        rows,
        numeric=[2],
    )
    remarks = [
        f"The app's answers over the last {WINDOW_S // 60} min of records ({ts(span[0])} to"
        f" {ts(span[1])} UTC), judged as shadowproxy cutover does: blocked on a counted break of"
        f" the app's answer, else ready from {MIN_CHECKED} checked comparisons.",
        "From records, ready and not enough traffic can be told apart only when matches were"
        " logged (SHADOWPROXY_LOG_MATCHES=1); the migration checkpoints (docs/migration.md §5)"
        " are judged by the live proxy only.",
    ]
    return section("cutover", "Cutover readiness", listing + notes(remarks))
