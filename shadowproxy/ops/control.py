"""The admin API's mutating endpoints: flips, phases, rollbacks, clears, the Alertmanager hook.

Every change is one `Flags` call, so one file write, one `flags_version` and one audit event.
A move of a group to the app is refused (409, and an audit event) while the group is in its
cooldown after an automatic rollback (`SHADOWPROXY_ROLLBACK_COOLDOWN_S`) or while the cutover
verdict of a configured consumer is `blocked`; `"force": true` with a reason moves anyway and the
reason records what was overridden. Moving a group back to legacy is never refused.

`POST /alertmanager` takes Alertmanager's webhook payload (version 4): each *firing* alert that
carries `rollback="true"` and `route_group` (a group, or `all`) rolls those groups back, once per
alert fingerprint, with actor `alertmanager:<alertname>` and the fingerprint as evidence.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from shadowproxy.errors import StoreUnavailable
from shadowproxy.http.cluster import SETTLE_S
from shadowproxy.ops.admin_access import (
    actor,
    cluster,
    detail,
    flags,
    flags_body,
    force_of,
    json_object,
    readiness,
    reason_of,
    route_group_of,
    settings,
)
from shadowproxy.rollback.flags import Flags
from shadowproxy.rollback.phases import PHASES
from shadowproxy.rollback.windows import cooldown_left
from shadowproxy.types import RouteGroup, Side

SEEN_FINGERPRINTS = web.AppKey("shadowproxy.ops.control.fingerprints", OrderedDict)
MAX_FINGERPRINTS = 4096


async def put_flag(request: web.Request) -> web.Response:
    try:
        group = route_group_of(request)
        body = await json_object(request)
        side = Side.parse(str(body.get("side", "")), name="'side'")
        reason, force = reason_of(body), force_of(body)
    except ValueError as exc:
        return detail(400, str(exc))
    return await _move(request, {group: side}, reason, force, action="flip")


async def post_phase(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    preset = PHASES.get(name)
    if preset is None:
        return detail(400, f"unknown phase {name!r}; phases: {', '.join(PHASES)}")
    try:
        body = await json_object(request)
        reason, force = reason_of(body), force_of(body)
    except ValueError as exc:
        return detail(400, str(exc))
    return await _move(request, preset, f"phase {name}: {reason}", force, action="phase")


async def rollback(request: web.Request) -> web.Response:
    try:
        reason = reason_of(await json_object(request))
    except ValueError as exc:
        return detail(400, str(exc))
    return await _apply(request, lambda f: f.rollback(reason=reason, actor=actor(request)))


async def delete_flags(request: web.Request) -> web.Response:
    reason = "runtime overrides cleared through the admin API"
    return await _apply(request, lambda f: f.clear(reason=reason, actor=actor(request)))


async def alertmanager(request: web.Request) -> web.Response:
    try:
        alerts = _firing_rollbacks(await json_object(request))
    except ValueError as exc:
        return detail(400, f"not an Alertmanager webhook payload (version 4): {exc}")
    seen: OrderedDict[str, None] = request.app[SEEN_FINGERPRINTS]
    state, acted, ignored = flags(request), [], 0
    for name, fingerprint, groups, summary in alerts:
        serving = tuple(g for g in groups if state.authoritative(g) is Side.APP)
        if fingerprint in seen or not serving:
            ignored += 1
            continue
        try:
            state.rollback(
                reason=f"alert {name} firing: {summary}".rstrip(": "),
                actor=f"alertmanager:{name}",
                evidence=(fingerprint,),
                groups=serving,
            )
        except OSError as exc:
            return detail(500, f"flag state could not be saved, nothing changed: {exc.strerror}")
        seen[fingerprint] = None
        while len(seen) > MAX_FINGERPRINTS:
            seen.popitem(last=False)
        for group in serving:
            acted.append(
                {"route_group": group.value, "alertname": name, "fingerprint": fingerprint}
            )
    return web.json_response({"acted": acted, "ignored": ignored, **(await _settled(request))})


def _firing_rollbacks(
    payload: Mapping[str, Any],
) -> list[tuple[str, str, tuple[RouteGroup, ...], str]]:
    """(alertname, fingerprint, groups, summary) of each firing alert that asks for a rollback."""
    if str(payload.get("version")) != "4" or not isinstance(payload.get("alerts"), list):
        raise ValueError("expected 'version': '4' and an 'alerts' list")
    found = []
    for alert in payload["alerts"]:
        labels = alert.get("labels") if isinstance(alert, dict) else None
        fingerprint = alert.get("fingerprint") if isinstance(alert, dict) else None
        if not isinstance(labels, dict) or not isinstance(fingerprint, str) or not fingerprint:
            raise ValueError("every alert needs a 'labels' object and a 'fingerprint'")
        if alert.get("status") != "firing" or labels.get("rollback") != "true":
            continue
        target = str(labels.get("route_group", ""))
        if target == "all":
            groups = tuple(RouteGroup)
        else:
            try:
                groups = (RouteGroup(target),)
            except ValueError:
                raise ValueError(f"route_group {target!r} is no route group (nor 'all')") from None
        annotations = alert.get("annotations")
        summary = str(annotations.get("summary", "")) if isinstance(annotations, dict) else ""
        found.append((str(labels.get("alertname", "alert")), fingerprint, groups, summary[:200]))
    return found


async def _move(
    request: web.Request,
    sides: Mapping[RouteGroup, Side],
    reason: str,
    force: bool,
    *,
    action: str,
) -> web.Response:
    state = flags(request)
    to_app = [
        g
        for g, side in sides.items()
        if side is Side.APP and state.authoritative(g) is not Side.APP
    ]
    held = _holds(request, to_app)
    if held:
        if not force:
            state.refused(sides, reason=reason, actor=actor(request), why=held)
            return detail(
                409,
                f"{held}. See `shadowproxy cutover` and `shadowproxy flags history`; to move"
                " anyway pass force (--force) with a reason.",
            )
        reason = f"{reason} [forced past: {held}]"
    return await _apply(
        request,
        lambda f: f.set_many(sides, reason=reason, actor=actor(request), action=action),
    )


def _holds(request: web.Request, groups: list[RouteGroup]) -> str:
    """Why these groups must not move to the app now ('' when nothing holds them)."""
    now, cooldown = time.time(), settings(request).rollback_cooldown_s
    problems = []
    for group in groups:
        left = cooldown_left(flags(request).rolled_back_at(group), now, cooldown)
        if left > 0:
            problems.append(
                f"{group.value} was rolled back automatically; its cooldown has {left:.0f} s left"
            )
        blocking = readiness(request).blocking(group)
        if blocking:
            verdicts = "; ".join(f"{v.consumer}: {v.summary}" for v in blocking)
            problems.append(f"the cutover of {group.value} to the app is blocked — {verdicts}")
    return " and ".join(problems)


async def _apply(request: web.Request, change: Callable[[Flags], None]) -> web.Response:
    """Apply a flag change; if it cannot be persisted nothing changed, and the caller is told.

    In a scale-out the answer waits (at most SETTLE_S) for the shared store to confirm the
    change, so it carries the cluster's version; `"store": "pending"` says the change applies
    here and waits for an unreachable store."""
    state = flags(request)
    try:
        change(state)
    except OSError as exc:
        return detail(500, f"flag state could not be saved, nothing changed: {exc.strerror}")
    except StoreUnavailable as exc:
        return detail(503, f"{exc}; nothing changed")
    return web.json_response(await _settled(request))


async def _settled(request: web.Request) -> dict[str, Any]:
    shared = cluster(request)
    settled = shared is None or await shared.flags.settled(SETTLE_S)
    body = flags_body(flags(request))  # after the wait: the version the store gave the change
    if not settled:
        body["store"] = "pending"
    return body
