"""The dashboard key rule."""

from __future__ import annotations

import pytest

from legacy_backend.access import key_matches


@pytest.mark.parametrize(
    ("required", "offered", "ok"),
    [
        pytest.param(None, None, True, id="open-none"),
        pytest.param(None, "x", True, id="open-any"),
        pytest.param("k", "k", True, id="exact"),
        pytest.param("k", "K", False, id="case"),
        pytest.param("k", "", False, id="empty"),
        pytest.param("k", None, False, id="missing"),
        pytest.param("密钥", "密钥", True, id="non-ascii"),
    ],
)
def test_key_matches(required: str | None, offered: str | None, ok: bool) -> None:
    assert key_matches(required, offered) is ok
