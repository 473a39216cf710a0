"""`shadowproxy diffs accept SIGNATURE` and `shadowproxy diffs fixtures OUT_DIR`.

`accept` finds the signature (as `diffs signatures` prints it; a unique prefix will do) among the
selected records, and asks the admin API to accept its differences (`POST /known`, with the
token; ops/known_api.py): later comparisons whose remaining differences are all among them are
`accepted`. `--reason` is required; `--owner` and `--expires` make it a debt with a name and a
due date. `--withdraw` takes an acceptance back (`DELETE /known/SIGNATURE`). Accepting never
exempts a consumer-contract break, and the command says so when the signature has one.

`fixtures` writes one replayable file per mismatch signature of the selected records
(difflog/fixtures.py) into OUT_DIR, named `<signature>.json`, and says which signatures could
not be written and why; `shadowproxy replay OUT_DIR` sends them again.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import orjson

from shadowproxy.difflog.fixtures import Collector
from shadowproxy.difflog.read import Record
from shadowproxy.difflog.signatures import ID, Key, describe, key, signature_document
from shadowproxy.errors import RunError, UsageError
from shadowproxy.ops.admin_client import admin_call, admin_token
from shadowproxy.ops.diffs_reading import Report, filter_options, warn
from shadowproxy.ops.options import admin_options, emit, json_option

Parser = TypeVar("Parser", bound=argparse.ArgumentParser)
MIN_PREFIX = 4


def register(
    commands: argparse._SubParsersAction[Parser],
) -> argparse._SubParsersAction[Parser]:
    accept = commands.add_parser(
        "accept", help="accept a mismatch signature as a known difference (admin API, audited)"
    )
    accept.add_argument("signature", metavar="SIGNATURE", help="as `diffs signatures` prints it")
    accept.add_argument("--reason", help="why it is accepted (required; logged and kept)")
    accept.add_argument("--owner", metavar="NAME", help="who answers for it")
    accept.add_argument(
        "--expires",
        type=_date,
        metavar="DATE",
        help="accepted until the end of this day (YYYY-MM-DD), then a mismatch again",
    )
    accept.add_argument(
        "--withdraw", action="store_true", help="take the acceptance of SIGNATURE back"
    )
    admin_options(accept)
    accept.set_defaults(func=_accept)

    fixtures = commands.add_parser(
        "fixtures", help="one replayable file per mismatch signature (for `shadowproxy replay`)"
    )
    fixtures.add_argument("out", type=Path, metavar="OUT_DIR", help="where to write them")
    fixtures.set_defaults(func=_fixtures)
    for sub in (accept, fixtures):
        filter_options(sub)
        json_option(sub)
    return commands


def _date(text: str) -> str:
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-12-31, got {text!r}") from None


def _accept(args: argparse.Namespace) -> int:
    wanted = args.signature.strip().lower()
    token = admin_token(args.token_file, os.environ)
    if args.withdraw:
        return _withdraw(args, wanted, token)
    if len(wanted) < MIN_PREFIX:
        raise UsageError(f"give at least {MIN_PREFIX} characters of the signature")
    if not args.reason or not args.reason.strip():
        raise UsageError("--reason is required: say why the difference is accepted")
    report = Report(args)
    signature, group = _find(report.records(), wanted)
    warn(report.skips)
    if not signature.differences:
        raise UsageError(f"signature {signature.id} has no differing field to accept")
    body: dict[str, Any] = {
        "signature": signature.id,
        "route": signature.route,
        "differences": [{"field": f, "kind": k} for f, k in signature.differences],
        "reason": args.reason.strip(),
        "owner": args.owner,
        "expires": args.expires,
    }
    answer = asyncio.run(admin_call(args.admin.rstrip("/"), "POST", "/known", body, token=token))
    verb = "renewed" if answer.get("replaced") else "accepted"
    lines = [f"{verb} {signature.id} on {signature.route}: {describe(signature)}"]
    if signature.breaks:
        lines.append(
            "note: its consumer-contract breaks stay counted in the cutover verdict;"
            " accepting a difference does not make a broken dashboard work"
        )
    emit(args, answer | {"matched": signature_document(signature, group)}, "\n".join(lines))
    return 0


def _withdraw(args: argparse.Namespace, signature: str, token: str | None) -> int:
    if not ID.fullmatch(signature):
        raise UsageError("--withdraw takes the whole signature: 12 hex digits, as accepted")
    body = {"reason": (args.reason or "").strip() or "withdrawn from the CLI"}
    path = f"/known/{quote(signature, safe='')}"
    answer = asyncio.run(admin_call(args.admin.rstrip("/"), "DELETE", path, body, token=token))
    emit(args, answer, f"withdrew the acceptance of {signature}: {_fields(answer['withdrawn'])}")
    return 0


def _find(records: Iterator[Record], wanted: str) -> tuple[Key, str]:
    found: dict[Key, str] = {}
    for record in records:
        if record["outcome"] != "mismatch":
            continue
        signature = key(record)
        if signature not in found and signature.id.startswith(wanted):
            found[signature] = record["route_group"]
    if not found:
        raise RunError(f"no mismatch signature {wanted} among the selected records")
    if len(found) > 1:
        ids = ", ".join(sorted(signature.id for signature in found))
        raise UsageError(f"{wanted} starts more than one signature ({ids}): give more of it")
    return next(iter(found.items()))


def _fields(entries: list[dict[str, Any]]) -> str:
    return ", ".join(str(entry.get("field")) for entry in entries)


def _fixtures(args: argparse.Namespace) -> int:
    report, collector = Report(args), Collector()
    for record in report.records():
        collector.add(record)
    warn(report.skips)
    out: Path = args.out
    written = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        for fixture in collector.fixtures():
            path = out / f"{fixture['signature']['id']}.json"
            path.write_bytes(orjson.dumps(fixture, option=orjson.OPT_INDENT_2) + b"\n")
            written.append(str(path))
    except OSError as exc:
        raise RunError(f"cannot write fixtures into {out}: {exc.strerror or exc}") from None
    left_out = collector.left_out()
    lines = [f"wrote {len(written)} fixtures into {out}"]
    if left_out:
        reasons = ", ".join(f"{n} {why}" for why, n in left_out.most_common())
        lines.append(f"{sum(left_out.values())} signatures not written: {reasons}")
    emit(args, {"written": written, "left_out": dict(left_out)}, "\n".join(lines))
    return 0
