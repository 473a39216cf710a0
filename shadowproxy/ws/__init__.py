"""The websocket edge: the client's socket joined to the authoritative side's, and a shadow.

Primitives: `relay.WsRelay` (the `WsHandler`: dial the authoritative side, accept the client,
pump frames both ways with bounded buffers), `dial` (opening a socket to one side and its three
endings), `mirror.Recorder` and `mirror.Shadow` (the shadow connection and the task that feeds
the pure comparison streams of `shadowproxy.diff.streams`, publishing through the pipeline).
"""
