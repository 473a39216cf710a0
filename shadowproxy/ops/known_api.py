"""The admin API's known differences: list them, accept a diff-log signature, withdraw it.

`GET /known` lists every known difference with where it comes from (`builtin`, `config`, or
`runtime` for one accepted here) and whether it is `active` or `expired`. `POST /known` accepts
the differences of one mismatch signature (what `shadowproxy diffs accept` sends)::

    {"signature": "3f2a9c0d1b7e", "route": "/api/analysis/tasks",
     "differences": [{"field": "tasks[].stage", "kind": "changed"}],
     "reason": "the cancel race of 12-01", "owner": "backend-team", "expires": "2026-12-31"}

Each field (a family's `[]` stands for any list index) is accepted on that route for the kinds
named with it; later comparisons whose remaining differences are all accepted are `accepted`.
It never exempts a consumer-contract break: those stay counted in the cutover verdict. A second
acceptance of the same signature replaces the first (a renewal); `DELETE /known/{signature}`
withdraws it. Both are audited (actions `accept`, `withdraw`) and kept across restarts
(rollback/accepted.py). Bad input is a 400 with a `detail`, a disk that refuses a 503; neither
changes anything.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import orjson
from aiohttp import web

from shadowproxy.diff.config import BUILTIN_KNOWN_DIFFERENCES
from shadowproxy.difflog.signatures import ID
from shadowproxy.errors import StoreUnavailable
from shadowproxy.http.context import ACCEPTANCES, ROUTES
from shadowproxy.ops.admin_access import (
    PROXY,
    actor,
    cluster,
    detail,
    flags,
    json_object,
    reason_of,
)
from shadowproxy.rollback.accepted import as_json
from shadowproxy.rollback.audit import Event
from shadowproxy.types import AcceptedDifference, DiffKind

MAX_DIFFERENCES = 50
MAX_TEXT = 500
KINDS = frozenset(kind.value for kind in DiffKind)


async def list_known(request: web.Request) -> web.Response:
    known = request.app[PROXY][ACCEPTANCES].known
    expired = set(known.expired())
    entries = [
        as_json(entry)
        | {
            "source": _source(entry),
            "state": "expired" if entry in expired else "active",
        }
        for entry in known.entries()
    ]
    active = sum(1 for entry in entries if entry["state"] == "active")
    return web.json_response({"known": entries, "active": active, "expired": len(expired)})


async def accept(request: web.Request) -> web.Response:
    try:
        body = await json_object(request)
        route = _route(request, body.get("route"))
        differences = _differences(body.get("differences"))
        reason = reason_of(body, "the difference is accepted")
        owner = _optional_text(body, "owner")
        expires = _expires(body.get("expires"))
        signature = _signature(body.get("signature"), route, differences)
    except ValueError as exc:
        return detail(400, str(exc))
    who = actor(request)
    at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    entries = [
        AcceptedDifference(
            route=route,
            field=field.replace("[]", "[*]"),
            reason=reason,
            expires=expires,
            owner=owner,
            kinds=kinds,
            accepted_by=who,
            accepted_at=at,
            signature=signature,
        )
        for field, kinds in differences.items()
    ]
    shared = cluster(request)
    try:
        if shared is None:
            replaced = request.app[PROXY][ACCEPTANCES].accept(signature, entries)
        else:
            replaced = await shared.known.accept(signature, entries)
    except ValueError as exc:
        return detail(400, str(exc))
    except OSError as exc:
        return detail(503, f"cannot keep the acceptance ({exc.strerror or exc}); nothing changed")
    except StoreUnavailable as exc:
        return detail(503, f"{exc}: an acceptance needs every replica; nothing changed")
    evidence = [f"signature {signature}", f"route {route}"]
    evidence += [f"field {e.field} ({', '.join(sorted(e.kinds)) or 'any kind'})" for e in entries]
    evidence += [f"{name} {value}" for name, value in (("owner", owner), ("expires", expires))]
    state = flags(request)
    state.record(Event(who, "accept", reason, state.version, evidence=tuple(evidence)))
    document = {"signature": signature, "replaced": replaced}
    return web.json_response(document | {"entries": [as_json(e) for e in entries]}, status=201)


async def withdraw(request: web.Request) -> web.Response:
    signature = request.match_info["signature"]
    try:
        body = await json_object(request) if request.can_read_body else {}
        reason = reason_of(body, "the acceptance is withdrawn")
    except ValueError as exc:
        return detail(400, str(exc))
    shared = cluster(request)
    try:
        if shared is None:
            gone = request.app[PROXY][ACCEPTANCES].withdraw(signature)
        else:
            gone = await shared.known.withdraw(signature)
    except OSError as exc:
        return detail(503, f"cannot withdraw ({exc.strerror or exc}); nothing changed")
    except StoreUnavailable as exc:
        return detail(503, f"{exc}: a withdrawal needs every replica; nothing changed")
    if not gone:
        return detail(404, f"no runtime acceptance has the signature {signature!r}")
    state = flags(request)
    evidence = (f"signature {signature}", *(f"field {e.field}" for e in gone))
    state.record(Event(actor(request), "withdraw", reason, state.version, evidence=evidence))
    return web.json_response({"signature": signature, "withdrawn": [as_json(e) for e in gone]})


def _source(entry: AcceptedDifference) -> str:
    if entry.signature is not None:
        return "runtime"
    return "builtin" if entry in BUILTIN_KNOWN_DIFFERENCES else "config"


def _route(request: web.Request, value: object) -> str:
    templates = {spec.template for spec in request.app[PROXY][ROUTES].specs}
    if value == "*" or value in templates:
        return str(value)
    raise ValueError(f"'route' must be '*' or a route template of this proxy, got {value!r}")


def _differences(value: object) -> dict[str, frozenset[str]]:
    """field -> the kinds accepted for it (empty: every kind)."""
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_DIFFERENCES:
        raise ValueError(f"'differences' must be a list of 1-{MAX_DIFFERENCES} {{field, kind}}")
    kinds: dict[str, set[str] | None] = {}
    for item in value:
        if not isinstance(item, dict) or not set(item) <= {"field", "kind"}:
            raise ValueError("each of 'differences' must be an object with 'field' and 'kind'")
        field, kind = item.get("field"), item.get("kind")
        if not isinstance(field, str) or not field.strip() or len(field) > MAX_TEXT:
            raise ValueError(f"a difference's 'field' must be a path of 1-{MAX_TEXT} characters")
        if kind is not None and kind not in KINDS:
            raise ValueError(f"a difference's 'kind' must be one of {sorted(KINDS)} or null")
        known = kinds.setdefault(field.strip(), set())
        if kind is None or known is None:
            kinds[field.strip()] = None
        else:
            known.add(kind)
    return {field: frozenset(found or ()) for field, found in kinds.items()}


def _optional_text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise ValueError(f"'{key}' must be a string of 1-{MAX_TEXT} characters, or null")
    return value.strip()


def _expires(value: object) -> str | None:
    if value is None:
        return None
    try:
        day = dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"'expires' must be a date like 2026-12-31, got {value!r}") from None
    if day < dt.date.today():
        raise ValueError(f"'expires' {day} is in the past")
    return day.isoformat()


def _signature(value: object, route: str, differences: dict[str, frozenset[str]]) -> str:
    """The diff-log signature given, or one made from what is accepted (an acceptance by hand)."""
    if value is not None:
        if not isinstance(value, str) or not ID.fullmatch(value):
            raise ValueError("'signature' must be 12 lower-case hex digits, as diffs prints it")
        return value
    canonical = orjson.dumps([route, sorted((f, sorted(k)) for f, k in differences.items())])
    return hashlib.blake2b(canonical, digest_size=6).hexdigest()
