"""Validation constants: page sizes."""

from __future__ import annotations

from legacy_backend import validation


def test_pagination_constants() -> None:
    assert (validation.DEFAULT_PAGE_SIZE, validation.MAX_PAGE_SIZE) == (50, 500)
