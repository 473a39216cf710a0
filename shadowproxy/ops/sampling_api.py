"""The admin API's sampling endpoints: `GET /sampling`, `PUT /sampling/{group}`, `DELETE /sampling`.

`PUT` takes `{"rate": 0.3, "reason": "..."}` (a share between 0 and 1) for one route group;
`DELETE` drops every runtime rate, so the environment's apply again. Each change is an audit
event (`sample`) with each group's rate before and after, and in a scale-out is made for every
replica through the shared store (503 while it does not answer: replicas that sample at
different rates would split flows). The rates apply to flows that start after the change: a flow
already shadowed stays whole (rollback/sampling.py).
"""

from __future__ import annotations

from aiohttp import web

from shadowproxy.errors import StoreUnavailable
from shadowproxy.http.context import SAMPLING
from shadowproxy.ops.admin_access import (
    PROXY,
    actor,
    cluster,
    detail,
    json_object,
    reason_of,
    route_group_of,
)
from shadowproxy.rollback.sampling import SampleRates
from shadowproxy.types import RouteGroup


def _rates(request: web.Request) -> SampleRates:
    return request.app[PROXY][SAMPLING]


async def get_sampling(request: web.Request) -> web.Response:
    return web.json_response(_rates(request).describe())


async def put_sampling(request: web.Request) -> web.Response:
    try:
        group = route_group_of(request)
        body = await json_object(request)
        rate = body.get("rate")
        if isinstance(rate, bool) or not isinstance(rate, int | float):
            raise ValueError(f"'rate' must be a share between 0 and 1, got {rate!r}")
        reason = reason_of(body, "the sample rate changes")
    except ValueError as exc:
        return detail(400, str(exc))
    return await _change(request, group, float(rate), reason)


async def delete_sampling(request: web.Request) -> web.Response:
    return await _change(request, None, None, "runtime sample rates cleared through the admin API")


async def _change(
    request: web.Request, group: RouteGroup | None, rate: float | None, reason: str
) -> web.Response:
    shared, who = cluster(request), actor(request)
    try:
        if shared is None:
            _rates(request).change(group, rate, reason=reason, actor=who)
        else:
            await shared.sampling.change(group, rate, reason=reason, actor=who)
    except ValueError as exc:
        return detail(400, str(exc))
    except OSError as exc:
        return detail(500, f"the sample rates could not be saved, nothing changed: {exc.strerror}")
    except StoreUnavailable as exc:
        return detail(503, f"{exc}: every replica must sample alike; nothing changed")
    return web.json_response(_rates(request).describe())
