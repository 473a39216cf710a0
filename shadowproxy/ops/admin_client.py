"""The CLI's side of the admin API: one authenticated call, and the tables it prints.

The token comes from `--token-file FILE` or `SHADOWPROXY_ADMIN_TOKEN` (a file wins); it is sent
as `Authorization: Bearer ...` and never printed. Every call says it comes from the CLI, which
the audit trail records as the actor `cli`. A failed call raises from the exception tree, so the
CLI's exit code follows: a 4xx answer is the operator's to fix (`UsageError`), a 409 a refusal
by a gate (`GateFailed`: a cooldown, a blocked cutover), anything else a `RunError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from shadowproxy.errors import GateFailed, RunError, UnreadableFile, UsageError
from shadowproxy.ops.admin_access import CLIENT_HEADER
from shadowproxy.variables import variable


def admin_token(token_file: Path | None, environ: Mapping[str, str]) -> str | None:
    if token_file is not None:
        try:
            return token_file.read_text(encoding="utf-8").strip() or None
        except (OSError, UnicodeDecodeError) as exc:
            problem = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise UnreadableFile(f"cannot read the token file {token_file}: {problem}") from None
    return variable(environ, "SHADOWPROXY_ADMIN_TOKEN") or None


async def admin_call(
    admin: str, method: str, path: str, body: Any = None, *, token: str | None = None
) -> dict[str, Any]:
    """One admin API call, its JSON object answer; raises as the module docstring says."""
    timeout = aiohttp.ClientTimeout(total=10)
    headers = {CLIENT_HEADER: "cli"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.request(method, f"{admin}{path}", json=body, headers=headers) as response,
        ):
            payload = orjson.loads(await response.read())
    except (aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError) as exc:
        problem = exc or type(exc).__name__
        raise RunError(f"cannot use the admin API at {admin}: {problem}") from exc
    if not isinstance(payload, dict):
        raise RunError(f"{admin}{path} did not answer a JSON object")
    detail = str(payload.get("detail", payload))
    if response.status == 401:
        raise UsageError(detail + " (pass --token-file or set SHADOWPROXY_ADMIN_TOKEN)")
    if response.status == 409:
        raise GateFailed(detail)
    if response.status >= 500:
        raise RunError(detail)
    if response.status >= 400:
        raise UsageError(detail)
    return dict(payload)


def render_flags(flags: Mapping[str, Any]) -> str:
    overrides = flags.get("overrides", {})
    lines = [
        f"phase {flags.get('phase', '?')}, flags version {flags.get('flags_version', '?')}",
        f"{'route group':<18}{'authoritative':<15}runtime override",
    ]
    for group, side in flags.get("authoritative", {}).items():
        override = overrides.get(group)
        note = (
            f"{override['side']} since {override['at']}: {override['reason']}" if override else ""
        )
        lines.append(f"{group:<18}{side:<15}{note}".rstrip())
    return "\n".join(lines)


def render_history(events: list[Mapping[str, Any]]) -> str:
    if not events:
        return "no events"
    lines = [f"{'at':<30}{'version':>8}  {'actor':<34}{'action':<10}change / reason"]
    for event in events:
        change = ", ".join(f"{c['group']} {c['from']}→{c['to']}" for c in event.get("change", []))
        evidence = ", ".join(event.get("evidence", []))
        tail = "; ".join(part for part in (change, event.get("reason", ""), evidence) if part)
        lines.append(
            f"{event.get('at', ''):<30}{event.get('flags_version', ''):>8}  "
            f"{event.get('actor', ''):<34}{event.get('action', ''):<10}{tail}"
        )
    return "\n".join(lines)


def render_parity(report: Mapping[str, Any]) -> str:
    lines = [
        f"parity over the last {float(report.get('window_s', 0)) / 60:g} min",
        f"{'route group':<18}{'answers':<9}{'compared':>9}{'mismatch':>10}"
        f"{'legacy err':>12}{'app err':>9}  top fields",
    ]
    for group, row in report.get("groups", {}).items():
        fields = ", ".join(f"{f['field']} ({f['count']})" for f in row.get("top_fields", [])[:3])
        errors = row.get("error_ratio", {})
        lines.append(
            f"{group:<18}{row.get('authoritative', ''):<9}{row.get('comparisons', 0):>9}"
            f"{_percent(row.get('mismatch_ratio')):>10}{_percent(errors.get('legacy')):>12}"
            f"{_percent(errors.get('app')):>9}  {fields}".rstrip()
        )
    return "\n".join(lines)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"
