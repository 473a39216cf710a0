"""`shadowproxy replay OUT_DIR --proxy URL`: send fixtures again, say which divergences remain.

The fixtures are the files `shadowproxy diffs fixtures` wrote (difflog/fixtures.py), sent in the
order their signatures were first seen. Each request gets a fresh `X-Request-ID`
(`replay-<signature>-<random>`), registered with the admin API first (`POST /watch`), so the
proxy keeps the comparison of exactly that request for us whatever it turns out to be — a match
is not written to the diff log by default — and `GET /watch/{id}` hands it back. Per fixture it
prints `gone`, `still there`, `changed` (another signature, or an error now) or `not compared`
(skipped, with the reason — a replayed status poll of a task the proxy no longer knows is
`uncorrelated` — or nothing in time).

The diff log held no secrets, so neither do the fixtures: the headers a fixture withheld
(`Authorization`, `Cookie`, ...) are not sent unless given again with `--header 'Name: value'`.
A replay is real traffic: a fixture of a write (`POST /api/analysis/start`) starts an analysis
on both backends again. Exit 0; 3 with `--fail-on-mismatch` when one is still there or changed;
1 when the proxy or the admin API cannot be reached or a fixture cannot be read; 2 for bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import uuid
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import orjson

from shadowproxy.difflog.fixtures import (
    CHANGED,
    FIXTURE_VERSION,
    STILL,
    Verdict,
    body_bytes,
    verdict,
)
from shadowproxy.difflog.table import Column, table
from shadowproxy.errors import GateFailed, RunError, UnreadableFile, UsageError
from shadowproxy.ops.admin_client import admin_call, admin_token
from shadowproxy.ops.diffs_reading import width
from shadowproxy.ops.options import admin_options, emit, json_option

Parser = TypeVar("Parser", bound=argparse.ArgumentParser)
PROXY_URL = "http://127.0.0.1:8000"
REQUEST_TIMEOUT_S = 60.0


def register(commands: argparse._SubParsersAction[Parser]) -> None:
    replay = commands.add_parser(
        "replay", help="send `diffs fixtures` again through a proxy: is each divergence gone?"
    )
    replay.add_argument("fixtures", type=Path, metavar="OUT_DIR", help="the fixtures' folder")
    replay.add_argument("--proxy", default=PROXY_URL, metavar="URL", help="the proxy to send to")
    replay.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="add this header to every request (repeatable): the withheld credentials",
    )
    replay.add_argument(
        "--wait",
        type=float,
        default=15.0,
        metavar="S",
        help="how long to wait for each comparison after its answer (default 15)",
    )
    replay.add_argument(
        "--fail-on-mismatch",
        action="store_true",
        help="exit 3 when a divergence is still there or changed",
    )
    admin_options(replay)
    json_option(replay)
    replay.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not 0 < args.wait <= 60:
        raise UsageError("--wait must be more than 0 and at most 60 seconds")
    extra = [_header(text) for text in args.header]
    fixtures = load(args.fixtures)
    token = admin_token(args.token_file, os.environ)
    results = asyncio.run(_replay(args, fixtures, extra, token))
    rows = [_row(fixture, found) for fixture, found in zip(fixtures, results, strict=True)]
    emit(args, {"fixtures": rows}, _render(rows))
    remaining = sum(1 for row in rows if row["verdict"] in (STILL, CHANGED))
    if args.fail_on_mismatch and remaining:
        raise GateFailed(f"{remaining} of {len(rows)} divergences are still there or changed")
    return 0


def load(folder: Path) -> list[dict[str, Any]]:
    """The fixtures of `folder`, the earliest first seen first; UnreadableFile names a bad one."""
    if not folder.is_dir():
        raise UnreadableFile(f"fixture folder {folder} does not exist")
    fixtures = []
    for path in sorted(folder.glob("*.json")):
        try:
            fixture = orjson.loads(path.read_bytes())
            if fixture.get("fixture") != FIXTURE_VERSION:
                raise ValueError(f"not a fixture of version {FIXTURE_VERSION}")
            fixture["request"]["method"], fixture["request"]["path"]
            fixture["signature"]["id"]
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise UnreadableFile(f"cannot use the fixture {path}: {exc}") from None
        fixtures.append(fixture)
    if not fixtures:
        raise UnreadableFile(f"no fixtures (*.json) in {folder}")
    return sorted(fixtures, key=lambda fixture: str(fixture.get("seen", {}).get("first", "")))


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip() or any(c in name for c in " \t\r\n"):
        raise UsageError(f"--header takes 'Name: value', got {text!r}")
    return name.strip(), value.strip()


async def _replay(
    args: argparse.Namespace,
    fixtures: list[dict[str, Any]],
    extra: list[tuple[str, str]],
    token: str | None,
) -> list[tuple[int | str, Verdict]]:
    admin = args.admin.rstrip("/")
    ids = [f"replay-{f['signature']['id']}-{uuid.uuid4().hex[:12]}" for f in fixtures]
    await admin_call(admin, "POST", "/watch", {"request_ids": ids}, token=token)
    sent: list[int | str] = []
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as session:
        for fixture, rid in zip(fixtures, ids, strict=True):
            sent.append(await _send(session, args.proxy.rstrip("/"), fixture, rid, extra))
    found = []
    for rid in ids:
        answer = await admin_call(admin, "GET", f"/watch/{rid}?wait={args.wait:g}", token=token)
        found.append(answer.get("records", []))
    return [
        (status, verdict(fixture, records))
        for fixture, status, records in zip(fixtures, sent, found, strict=True)
    ]


async def _send(
    session: aiohttp.ClientSession,
    proxy: str,
    fixture: dict[str, Any],
    rid: str,
    extra: list[tuple[str, str]],
) -> int | str:
    """The client's status, or what went wrong sending (the replay goes on)."""
    request = fixture["request"]
    headers = [(str(n), str(v)) for n, v in request.get("headers", [])]
    headers += [*extra, ("X-Request-ID", rid)]
    try:
        async with session.request(
            request["method"],
            proxy + request["path"],
            headers=headers,
            data=body_bytes(fixture),
            allow_redirects=False,
        ) as response:
            await response.read()
            return response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        if isinstance(exc, aiohttp.ClientConnectorError):
            raise RunError(f"cannot reach the proxy at {proxy}: {exc}") from None
        return type(exc).__name__


def _row(fixture: dict[str, Any], found: tuple[int | str, Verdict]) -> dict[str, Any]:
    status, judged = found
    signature, request = fixture["signature"], fixture["request"]
    return {
        "signature": signature["id"],
        "route": signature["route"],
        "method": request["method"],
        "path": request["path"],
        "client_status": status,
        "verdict": judged.verdict,
        "outcome": judged.outcome,
        "detail": judged.detail,
        "comparison_id": judged.comparison_id,
        "withheld": request.get("withheld", []),
    }


def _render(rows: list[dict[str, Any]]) -> str:
    columns = [
        Column("signature"),
        Column("verdict"),
        Column("outcome"),
        Column("client"),
        Column("request", flex=True, least=24),
        Column("detail", flex=True, least=16),
    ]
    cells = [
        [
            row["signature"],
            row["verdict"],
            row["outcome"] or "-",
            str(row["client_status"]),
            f"{row['method']} {row['path']}",
            row["detail"],
        ]
        for row in rows
    ]
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["verdict"]] = counts.get(row["verdict"], 0) + 1
    summary = ", ".join(f"{n} {name}" for name, n in counts.items())
    return f"{len(rows)} fixtures replayed: {summary}\n" + table(columns, cells, width())
