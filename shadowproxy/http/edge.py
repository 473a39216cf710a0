"""The HTTP edge's protocol rules that come before any route: the HTTP version and `Expect`.

`http_1_only` is the proxy app's one middleware; `expect` is the catch-all route's Expect
handler, and `expect_unrouted` makes it the handler of the requests no route matches too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp.web_urldispatcher import MatchInfoError

_HTTP_1 = (aiohttp.HttpVersion10, aiohttp.HttpVersion11)


@web.middleware
async def http_1_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A request line naming HTTP/2.0 or HTTP/0.9 gets 505, before routing (a target the route
    table cannot match would get aiohttp's own 404). aiohttp answers in the version the request
    line named, and no client reads an `HTTP/2.0 505` status line: answer in HTTP/1.1, close."""
    if request.version in _HTTP_1:
        return await handler(request)
    request._cache["version"] = aiohttp.HttpVersion11  # where aiohttp's reify keeps it
    refused = web.json_response({"detail": "HTTP version not supported"}, status=505)
    refused.force_close()
    return refused


async def expect(request: web.Request) -> None:
    """An HTTP/1.1 `Expect: 100-continue` gets 100 Continue before the body is read; any other
    expectation is refused with 417 (RFC 9110 §10.1.1). aiohttp's own handler quotes the value in
    its 417 and fails with a 500 on a value that is not UTF-8. It decides for every request,
    routed or not (`expect_unrouted`)."""
    if request.version != aiohttp.HttpVersion11:
        return
    if request.headers.get("Expect", "").lower() == "100-continue":
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        return
    raise web.HTTPExpectationFailed(
        text='{"detail": "unsupported expectation"}', content_type="application/json"
    )


def expect_unrouted(router: web.UrlDispatcher) -> None:
    """`expect` for the requests no route matches too. aiohttp runs the matched route's Expect
    handler before any middleware, and a target the catch-all `/{tail}` cannot match (a CONNECT's
    authority-form, `OPTIONS *`, an absolute-form without a path: `http://host`) matches aiohttp's
    own route for its 404, with aiohttp's own Expect handler: a 500 for a value that is not UTF-8
    (the fuzz, seed 1809151749). aiohttp offers no hook for that route but the router's resolve
    (its `router` argument is deprecated), so resolve is wrapped."""
    resolve = router.resolve

    async def resolved(request: web.Request) -> web.UrlMappingMatchInfo:
        found = await resolve(request)
        unrouted = found.http_exception
        return found if unrouted is None else _Unrouted(unrouted)

    router.resolve = resolved  # type: ignore[method-assign]  # see above: no other hook


class _Unrouted(MatchInfoError):
    """aiohttp's match for a request no route matches (its 404 or 405), expecting as `expect`."""

    __slots__ = ()

    @property
    def expect_handler(self) -> Callable[[web.Request], Awaitable[None]]:
        return expect
