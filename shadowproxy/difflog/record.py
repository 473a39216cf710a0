"""One diff-log record: a Comparison turned into a redacted, JSON-ready mapping.

The record is built (and redacted) on the publishing side, before anything is queued, so a
secret never sits in the writer's queue or in a half-written file. The schema is documented
in `diff_logs/README.md`; keep the two in step.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from shadowproxy.redact import SECRET_HEADERS, Redactor, redact_path, redact_text
from shadowproxy.types import (
    ClientFindings,
    Comparison,
    ContractBreak,
    Difference,
    ExchangeKind,
    JSONValue,
    Observation,
    Outcome,
    Role,
    SentRequest,
)

EVENT = "shadow_comparison"
# The record schema's version: a reader skips (and counts) records of a newer one, and records
# with a field it does not know (so a new field is a new version). Records written before the
# field existed are version 1.
SCHEMA_VERSION = 4  # 2 added `request`, 3 `replica`, 4 `noise`
# Every top-level field of a record of SCHEMA_VERSION (diff_logs/README.md, "Record schema").
FIELDS = frozenset(
    {
        "ts", "event", "schema", "comparison_id", "request_id", "kind", "route_group", "route",
        "method", "path", "authoritative", "flags_version", "trace_id", "spans", "outcome",
        "legacy", "app", "differences", "accepted", "noise", "secondary", "secondary_omitted",
        "reason", "task_id", "ticker", "date", "frames", "client", "request", "replica",
    }
)  # fmt: skip
# Outcomes that are noise in steady state: written only when the operator asks for matches.
QUIET_OUTCOMES = frozenset({Outcome.MATCH, Outcome.INFLIGHT_SKEW})
MAX_SECONDARY = 20
MAX_TEXT = 2048  # a difference in a whole report body must not make one line megabytes long
MAX_REQUEST_BODY = 64 * 1024  # a larger request body is not kept: its record is not replayable


def should_log(outcome: Outcome, *, log_matches: bool) -> bool:
    return log_matches or outcome not in QUIET_OUTCOMES


def should_record(comparison: Comparison, *, log_matches: bool) -> bool:
    """Quiet outcomes are written only on request, unless their client findings must be.

    Those are a break of the app's authoritative answer (always) and, for the other findings, one
    exemplar per route and finding a minute (`ClientFindings.exemplar`, contracts/inspect.py):
    before a cutover the app breaks the legacy-era dashboard on every status read, and writing
    each of those would make the diff log the busiest thing in the proxy.
    """
    if should_log(comparison.outcome, log_matches=log_matches):
        return True
    return comparison.client is not None and comparison.client.exemplar


def format_ts(moment: datetime) -> str:
    """UTC, millisecond precision, `Z` suffix: sortable as text and what `--since` compares."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class RecordBuilder:
    """Builds records with one redaction policy, naming the replica that wrote them."""

    redactor: Redactor
    replica: str | None = None  # this process's name (`SHADOWPROXY_REPLICA`, else the host's)

    @classmethod
    def create(
        cls, redact_json_paths: Iterable[str], *, replica: str | None = None
    ) -> RecordBuilder:
        return cls(Redactor.from_paths(redact_json_paths), replica)

    def build(self, comparison: Comparison, moment: datetime) -> dict[str, Any]:
        exchange = comparison.exchange
        secondary = comparison.secondary[:MAX_SECONDARY]
        return {
            "ts": format_ts(moment),
            "event": EVENT,
            "schema": SCHEMA_VERSION,
            "replica": self.replica,
            "comparison_id": exchange.comparison_id,
            "request_id": exchange.request_id,
            "kind": exchange.kind.value,
            "route_group": exchange.route_group.value,
            "route": exchange.route,
            "method": exchange.method,
            "path": redact_path(exchange.path),
            "authoritative": exchange.authoritative.value,
            "flags_version": exchange.flags_version,
            "trace_id": exchange.trace.trace_id if exchange.trace else None,
            "spans": (
                {"legacy": exchange.trace.legacy_span, "app": exchange.trace.app_span}
                if exchange.trace
                else None
            ),
            "outcome": comparison.outcome.value,
            "legacy": _side(comparison.legacy),
            "app": _side(comparison.app),
            "differences": [self._difference(d) for d in comparison.differences],
            "accepted": [{**self._difference(d), "reason": d.reason} for d in comparison.accepted],
            "noise": [{**self._difference(d), "reason": d.reason} for d in comparison.noise],
            "secondary": [self._difference(d) for d in secondary],
            "secondary_omitted": len(comparison.secondary) - len(secondary),
            "reason": _text(comparison.reason),
            "task_id": comparison.task_id,
            "ticker": comparison.ticker,
            "date": comparison.date,
            "frames": dict(comparison.frames) if exchange.kind is ExchangeKind.WS else None,
            "client": None if comparison.client is None else _client(comparison.client),
            "request": None if comparison.request is None else self._request(comparison.request),
        }

    def _request(self, sent: SentRequest) -> dict[str, JSONValue]:
        """The headers minus secrets (their names kept in `withheld`) and the body, redacted
        like every other value: parsed JSON when it is JSON, else text, else base64."""
        secret = {name.lower() for name, _ in sent.headers} & SECRET_HEADERS
        section: dict[str, JSONValue] = {
            "headers": [
                [name, redact_text(value)]
                for name, value in sent.headers
                if name.lower() not in SECRET_HEADERS
            ],
            "withheld": [*sorted(secret)],
            "body_bytes": None if sent.body is None else len(sent.body),
            "encoding": None,
            "body": None,
        }
        body = sent.body
        if not body or len(body) > MAX_REQUEST_BODY:
            return section
        try:
            text = body.decode()
        except UnicodeDecodeError:
            return section | {"encoding": "base64", "body": base64.b64encode(body).decode()}
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            return section | {"encoding": "text", "body": redact_text(text)}
        return section | {"encoding": "json", "body": self.redactor.value(parsed)}

    def _difference(self, difference: Difference) -> dict[str, JSONValue]:
        clean = self.redactor.difference(difference)
        return {
            "field": clean.field,
            "kind": clean.kind.value,
            "legacy": _truncate(clean.legacy),
            "app": _truncate(clean.app),
        }


