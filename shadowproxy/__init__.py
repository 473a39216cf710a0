"""shadowproxy: a reverse proxy that shadows every request to both backends and diffs the answers.

Primitives: `types` (vocabulary and seams), `diff` (pure comparison core).
"""
