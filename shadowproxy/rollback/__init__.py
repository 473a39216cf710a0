"""Which side answers, and rolling back: by hand in one step, or by itself on a trigger.

Primitives: `flags.Flags` (the authoritative side per route group: environment defaults plus
persisted runtime overrides with their reasons), `triggers` (the migration plan's rollback
triggers as pure rules over a comparison) and `guard.RollbackGuard` (the pipeline's last stage:
a trigger on a comparison the app answered flips that group back to legacy).
"""
