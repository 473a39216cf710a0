"""shadowproxy: a reverse proxy that shadows every request to both backends and diffs the answers.

A map of the package, from the bottom layer up (each imports only the layers below it; the
`layers` contract in pyproject.toml enforces it, docs/architecture.md walks a request through):

- `types` — the vocabulary: sides, route groups, outcomes, `Exchange`, `Observation`,
  `Comparison`, and the Protocols at the seams (`Comparator`, `DiffSink`, `IdAliases`).
- `build` — what this build is: the package version and the runtimes under it.
- `errors` — the one exception tree; `redact` — what never reaches a log.
- `diff/` — the pure comparison core: engine, profiles, outcome rules, config, and the pure
  websocket comparison streams (`diff.streams`).
- `routing` — the route table; `settings` — the frozen `Settings` from an injected environ;
  `variables` — every environment variable by name, and the unknown ones.
- `metrics`, `correlation`, `tasks` — Prometheus families, the legacy<->app id map (and the id
  rewrite both edges use), the `spawn()` helper.
- `difflog/` — the JSONL diff-log sink and its reader; `rollback/` — flags, triggers, guard.
- `publish` — the one comparison pipeline (metrics, diff log, guard) and failure handler.
- `http/` — the HTTP edge: the app, request shaping, upstream calls, shadow dispatch.
- `ws/` — the websocket edge: relay, dial, the shadow connection.
- `ops/` — the process: CLI, server, admin API, logging, `shadowproxy up`, the demo.
"""
