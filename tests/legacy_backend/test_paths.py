"""Path resolution inside a base folder: traversal and symlink escapes."""

from __future__ import annotations

from pathlib import Path

import pytest

from legacy_backend.paths import resolve_inside


@pytest.mark.parametrize(
    "segments",
    [
        pytest.param(("..",), id="dotdot"),
        pytest.param(("a/b",), id="slash"),
        pytest.param(("a\\b",), id="backslash"),
        pytest.param(("ok", ""), id="empty"),
    ],
)
def test_resolve_inside_rejects(tmp_path: Path, segments: tuple[str, ...]) -> None:
    assert resolve_inside(tmp_path, *segments) is None


def test_resolve_inside_rejects_symlink_escape(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "link").symlink_to(tmp_path)
    assert resolve_inside(tmp_path / "base", "link") is None
    assert resolve_inside(tmp_path / "base", "fine") == (tmp_path / "base" / "fine").resolve()
