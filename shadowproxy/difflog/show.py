"""One record for a person: in full (`diffs show ID`) or as one line (`diffs tail`).

`full()` lays out the request (and the replica that wrote the record), both sides' status,
latency and error side by side, the differences that decided the outcome with the two values side
by side (JSON, wrapped to fit rather than cut), the accepted ones with their reason, the noise
(differences on fields the legacy side differs on with itself) with the rate measured, the
secondary report and the consumer-contract findings (verdicts per consumer and role, each break,
the drift). `line()` is the record in one line: time, comparison id (its first 12 characters,
which `show` accepts), outcome, group, method and route, statuses, and what differed (a
mismatch's noise named apart) or why.
"""

from __future__ import annotations

from typing import Any

import orjson

from shadowproxy.difflog.read import (
    Record,
    broken_consumers,
    consumers,
    families,
    family,
    status,
)
from shadowproxy.difflog.table import ID_CHARS, Column, Style, cut, table
from shadowproxy.types import Outcome

OUTCOME_WIDTH = len(Outcome.INFLIGHT_SKEW)  # the longest but the error outcomes
OUTCOME_COLOURS = {
    Outcome.MATCH: "green",
    Outcome.MISMATCH: "red",
    Outcome.ACCEPTED: "yellow",
    Outcome.NOISE: "cyan",
    Outcome.INFLIGHT_SKEW: "dim",
    Outcome.SKIPPED: "dim",
}


def value(item: Any) -> str:
    """A value as compact JSON (strings quoted, non-ASCII kept); `-` for a missing one."""
    return "-" if item is None else orjson.dumps(item).decode()


def text(item: Any) -> str:
    return "-" if item is None else str(item)


def statuses(record: Record) -> str:
    return "/".join(text(status(record, side)) for side in ("legacy", "app"))


def objects(items: object) -> list[dict[str, Any]]:
    """The objects of a list read from a record; [] when it is no list."""
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def painted(record: Record, style: Style) -> str:
    outcome = record["outcome"]
    return style.paint(outcome, OUTCOME_COLOURS.get(outcome, "red"))


def detail(record: Record) -> str:
    """What differed (field families) or why (the reason), a mismatch's noise, and the consumers
    broken."""
    outcome, noise = record["outcome"], ""
    if outcome == Outcome.MISMATCH:
        names = dict.fromkeys(family(d["field"]) for d in record.get("differences", ()))
        found = ", ".join(names) or "(status only)"
        noise = ", ".join(families(record.get("noise")))
    elif outcome == Outcome.ACCEPTED:
        found = ", ".join(families(record.get("accepted")))
    elif outcome == Outcome.NOISE:
        found = ", ".join(families(record.get("noise")))
    else:
        found = text(record.get("reason")) if record.get("reason") else ""
    broken = broken_consumers(record)
    parts = [
        found,
        f"noise {noise}" if noise else "",
        f"breaks {', '.join(broken)}" if broken else "",
    ]
    return "; ".join(filter(None, parts))


def line(record: Record, *, width: int | None, style: Style) -> str:
    ts = record["ts"][5:23].replace("T", " ")
    head = f"{ts}  {record['comparison_id'][:ID_CHARS]:<{ID_CHARS}}  "
    rest = (
        f"{' ' * max(0, OUTCOME_WIDTH - len(record['outcome']))}  {record['route_group']}"
        f"  {record.get('method') or '-'} {record['route']}  {statuses(record)}  {detail(record)}"
    )
    return _fitted(head, record, rest.rstrip(), width, style)


def _fitted(head: str, record: Record, rest: str, width: int | None, style: Style) -> str:
    """`head`, the record's outcome (coloured on a terminal) and `rest`, cut to `width`."""
    outcome: str = record["outcome"]
    plain = head + outcome + rest
    if width is not None:
        plain = cut(plain, width)
    if not plain.startswith(head + outcome):  # cut inside the outcome: leave it plain
        return plain
    return head + painted(record, style) + plain[len(head + outcome) :]


def full(record: Record, *, width: int | None, style: Style) -> str:
    reason = f" ({record['reason']})" if record.get("reason") else ""
    head = f"comparison {record['comparison_id']}: "
    lines = [_fitted(head, record, reason, width, style)]
    lines.append(table([Column(""), Column("", flex=True)], _about(record), width, wrap=True))
    sides = [record.get("legacy") or {}, record.get("app") or {}]
    lines += ["", table(
        [Column(""), Column("legacy", flex=True), Column("app", flex=True)],
        [
            ["status", *(text(side.get("status")) for side in sides)],
            ["latency ms", *(text(side.get("latency_ms")) for side in sides)],
            ["error", *(text(side.get("error")) for side in sides)],
        ],
        width,
        wrap=True,
    )]  # fmt: skip
    lines += _differences("differences", objects(record.get("differences")), width)
    lines += _differences("accepted", objects(record.get("accepted")), width, reasons=True)
    lines += _differences("noise", objects(record.get("noise")), width, reasons=True)
    omitted = record.get("secondary_omitted") or 0
    secondary = objects(record.get("secondary"))
    more = f" (and {omitted} more, not written)" if omitted else ""
    lines += _differences("secondary report", secondary, width, more=more)
    lines += _client(record, width)
    return "\n".join(lines)


