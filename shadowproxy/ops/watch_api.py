"""The admin API's watches: how `shadowproxy replay` learns what became of a request it sent.

`POST /watch {"request_ids": [...]}` registers the `X-Request-ID`s a replay is about to send
through the proxy (up to `MAX_IDS` per call; difflog/watch.py bounds the total); then
`GET /watch/{request_id}?wait=SECONDS` answers the records of that request's comparison as a
diff-log reader would see them, waiting up to `wait` (default 10, at most 60) seconds for one:
`{"request_id": ..., "done": true, "records": [...]}`, or `"done": false` with no records when
none came in time, and 404 for an id that is not watched.
"""

from __future__ import annotations

import re

from aiohttp import web

from shadowproxy.http.context import WATCHES
from shadowproxy.ops.admin_access import PROXY, bounded_query, detail, json_object

MAX_IDS = 200
MAX_WAIT_S = 60.0
REQUEST_ID = re.compile(r"[\x21-\x7e]{1,200}")  # what a header value can carry, no spaces


async def expect(request: web.Request) -> web.Response:
    try:
        body = await json_object(request)
        ids = body.get("request_ids")
        if (
            not isinstance(ids, list)
            or not 1 <= len(ids) <= MAX_IDS
            or not all(isinstance(rid, str) and REQUEST_ID.fullmatch(rid) for rid in ids)
        ):
            raise ValueError(
                f"'request_ids' must be a list of 1-{MAX_IDS} request ids"
                " (printable, no spaces, at most 200 characters)"
            )
        watching = request.app[PROXY][WATCHES].expect(ids)
    except ValueError as exc:
        return detail(400, str(exc))
    return web.json_response({"watching": watching}, status=201)


async def result(request: web.Request) -> web.Response:
    rid = request.match_info["request_id"]
    try:
        wait_s = bounded_query(
            request, "wait", "10", float, (0, MAX_WAIT_S), "a number of seconds,"
        )
    except ValueError as exc:
        return detail(400, str(exc))
    records = await request.app[PROXY][WATCHES].result(rid, wait_s)
    if records is None:
        return detail(404, f"request id {rid!r} is not watched (or no longer: watches expire)")
    return web.json_response({"request_id": rid, "done": bool(records), "records": records})
