"""The task list profile (§1.2 #8, §2.5): items keyed by canonical task id, in order."""

from __future__ import annotations

from typing import Any

import pytest

from shadowproxy.types import DiffKind, Outcome

from ..documents import (
    AAPL_A,
    AAPL_L,
    MSFT_A,
    MSFT_L,
    PORT_A,
    PORT_L,
    app_item,
    app_tasks,
    compare,
    fields,
    legacy_item,
    legacy_tasks,
)

LEGACY_BATCH_ITEM = {
    "task_id": PORT_L,
    "ticker": None,
    "date": None,
    "status": "running",
    "progress": 0,
    "decision": None,
    "error": None,
    "created_at": None,
}
APP_BATCH_ITEM = {
    "task_id": PORT_A,
    "contract_version": "v1alpha1",
    "status": "running",
    "created_at": "2026-04-13T11:00:00.000001",
    "error": None,
    "type": "portfolio",
    "total": 2,
    "completed": 1,
    "failed": 0,
    "current_ticker": "MSFT",
}


@pytest.mark.parametrize(
    ("legacy", "app", "outcome", "expected"),
    [
        pytest.param(
            legacy_tasks(
                legacy_item(AAPL_L, "AAPL"), legacy_item(MSFT_L, "MSFT"), LEGACY_BATCH_ITEM
            ),
            app_tasks(app_item(AAPL_A, "AAPL"), app_item(MSFT_A, "MSFT"), APP_BATCH_ITEM),
            Outcome.MATCH,
            [],
            id="correlated-through-ids",
        ),
        pytest.param(
            legacy_tasks(
                legacy_item(AAPL_L, "AAPL"), legacy_item(MSFT_L, "MSFT"), LEGACY_BATCH_ITEM
            ),
            app_tasks(app_item(AAPL_A, "AAPL"), APP_BATCH_ITEM, app_item(MSFT_A, "MSFT")),
            Outcome.MATCH,
            [],
            id="batches-are-not-placed",
        ),
        pytest.param(
            legacy_tasks(legacy_item(AAPL_L, "AAPL"), legacy_item(MSFT_L, "MSFT")),
            app_tasks(app_item(MSFT_A, "MSFT"), app_item(AAPL_A, "AAPL")),
            Outcome.MISMATCH,
            [("tasks.order", DiffKind.REORDERED)],
            id="reordered",
        ),
        pytest.param(
            legacy_tasks(legacy_item(AAPL_L, "AAPL"), legacy_item(MSFT_L, "MSFT")),
            app_tasks(app_item(AAPL_A, "AAPL")),
            Outcome.MISMATCH,
            [(f"tasks[{MSFT_L}]", DiffKind.MISSING), ("total", DiffKind.CHANGED)],
            id="task-missing-on-app",
        ),
        pytest.param(
            legacy_tasks(legacy_item(AAPL_L, "AAPL")),
            app_tasks(app_item(AAPL_A, "AAPL"), app_item("NVDA_20260413_130000_aaaaaa", "NVDA")),
            Outcome.MISMATCH,
            [("tasks[NVDA_20260413_130000_aaaaaa]", DiffKind.EXTRA), ("total", DiffKind.CHANGED)],
            id="uncorrelated-extra-task",
        ),
        pytest.param(
            legacy_tasks(legacy_item(AAPL_L, "AAPL", status="running", progress=40)),
            app_tasks(app_item(AAPL_A, "AAPL", status="running", progress=60, stage="trading")),
            Outcome.INFLIGHT_SKEW,
            [(f"tasks[{AAPL_L}].progress", DiffKind.CHANGED)],
            id="item-in-flight",
        ),
        pytest.param(
            legacy_tasks(legacy_item(AAPL_L, "AAPL", status="running", progress=20)),
            app_tasks(app_item(AAPL_A, "AAPL", status="running", progress=80, stage="risk")),
            Outcome.MISMATCH,
            [(f"tasks[{AAPL_L}].progress", DiffKind.CHANGED)],
            id="item-too-far-apart",
        ),
        pytest.param(
            legacy_tasks({**legacy_item(AAPL_L, "AAPL"), "decision": "HOLD"}),
            app_tasks(app_item(AAPL_A, "AAPL")),
            Outcome.MISMATCH,
            [(f"tasks[{AAPL_L}].decision", DiffKind.CHANGED)],
            id="item-decision-changed",
        ),
    ],
)
def test_task_list(legacy: Any, app: Any, outcome: Outcome, expected: list[Any]) -> None:
    values = compare("task_list", legacy, app)
    assert values.outcome is outcome, values.differences
    assert fields(values) == expected
