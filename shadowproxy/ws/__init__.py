"""Websocket relay: frame-level mirroring and diffing.

Primitives: `frames.Frame` and `frames.FrameBuffer` (the bounded, never-blocking record of what a
side sent), `streams.Stream` (one connection's comparison: fed frames, asked what is due),
`analysis.AnalysisStream`, `orchestrator.OrchestratorStream` and `generic.GenericStream` (the
per-route comparisons, pure), and `relay.WsRelay` (the `WsHandler` that does the network I/O).
"""
