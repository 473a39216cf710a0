"""Cutover readiness: would the dashboards in use break if the app answered this route group now?

`readiness.Readiness` is a pipeline stage that keeps a sliding window of comparisons' client
findings and the migration checkpoints' evidence (`checkpoints`), and judges each route group and
consumer `ready`, `blocked` or `not_enough_traffic` (`GET /cutover`, `shadowproxy cutover`, the
`shadowproxy_cutover_verdict` gauge; flag flips to the app refuse while it is `blocked`).
`shapes.ShapeFile` keeps the drift learner's shapes in the state dir across restarts.
"""
