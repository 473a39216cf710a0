"""The pure comparison core: no I/O, no aiohttp, synchronous functions over value objects.

Primitives: `engine.DiffEngine` (the `types.Comparator`, plus `compare_values` for parsed
websocket frames, returning a `ValueComparison`), `profiles.PROFILES` (route profile name ->
profile), `view.View` (the canonical comparable view a profile projects a body to),
`normalize` (the small callable steps profiles chain), and the rules: `outcome` (their order),
`lifecycle` (in-flight skew), `known` (accepted known differences), `secondary` (the full-body
report, over `structural`: deepdiff's report for JSON values, without deepdiff).
"""
