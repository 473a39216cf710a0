"""`shadowproxy diffs report --html`: one self-contained page from a `ReportData`.

The page needs nothing but itself: inline CSS with a print stylesheet (`report_markup`), inline
SVG charts (`report_svg`), no script, no font, image or link to fetch, and a
Content-Security-Policy that forbids anything else, so it opens from disk or as a ticket
attachment the same way. Sections, in order: parity per route group (and per replica, when the
records come from more than one), records, mismatches and noise over time per group, each side's
latency (p50/p95) over time, the top differing fields, the noisy fields with the rate measured
(apart from the mismatches: noise is never one), the mismatch signatures, the consumer-contract
breaks and cutover readiness (`report_client`), the latest mismatches with their differences
side by side. Every value from the records is HTML-escaped.
The page's size is bounded by the top-N limits, not by the number of records.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from html import escape
from typing import Any

from shadowproxy.difflog.report_client import consumers, cutover
from shadowproxy.difflog.report_data import COLUMNS, SIDES, GroupStats, ReportData, Slot, dicts
from shadowproxy.difflog.report_markup import (
    CSP,
    CSS,
    code,
    legend,
    ms,
    notes,
    pre,
    section,
    shown,
    table,
    ts,
)
from shadowproxy.difflog.report_svg import Series, bars, duration, lines

TOP_FIELDS, TOP_NOISE, TOP_SIGNATURES = 25, 25, 50
NOISE_PREFIX = "noise: "  # how a noise entry's reason starts (diff/noise.py), left out in a cell
EXAMPLE_DIFFERENCES = 20

_SECTIONS = (
    ("parity", "Parity"),
    ("traffic", "Over time"),
    ("latency", "Latency"),
    ("fields", "Fields"),
    ("noise", "Noise"),
    ("signatures", "Signatures"),
    ("consumers", "Consumers"),
    ("cutover", "Cutover"),
    ("examples", "Examples"),
)


def render(
    data: ReportData, *, source: str, filters: str, generated: datetime, skipped: str = ""
) -> str:
    """The page; `skipped` says what the reader left out (`N lines skipped: ...`), if anything."""
    title = f"shadowproxy parity report: {source}"
    span = f"{ts(data.first)} to {ts(data.last)} UTC" if data.first is not None else "no dates"
    warnings = [
        skipped,
        f"{data.undated} records without a readable ts (in no chart)" if data.undated else "",
    ]
    head = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<link rel="icon" href="data:,"><title>{escape(title)}</title><style>{CSS}</style>'
        f"</head><body><header><h1>{escape(title)}</h1>"
        f'<p class="meta">{data.records:,} records, {escape(span)}; {escape(filters)}</p>'
        + "".join(f'<p class="meta">{escape(text)}</p>' for text in warnings if text)
        + f'<p class="meta">generated {escape(ts(generated.timestamp()))} UTC</p><nav>'
        + "".join(f'<a href="#{key}">{label}</a>' for key, label in _SECTIONS)
        + "</nav></header>"
    )
    body = [
        _parity(data),
        _traffic(data),
        _latency(data),
        _fields(data),
        _noise(data),
        _signatures(data),
        consumers(data),
        cutover(data),
        _examples(data),
    ]
    return head + "".join(body) + "</body></html>\n"


# ---------------------------------------------------------------- sections


def _parity(data: ReportData) -> str:
    rows = [_parity_row(group, data.groups[group]) for group in sorted(data.groups)]
    headers = ["route group", "answered by", "records", *COLUMNS, "parity"]
    headers += [f"{side} p50 / p95" for side in SIDES]
    listing = table("parity-table", headers, rows, numeric=range(2, len(headers)))
    remarks = [
        "parity: the share of compared records (match, mismatch, accepted, noise, inflight_skew)"
        " that is not a mismatch; errors are the three error outcomes.",
        "noise: every difference left is on a field the legacy side was measured to differ on"
        " with itself (see Noise): compared, never a mismatch.",
    ]
    if not any(stats.outcomes["match"] for stats in data.groups.values()):
        remarks.append(
            "No match record: the proxy writes matches only with SHADOWPROXY_LOG_MATCHES=1, so"
            " these figures describe the recorded comparisons, not all traffic."
        )
    if data.replicas.many:
        listing += _replicas(data)
    return section("parity", "Parity per route group", listing + notes(remarks))


def _replicas(data: ReportData) -> str:
    """The records of each proxy replica: a replica that differs from the others stands out."""
    rows = []
    for name, outcomes in data.replicas.named():
        stats = GroupStats(outcomes=outcomes)
        parity = "-" if stats.parity is None else f"{stats.parity:.2%}"
        counts = [f"{stats.column(column):,}" for column in COLUMNS]
        rows.append([escape(name or "-"), f"{stats.records:,}", *counts, parity])
    headers = ["replica", "records", *COLUMNS, "parity"]
    return "<h3>Per replica</h3>" + table(
        "replica-table", headers, rows, numeric=range(1, len(headers))
    )


def _parity_row(group: str, stats: GroupStats) -> list[str]:
    answered = ", ".join(f"{side} {n:,}" for side, n in sorted(stats.authoritative.items()))
    parity = "-" if stats.parity is None else f"{stats.parity:.2%}"
    latency = [
        f"{ms(histogram.quantile(0.5))} / {ms(histogram.quantile(0.95))}"
        for histogram in stats.latency
    ]
    counts = [f"{stats.column(name):,}" for name in COLUMNS]
    return [escape(group), escape(answered or "-"), f"{stats.records:,}", *counts, parity, *latency]


def _traffic(data: ReportData) -> str:
    series = list(data.timeline.series())
    if not series:
        return section(
            "traffic", "Comparisons, mismatches and noise over time", notes(["No dates."])
        )
    starts = [start for start, _ in series]
    width = data.timeline.width
    figures = []
    for group in sorted(data.groups):
        counts = [slot.counts.get(group, [0, 0, 0]) if slot else [0, 0, 0] for _, slot in series]
        chart = bars(
            f"{group}: records, mismatches and noise per {duration(width)}",
            starts,
            width,
            [
                Series("records", "records", [float(c[0]) for c in counts]),
                Series("mismatches", "mismatch", [float(c[1]) for c in counts], stacked=True),
                Series("noise", "noise", [float(c[2]) for c in counts], stacked=True),
            ],
        )
        figures.append(f"<figure><figcaption>{escape(group)}</figcaption>{chart}</figure>")
    keys = legend([("records", "records"), ("mismatch", "mismatches"), ("noise", "noise")])
    text = (
        f"<p>Per {duration(width)} (UTC); noise records stacked on the mismatches. {keys}</p>"
        f'<div class="charts">{"".join(figures)}</div>'
    )
    return section("traffic", "Comparisons, mismatches and noise over time", text)


def _latency(data: ReportData) -> str:
    series = list(data.timeline.series())
    if not series:
        return section("latency", "Latency per side", notes(["No dates."]))
    starts = [start for start, _ in series]
    lines_ = [
        Series(
            f"{side} p{int(q * 100)}",
            f"{side}-p{int(q * 100)}",
            [_quantile(slot, i, q) for _, slot in series],
        )
        for i, side in enumerate(SIDES)
        for q in (0.5, 0.95)
    ]
    chart = lines(
        f"latency per {duration(data.timeline.width)}: p50 and p95 of each side",
        starts,
        data.timeline.width,
        lines_,
        ms,
    )
    keys = legend([(s.name, s.label) for s in lines_])
    text = (
        f"<p>Each side's latency as the records give it (legacy.latency_ms, app.latency_ms), "
        f"per {duration(data.timeline.width)}. {keys}</p><figure class='wide'>{chart}</figure>"
    )
    return section("latency", "Latency per side", text)


def _quantile(slot: Slot | None, side: int, q: float) -> float | None:
    return None if slot is None else slot.latency[side].quantile(q)


def _fields(data: ReportData) -> str:
    rows = [
        [
            escape(group),
            code(family),
            escape(kind),
            f"{t.count:,}",
            ts(t.first),
            ts(t.last),
            code(t.example),
        ]
        for (group, family, kind), t in data.fields.top(TOP_FIELDS)
    ]
    listing = table(
        "fields-table",
        ["route group", "field", "kind", "mismatches", "first seen", "last seen", "example"],
        rows,
        numeric=[3],
    )
    remarks = [
        shown(len(rows), data.fields, "field families"),
        "Counted once per mismatch record that differs on the field (list indexes folded).",
    ]
    return section("fields", "Top differing fields", listing + notes(remarks))


def _noise(data: ReportData) -> str:
    rows = [
        [
            escape(group),
            code(route),
            code(family),
            f"{t.count:,}",
            ts(t.first),
            ts(t.last),
            escape((t.detail or "-").removeprefix(NOISE_PREFIX)),
            code(t.example),
        ]
        for (group, route, family), t in data.noise.top(TOP_NOISE)
    ]
    if not rows:
        text = notes(
            [
                "No noise: no record has a difference on a field measured as noisy. Noise is"
                " measured from reads the legacy side answers twice (a --legacy-secondary, or"
                " two reads of one resource in a terminal state)."
            ]
        )
        return section("noise", "Noisy fields", text)
    headers = ["route group", "route", "field", "records", "first seen", "last seen"]
    listing = table("noise-table", [*headers, "measured (latest)", "example"], rows, numeric=[3])
    remarks = [
        shown(len(rows), data.noise, "noisy fields"),
        "A noisy field: the legacy side differs on it with itself (two answers of its own to one"
        " read), and legacy and the app differ on it no more often than that. Its differences"
        " are noise, never mismatches: counted once per record that has them, a noise record or"
        " a mismatch with other differences; measured: the rate in the latest of them.",
    ]
    return section("noise", "Noisy fields", listing + notes(remarks))


def _signatures(data: ReportData) -> str:
    rows = []
    for (route, families, legacy, app), t in data.signatures.top(TOP_SIGNATURES):
        fields = ", ".join(families) or "(status only)"
        statuses = "/".join("-" if s is None else str(s) for s in (legacy, app))
        rows.append(
            [
                f"{t.count:,}",
                code(route),
                code(fields),
                statuses,
                ts(t.first),
                ts(t.last),
                code(t.example),
            ]
        )
    listing = table(
        "signature-table",
        [
            "mismatches",
            "route",
            "differing fields",
            "legacy/app",
            "first seen",
            "last seen",
            "exemplar",
        ],
        rows,
        numeric=[0],
    )
    remarks = [
        shown(len(rows), data.signatures, "signatures"),
        "A signature is the route, the set of differing field families and the status pair.",
    ]
    return section("signatures", "Mismatch signatures", listing + notes(remarks))


def _examples(data: ReportData) -> str:
    latest = data.latest()
    if not latest:
        return section("examples", "Latest mismatches", notes(["No mismatch record."]))
    return section("examples", "Latest mismatches", "".join(_example(r) for r in latest))


def _example(record: Mapping[str, Any]) -> str:
    sides: list[Mapping[str, Any]] = []
    for name in SIDES:
        side = record.get(name)
        sides.append(side if isinstance(side, dict) else {})
    said = "; ".join(
        f"{name} {side.get('status') or '-'} in {ms(side.get('latency_ms'))}"
        + (f" ({side['error']})" if side.get("error") else "")
        for name, side in zip(SIDES, sides, strict=True)
    )
    differences = dicts(record.get("differences"))
    rows = [
        [
            code(str(d.get("field"))),
            escape(str(d.get("kind"))),
            pre(d.get("legacy")),
            pre(d.get("app")),
        ]
        for d in differences[:EXAMPLE_DIFFERENCES]
    ]
    listing = table("", ["field", "kind", "legacy", "app"], rows, numeric=[], side_columns=(2, 3))
    more = len(differences) - len(rows)
    request = f"{record.get('method')} {record.get('path')}"
    noisy = dict.fromkeys(str(d.get("field")) for d in dicts(record.get("noise")))
    meta = [
        f"{record.get('ts')} · {record.get('route_group')} · {request}",
        f"answered by {record.get('authoritative')}; {said}",
        f"reason: {record.get('reason')}" if record.get("reason") else "",
        f"{more} more differences in the record" if more > 0 else "",
        f"noise beside them (not mismatches): {', '.join(noisy)}" if noisy else "",
    ]
    return (
        f'<div class="example"><h3><code>{escape(str(record.get("comparison_id")))}</code> '
        f"{code(str(record.get('route')))}</h3>"
        + "".join(f'<p class="meta">{escape(text)}</p>' for text in meta if text)
        + listing
        + "</div>"
    )
