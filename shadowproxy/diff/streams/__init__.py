"""The websocket comparisons: pure streams fed frames, asked what is due, never doing I/O.

Primitives: `frames.Frame` and `frames.FrameBuffer` (the bounded, never-blocking record of what a
side sent), `base.Stream` (one connection's comparison, with its settle and stall deadlines),
and one stream per route group: `analysis.AnalysisStream` (`/ws/analysis/{task_id}` progress),
`live.OrchestratorStream` (`/ws/orchestrator` live signals) and `generic.GenericStream`.
Their outcomes come from the same rules as HTTP comparisons (`shadowproxy.diff.outcome`).
"""