def _client(client: ClientFindings) -> dict[str, JSONValue]:
    """Per consumer: did each role's answer break it, and how; then the drift findings."""
    consumers: dict[str, JSONValue] = {}
    for consumer in client.consumers:
        consumers[consumer] = {
            "authoritative": _verdict(client, consumer, Role.AUTHORITATIVE),
            "shadow": _verdict(client, consumer, Role.SHADOW),
            "breaks": [_break(found) for found in client.breaks if found.consumer == consumer],
        }
    return {
        "consumer": consumers,
        "drift": [
            {
                "field": drift.field,
                "kind": drift.kind.value,
                "legacy_presence": drift.legacy_presence,
                "expected": drift.expected,
                "got": drift.got,
                "message": drift.message,
            }
            for drift in client.drift
        ],
    }


def _verdict(client: ClientFindings, consumer: str, role: Role) -> str:
    return "break" if client.broken(consumer, role) else "ok"


def _break(found: ContractBreak) -> dict[str, JSONValue]:
    return {
        "consumer": found.consumer,
        "side": found.side.value,
        "field": found.field,
        "kind": found.kind.value,
        "expected": found.expected,
        "got": _truncate(redact_text(found.got) if isinstance(found.got, str) else found.got),
        "message": found.message,
        "shared": found.shared,
        "known": found.known,
    }


def _side(observation: Observation | None) -> dict[str, JSONValue] | None:
    if observation is None:
        return None
    return {
        "status": observation.status,
        "latency_ms": round(observation.latency_s * 1000, 1),
        "error": _text(observation.error),
    }


def _text(value: str | None) -> str | None:
    return None if value is None else redact_text(value)


def _truncate(value: JSONValue) -> JSONValue:
    if isinstance(value, str) and len(value) > MAX_TEXT:
        return f"{value[:MAX_TEXT]}…(+{len(value) - MAX_TEXT} chars)"
    if isinstance(value, list):
        return [_truncate(item) for item in value]
    if isinstance(value, dict):
        return {key: _truncate(item) for key, item in value.items()}
    return value
