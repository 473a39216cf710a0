"""Replayable fixtures: one file per mismatch signature, and the verdict of replaying one.

`Collector` takes records in one pass and keeps, per signature (difflog/signatures.py), the
count, first and last seen, and the latest record that can be replayed: an HTTP record of
schema 2 or later (it carries `request`) whose body was kept. A signature with no such record is
counted by why (`websocket`, `no request recorded`, `request body not kept`), never written
half. `fixture()` is the file's document (`FIXTURE_VERSION`)::

    {"fixture": 1, "signature": {"id", "route_group", "route", "differences", "legacy_status",
     "app_status", "breaks"}, "seen": {"count", "first", "last"}, "comparison_id",
     "request": {"method", "path", "headers", "withheld", "encoding", "body"},
     "recorded": {"legacy", "app", "differences"}}

Secrets were never written to the diff log, so a fixture holds none either: secret headers are
named in `withheld` (a replay can add them back), secret query values read `[REDACTED]`.

`verdict(fixture, records)` judges what the proxy made of the replayed request: `gone` (no
mismatch now: a match, accepted, noise (its fields named), or an in-flight state), `still there`
(a mismatch with the same signature), `changed` (a mismatch of another signature, or an error
outcome), or `not compared` (skipped, with the reason, or no comparison in time).
"""

from __future__ import annotations

import base64
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

from shadowproxy.difflog.read import Record, families
from shadowproxy.difflog.signatures import MISMATCH, Key, describe, key, signature_document
from shadowproxy.types import Outcome

FIXTURE_VERSION = 1
ERRORS = frozenset(
    {Outcome.SHADOW_ERROR.value, Outcome.AUTHORITATIVE_ERROR.value, Outcome.BOTH_ERROR.value}
)
GONE, STILL, CHANGED, NOT_COMPARED = "gone", "still there", "changed", "not compared"


@dataclass(slots=True)
class _Kept:
    group: str
    count: int
    first: str
    last: str
    record: Record | None = None  # the latest replayable one
    why: str = ""  # why the latest record that is not replayable is not
    why_ts: str = ""


@dataclass(slots=True)
class Collector:
    kept: dict[Key, _Kept] = field(default_factory=dict)

    def add(self, record: Record) -> None:
        if record["outcome"] != MISMATCH:
            return
        signature, ts = key(record), record["ts"]
        kept = self.kept.get(signature)
        if kept is None:
            kept = self.kept[signature] = _Kept(record["route_group"], 0, ts, ts)
        kept.count += 1
        kept.first, kept.last = min(kept.first, ts), max(kept.last, ts)
        why = _unreplayable(record)
        if why is not None:
            if ts >= kept.why_ts:
                kept.why, kept.why_ts = why, ts
        elif kept.record is None or ts >= kept.record["ts"]:
            kept.record = record

    def fixtures(self) -> list[dict[str, Any]]:
        """The replayable signatures' documents, the most frequent first."""
        ranked = sorted(self.kept.items(), key=lambda item: (-item[1].count, item[1].first))
        return [_fixture(sig, kept) for sig, kept in ranked if kept.record is not None]

    def left_out(self) -> Counter[str]:
        """Signatures no record of which can be replayed, by why (the latest record's reason)."""
        return Counter(kept.why for kept in self.kept.values() if kept.record is None)


def _unreplayable(record: Record) -> str | None:
    if record.get("kind") == "ws":
        return "websocket"
    request = record.get("request")
    if not isinstance(request, dict) or not isinstance(request.get("headers"), list):
        return "no request recorded"
    if request.get("body_bytes") and request.get("encoding") is None:
        return "request body not kept"
    return None


def _fixture(signature: Key, kept: _Kept) -> dict[str, Any]:
    record = kept.record
    assert record is not None
    request = record["request"]
    return {
        "fixture": FIXTURE_VERSION,
        "signature": signature_document(signature, kept.group),
        "seen": {"count": kept.count, "first": kept.first, "last": kept.last},
        "comparison_id": record["comparison_id"],
        "request": {
            "method": record.get("method", "GET"),
            "path": record.get("path", signature.route),
            "headers": request["headers"],
            "withheld": request.get("withheld", []),
            "encoding": request.get("encoding"),
            "body": request.get("body"),
        },
        "recorded": {
            "legacy": record.get("legacy"),
            "app": record.get("app"),
            "differences": record.get("differences", []),
        },
    }


def body_bytes(fixture: dict[str, Any]) -> bytes | None:
    """The request body to send again (JSON re-serialized; its meaning, not its spacing)."""
    request = fixture["request"]
    encoding, body = request.get("encoding"), request.get("body")
    if encoding is None:
        return None
    if encoding == "json":
        return orjson.dumps(body)
    if encoding == "base64":
        return base64.b64decode(str(body))
    return str(body).encode()


class Verdict(NamedTuple):
    verdict: str
    outcome: str | None  # the replayed comparison's, None when there was none
    detail: str  # what differs now (and the new signature), the skip reason, or the error
    comparison_id: str | None


def verdict(fixture: dict[str, Any], records: list[Record]) -> Verdict:
    if not records:
        return Verdict(NOT_COMPARED, None, "no comparison in time", None)
    record = records[-1]
    outcome, comparison = record["outcome"], record.get("comparison_id")
    if outcome == MISMATCH:
        now = key(record)
        if now.id == fixture["signature"]["id"]:
            return Verdict(STILL, outcome, describe(now), comparison)
        return Verdict(CHANGED, outcome, f"now {now.id}: {describe(now)}", comparison)
    if outcome in ERRORS:
        return Verdict(CHANGED, outcome, str(record.get("reason") or outcome), comparison)
    if outcome == Outcome.SKIPPED.value:
        return Verdict(NOT_COMPARED, outcome, str(record.get("reason") or "skipped"), comparison)
    if outcome == Outcome.NOISE.value:  # what differs is what legacy differs on with itself
        noisy = ", ".join(families(record.get("noise")))
        return Verdict(GONE, outcome, f"noise only: {noisy}", comparison)
    return Verdict(GONE, outcome, "", comparison)
