"""The building blocks of the HTML report's page: its stylesheet, tables, notes and cells.

Every helper escapes what it is given, except `table`, whose cells are HTML already built by
these helpers. Values from the records are shown as they are (the proxy redacted them before
writing), difference values as compact JSON cut at `MAX_VALUE_CHARS`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

import orjson

from shadowproxy.difflog.report_bins import Tallies
from shadowproxy.difflog.report_data import CAPACITY

MAX_VALUE_CHARS = 600

CSS = """
:root{--records:#8fb3d9;--mismatch:#c8102e;--noise:#7a5cb8;--legacy:#2b5fa8;--app:#d97a00;
--line:#d0d4da}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1f24;
margin:0 auto;padding:16px 24px;max-width:1280px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;
border-bottom:1px solid var(--line);padding-bottom:4px}
nav a{margin-right:12px}.meta{color:#4a525c;margin:2px 0}.note{color:#4a525c;font-size:13px}
table{border-collapse:collapse;width:100%;margin:6px 0 4px;font-size:13px}
th,td{border-bottom:1px solid var(--line);padding:3px 6px;text-align:left;vertical-align:top;
overflow-wrap:break-word}th{background:#f1f3f5}tbody tr:nth-child(even){background:#fafbfc}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:12px}
figure{margin:0;border:1px solid var(--line);padding:6px}figcaption{font-weight:600}
svg.chart{width:100%;height:auto;display:block}figure.wide{max-width:960px}
.axis{font-size:11px;fill:#4a525c}.grid{stroke:#e6e8eb}.baseline{stroke:#8a9199}
.s-records{fill:var(--records)}.s-mismatch{fill:var(--mismatch)}.s-noise{fill:var(--noise)}
path.s-legacy-p50,path.s-legacy-p95{stroke:var(--legacy)}
path.s-app-p50,path.s-app-p95{stroke:var(--app)}
path{fill:none;stroke-width:2}path.s-legacy-p95,path.s-app-p95{stroke-dasharray:6 3}
.hit{fill:transparent}.hit:hover{fill:rgba(0,0,0,.06)}
.key{display:inline-block;width:18px;height:10px;margin:0 4px 0 10px;vertical-align:middle}
.k-records{background:var(--records)}.k-mismatch{background:var(--mismatch)}
.k-noise{background:var(--noise)}
.k-legacy-p50{border-top:3px solid var(--legacy)}.k-legacy-p95{border-top:3px dashed var(--legacy)}
.k-app-p50{border-top:3px solid var(--app)}.k-app-p95{border-top:3px dashed var(--app)}
.v-blocked{color:var(--mismatch);font-weight:600}.v-ready{color:#1f7a3a;font-weight:600}
.example{border:1px solid var(--line);padding:6px 10px;margin:10px 0}
.example h3{font-size:14px;margin:0 0 4px}
.example td.side{width:38%}.example pre{margin:0;white-space:pre-wrap;overflow-wrap:anywhere;
font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
@page{margin:12mm}
@media print{body{font-size:10pt;padding:0;max-width:none}nav{display:none}
h2{break-after:avoid}figure,.example,tr{break-inside:avoid}thead{display:table-header-group}
.charts{grid-template-columns:1fr 1fr}a{color:inherit;text-decoration:none}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
"""
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def section(key: str, heading: str, body: str) -> str:
    return f'<section id="{key}"><h2>{escape(heading)}</h2>{body}</section>'


def table(
    key: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    numeric: Iterable[int],
    side_columns: Sequence[int] = (),
) -> str:
    """`rows` hold HTML already escaped; `numeric` columns are right-aligned."""
    right = set(numeric)
    attrs = [
        ' class="num"' if i in right else ' class="side"' if i in side_columns else ""
        for i in range(len(headers))
    ]
    head = "".join(f"<th{a}>{escape(h)}</th>" for h, a in zip(headers, attrs, strict=True))
    body = "".join(
        "<tr>"
        + "".join(f"<td{a}>{cell}</td>" for cell, a in zip(row, attrs, strict=True))
        + "</tr>"
        for row in rows
    )
    if not rows:
        body = f'<tr><td colspan="{len(headers)}">none</td></tr>'
    ident = f' id="{key}"' if key else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def notes(texts: Iterable[str]) -> str:
    return "".join(f'<p class="note">{escape(text)}</p>' for text in texts)


def legend(keys: Iterable[tuple[str, str]]) -> str:
    return "".join(f'<span class="key k-{name}"></span>{escape(label)}' for name, label in keys)


def shown(shown: int, tallies: Tallies[Any], what: str) -> str:
    text = f"{shown} of {len(tallies.entries):,} {what} shown."
    if tallies.folded:
        text += (
            f" More than {2 * CAPACITY:,} distinct: {tallies.folded:,} occurrences of the rarest"
            " were folded away, so the counts above are lower bounds."
        )
    return text


def code(text: str) -> str:
    return f"<code>{escape(text)}</code>"


def pre(value: object) -> str:
    text = orjson.dumps(value, default=str).decode()
    if len(text) > MAX_VALUE_CHARS:
        text = f"{text[:MAX_VALUE_CHARS]}…(+{len(text) - MAX_VALUE_CHARS} chars)"
    return f"<pre>{escape(text)}</pre>"


def ts(moment: float | None) -> str:
    if moment is None:
        return "-"
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%S")


def ms(value: object) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "-"
    if value >= 1000:
        return f"{value / 1000:.3g} s"
    return f"{value:.3g} ms"
