"""Guards for user-supplied path segments (ticker, date, task id, account name).

Upstream checked `..`, `/` and `\\` in the report routes only; every value here becomes a file or
folder name somewhere under the data dir, so every route uses the same two checks: the segment
test, and a resolved-path containment test that also catches symlinks and encoded forms that
slipped through URL decoding.
"""

from __future__ import annotations

from pathlib import Path

_FORBIDDEN = ("..", "/", "\\", "\x00")


def has_traversal(value: str) -> bool:
    return any(token in value for token in _FORBIDDEN)


def is_safe_segment(value: str) -> bool:
    return bool(value) and not has_traversal(value)


def resolve_inside(base: Path, *segments: str) -> Path | None:
    """`base/segments...` if every segment is safe and the result stays inside `base`."""
    if not all(is_safe_segment(segment) for segment in segments):
        return None
    root = base.resolve()
    candidate = root.joinpath(*segments).resolve()
    if candidate != root and root not in candidate.parents:
        return None
    return candidate
