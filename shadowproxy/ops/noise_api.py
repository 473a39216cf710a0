"""The admin API's `GET /noise`: what the legacy side differs on with itself, per route and field.

It lists every field family with an A/A difference in the window (diff/noise.py): its noise rate
(the share of A/A samples of its route that differ on it), how often legacy and the app differ
on it, and its classification — `noisy` fields' legacy-vs-app differences are outcome `noise`;
`signal` ones differ between legacy and the app clearly more than the noise explains and stay
mismatches. `?state=noisy` (or quiet, signal, unmeasured) keeps one classification; `?route=`
one route template. With a shared store the numbers are the cluster's.
"""

from __future__ import annotations

from aiohttp import web

from shadowproxy.diff.noise import NoiseState
from shadowproxy.http.context import NOISE, ROUTES
from shadowproxy.http.noise import noise_source
from shadowproxy.ops.admin_access import PROXY, cluster, detail, settings


async def get_noise(request: web.Request) -> web.Response:
    proxy, config = request.app[PROXY], settings(request)
    wanted = request.query.get("state")
    if wanted is not None and wanted not in {state.value for state in NoiseState}:
        states = ", ".join(state.value for state in NoiseState)
        return detail(400, f"state must be one of {states}, got {wanted!r}")
    route = request.query.get("route")
    groups = {spec.template: spec.group.value for spec in proxy[ROUTES].specs}
    fields = [
        {
            "route": found.route,
            "route_group": groups.get(found.route, "unknown"),
            "field": found.field,
            "state": found.state.value,
            "rate": round(found.rate, 4),
            "samples": found.aa_samples,
            "differed": found.aa_differed,
            "legacy_vs_app_rate": round(found.la_rate, 4),
            "legacy_vs_app_compared": found.la_compared,
        }
        for found in proxy[NOISE].fields()
        if (wanted is None or found.state == wanted) and (route is None or found.route == route)
    ]
    noise = config.noise
    return web.json_response(
        {
            "source": noise_source(config),
            "sample_rate": config.noise_sample_rate,
            "threshold": noise.threshold,
            "min_count": noise.min_count,
            "window_s": noise.window_s,
            "shared": cluster(request) is not None,
            "fields": fields,
        }
    )
