"""The live signals profile (§3 /ws/orchestrator): one signal per (ticker, date), in order."""

from __future__ import annotations

from typing import Any

import pytest

from shadowproxy.types import DiffKind, Outcome

from ..documents import compare, fields


def legacy_signal(ticker: str, direction: int = -1, confidence: float = 0.42) -> dict[str, Any]:
    return {
        "ticker": ticker,
        "date": "2026-04-11",
        "direction": direction,
        "confidence": confidence,
        "quant_direction": None,
        "llm_direction": direction,
        "timestamp": "2026-04-11T12:01:00+00:00",
    }


def app_signal(ticker: str, direction: int = -1, confidence: float = 0.42) -> dict[str, Any]:
    return {
        "contract_version": "v1alpha1",
        "ticker": ticker,
        "date": "2026-04-11",
        "status": "degraded_success",
        "result": {
            "direction": direction,
            "confidence": confidence,
            "quant_direction": None,
            "llm_direction": direction,
            "timestamp": "2026-04-11T12:01:02+00:00",
        },
        "error": None,
        "degradation": {
            "degraded": True,
            "reason_codes": ["quant_signal_failed"],
            "source_diagnostics": {"quant": {"reason_code": "stale_data"}},
        },
        "data_quality": {"state": "stale_data", "source": "quant"},
        "research": None,
    }


LEGACY_FAILED = {
    "ticker": "TSLA",
    "date": "2026-04-11",
    "error": "both quant and llm signals are None",
}
APP_FAILED = {
    "contract_version": "v1alpha1",
    "ticker": "TSLA",
    "date": "2026-04-11",
    "status": "failed",
    "result": None,
    "error": {
        "code": "live_signal_failed",
        "message": "both quant and llm signals are None",
        "retryable": False,
    },
    "degradation": {
        "degraded": True,
        "reason_codes": ["both_signals_unavailable"],
        "source_diagnostics": {},
    },
    "data_quality": None,
    "research": None,
}


def legacy_live(*signals: Any) -> dict[str, Any]:
    return {"signals": list(signals)}


def app_live(*signals: Any) -> dict[str, Any]:
    return {"contract_version": "v1alpha1", "signals": list(signals)}


@pytest.mark.parametrize(
    ("legacy", "app", "outcome", "expected"),
    [
        pytest.param(
            legacy_live(legacy_signal("AAPL"), legacy_signal("MSFT", 1, 0.55), LEGACY_FAILED),
            app_live(app_signal("AAPL"), app_signal("MSFT", 1, 0.553), APP_FAILED),
            Outcome.MATCH,
            [],
            id="flat-vs-contract",
        ),
        pytest.param(
            legacy_live(legacy_signal("AAPL"), legacy_signal("MSFT")),
            app_live(app_signal("MSFT"), app_signal("AAPL")),
            Outcome.MISMATCH,
            [("signals.order", DiffKind.REORDERED)],
            id="reordered",
        ),
        pytest.param(
            legacy_live(legacy_signal("AAPL", direction=1)),
            app_live(app_signal("AAPL", direction=-1)),
            Outcome.MISMATCH,
            [
                ("signals[AAPL:2026-04-11].direction", DiffKind.CHANGED),
                ("signals[AAPL:2026-04-11].llm_direction", DiffKind.CHANGED),
            ],
            id="direction-changed",
        ),
        pytest.param(
            legacy_live(legacy_signal("AAPL", confidence=0.42)),
            app_live(app_signal("AAPL", confidence=0.45)),
            Outcome.MISMATCH,
            [("signals[AAPL:2026-04-11].confidence", DiffKind.CHANGED)],
            id="confidence-beyond-tolerance",
        ),
        pytest.param(
            legacy_live(legacy_signal("TSLA")),
            app_live(APP_FAILED),
            Outcome.MISMATCH,
            [
                ("signals[TSLA:2026-04-11].status", DiffKind.CHANGED),
                ("signals[TSLA:2026-04-11].direction", DiffKind.CHANGED),
                ("signals[TSLA:2026-04-11].confidence", DiffKind.CHANGED),
                ("signals[TSLA:2026-04-11].llm_direction", DiffKind.CHANGED),
                ("signals[TSLA:2026-04-11].error.present", DiffKind.CHANGED),
            ],
            id="failed-on-one-side",
        ),
        pytest.param(
            {"error": "Expecting value: line 1 column 1 (char 0)"},
            {"error": "Expecting value: line 1 column 1 (char 0)"},
            Outcome.MATCH,
            [],
            id="reply-error",
        ),
        pytest.param(legacy_live(), app_live(), Outcome.MATCH, [], id="ping-gets-empty-signals"),
    ],
)
def test_live_signals(legacy: Any, app: Any, outcome: Outcome, expected: list[Any]) -> None:
    values = compare("live_signals", legacy, app)
    assert values.outcome is outcome, values.differences
    assert fields(values) == expected


def test_a_repeated_member_does_not_hide_the_first() -> None:
    legacy = legacy_live(legacy_signal("AAPL", direction=1), legacy_signal("AAPL", direction=1))
    app = app_live(app_signal("AAPL", direction=1), app_signal("AAPL", direction=-1))
    assert fields(compare("live_signals", legacy, app)) == [
        ("signals[AAPL:2026-04-11#2].direction", DiffKind.CHANGED),
        ("signals[AAPL:2026-04-11#2].llm_direction", DiffKind.CHANGED),
    ]