def _about(record: Record) -> list[list[str]]:
    rows = [
        ["at", record["ts"]],
        ["request", f"{record.get('method') or '-'} {text(record.get('path'))}"],
        ["route", f"{record['route']} ({record['route_group']}, {text(record.get('kind'))})"],
        ["authoritative", f"{text(record.get('authoritative'))}"
         f" (flags version {text(record.get('flags_version'))})"],
        ["request id", text(record.get("request_id"))],
    ]  # fmt: skip
    if record.get("replica"):
        rows.insert(1, ["replica", str(record["replica"])])
    if record.get("trace_id"):
        spans = record.get("spans") if isinstance(record.get("spans"), dict) else {}
        trace = ", ".join(f"{side} span {span}" for side, span in (spans or {}).items())
        rows.append(["trace", f"{record['trace_id']}" + (f" ({trace})" if trace else "")])
    if record.get("task_id"):
        rows.append(["task", f"{record['task_id']} ({text(record.get('ticker'))}, "
                             f"{text(record.get('date'))})"])  # fmt: skip
    if isinstance(frames := record.get("frames"), dict):
        rows.append(["frames", ", ".join(f"{side} {n}" for side, n in frames.items())])
    return rows + _request(record.get("request"))


def _request(sent: object) -> list[list[str]]:
    """The request as the shadow got it (schema 2): its headers, what was withheld, the body."""
    if not isinstance(sent, dict):
        return []
    headers = [f"{h[0]}: {h[1]}" for h in _pairs(sent.get("headers"))]
    rows = [["headers", "; ".join(headers) or "-"]]
    if withheld := sent.get("withheld"):
        rows.append(["withheld", ", ".join(str(name) for name in withheld)])
    size = sent.get("body_bytes")
    if size:
        body = sent.get("body")
        shown = orjson.dumps(body).decode() if sent.get("encoding") == "json" else text(body)
        kept = f" ({sent.get('encoding')})" if sent.get("encoding") else " (not kept)"
        rows.append(["body", f"{size} bytes{kept}" + (f": {shown}" if body is not None else "")])
    return rows


def _pairs(items: object) -> list[list[str]]:
    """The `[name, value]` pairs of a record's header list; anything else is left out."""
    if not isinstance(items, list):
        return []
    return [[str(i[0]), str(i[1])] for i in items if isinstance(i, list) and len(i) == 2]


def _differences(
    title: str,
    found: list[dict[str, Any]],
    width: int | None,
    *,
    reasons: bool = False,
    more: str = "",
) -> list[str]:
    if not found:
        return []
    columns = [Column("field", flex=True), Column("kind"), Column("legacy", flex=True)]
    columns.append(Column("app", flex=True))
    rows = [
        [text(d.get("field")), text(d.get("kind")), value(d.get("legacy")), value(d.get("app"))]
        for d in found
    ]
    if reasons:
        columns.append(Column("reason", flex=True, words=True))
        for row, d in zip(rows, found, strict=True):
            row.append(text(d.get("reason")))
    return ["", f"{title}: {len(found)}{more}", table(columns, rows, width, wrap=True)]


def _client(record: Record, width: int | None) -> list[str]:
    found = consumers(record)
    client = record.get("client") or {}
    drift = objects(client.get("drift"))
    if not found and not drift:
        return []
    lines = ["", "consumer findings:"]
    if found:
        verdicts = [
            [name, text(entry.get("authoritative")), text(entry.get("shadow"))]
            for name, entry in found.items()
        ]
        lines.append(
            table([Column("consumer"), Column("authoritative"), Column("shadow")], verdicts, width)
        )
        breaks = [b for entry in found.values() for b in objects(entry.get("breaks"))]
        if breaks:
            names = ("consumer", "side", "field", "kind", "expected", "got")
            rows = [[*(text(b.get(name)) for name in names), _notes(b)] for b in breaks]
            flexible = ("field", "expected", "got", "notes")
            columns = [Column(name, flex=name in flexible) for name in (*names, "notes")]
            if not any(row[-1] for row in rows):  # no message, shared or known break
                columns, rows = columns[:-1], [row[:-1] for row in rows]
            lines += ["breaks:", table(columns, rows, width, wrap=True)]
    if drift:
        keys: tuple[str, ...] = ("field", "kind", "legacy_presence", "expected", "got")
        keys += ("message",) if any(d.get("message") for d in drift) else ()
        rows = [[text(d.get(key)) for key in keys] for d in drift]
        columns = [Column(key, flex=key in ("field", "expected"), least=16) for key in keys]
        lines += ["drift:", table(columns, rows, width, wrap=True)]
    return lines


def _notes(found: dict[str, Any]) -> str:
    """What sets a break apart: its websocket message, shared by both sides, a known defect."""
    notes = [f"message {found['message']}"] if found.get("message") else []
    if found.get("shared"):
        notes.append("shared (either side breaks it)")
    if found.get("known"):
        notes.append(f"known: {found['known']}")
    return "; ".join(notes)
