"""The HTTP edge: where client requests come in and each side's answer is fetched.

Primitives: `app.create_app` (the proxy application and its catch-all handler, the hot path),
`exchange.shape` (a client request, HTTP or websocket upgrade, as an `Exchange`, shaped once)
and `exchange.side_headers`, `upstream.Upstream` (one keep-alive pool per side; forwarding,
streaming the answer, `map_client_errors` — the only place aiohttp's errors are translated),
`headers` (hop-by-hop rules and the proxy's own headers), `shadow.ShadowDispatcher` (the bounded
background half of every exchange) and `context.ProxyContext` (what every handler shares).
"""
