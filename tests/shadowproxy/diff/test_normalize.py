"""Normalizers: the small steps profiles chain to reach the canonical view."""

from __future__ import annotations

from typing import Any

import pytest

from shadowproxy.diff.normalize import ErrorShape, PathTail, StatusWord


@pytest.mark.parametrize(
    ("error", "shaped"),
    [
        pytest.param(None, {"present": False}, id="none"),
        pytest.param("  ", {"present": False}, id="blank"),
        pytest.param(
            "Unknown error", {"present": True, "message": "Unknown error"}, id="legacy-text"
        ),
        pytest.param(
            "Traceback (most recent call last):\n  ...\n"
            "ANALYSIS_ERROR:first\nANALYSIS_ERROR:last one \n",
            {"present": True, "message": "last one"},
            id="stderr-tail",
        ),
        pytest.param(
            {
                "code": "analysis_failed",
                "message": "openai provider API key not configured",
                "retryable": False,
            },
            {
                "present": True,
                "message": "openai provider API key not configured",
                "code": "analysis_failed",
            },
            id="app-object",
        ),
    ],
)
def test_error_shape(error: Any, shaped: dict[str, Any]) -> None:
    assert ErrorShape()(error) == shaped


@pytest.mark.parametrize(
    ("status", "message", "word"),
    [
        pytest.param("degraded_success", None, ("completed", True), id="degraded-success"),
        pytest.param("failed", "用户取消", ("cancelled", False), id="legacy-cancel"),
        pytest.param("failed", "boom", ("failed", False), id="failed"),
        pytest.param("running", None, ("running", False), id="running"),
        pytest.param(None, None, (None, False), id="absent"),
    ],
)
def test_status_word(status: Any, message: str | None, word: tuple[str | None, bool]) -> None:
    assert StatusWord()(status, message) == word


@pytest.mark.parametrize(
    ("path", "tail"),
    [
        pytest.param("/srv/legacy/results/AAPL/2026-04-13", "AAPL/2026-04-13", id="posix"),
        pytest.param("C:\\data\\results\\AAPL\\2026-04-13", "AAPL/2026-04-13", id="windows"),
        pytest.param("/results/x/results/AAPL/2026-04-13", "AAPL/2026-04-13", id="last-segment"),
        pytest.param("/srv/elsewhere/AAPL", "/srv/elsewhere/AAPL", id="no-marker"),
    ],
)
def test_path_tail(path: str, tail: str) -> None:
    assert PathTail("results")(path) == tail
