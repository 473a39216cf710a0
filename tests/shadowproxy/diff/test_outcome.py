"""Rules 1 and 2 of the outcome: transport errors and 5xx first, then status classes and details.

Through the engine on the status route, so the other rules would have something to find.
"""

from __future__ import annotations

import pytest

from shadowproxy.types import JSONValue, Observation, Outcome, Side

from .documents import ENGINE, IDS, app_ok, app_status, legacy_ok, legacy_state, status_exchange


@pytest.mark.parametrize(
    ("authoritative", "legacy", "app", "outcome", "reason"),
    [
        pytest.param(
            Side.LEGACY,
            legacy_ok(legacy_state()),
            app_ok(b"Internal Server Error", 500),
            Outcome.SHADOW_ERROR,
            "shadow app: HTTP 500",
            id="500-on-the-shadow",
        ),
        pytest.param(
            Side.LEGACY,
            legacy_ok(legacy_state()),
            Observation(Side.APP, None, error="timeout"),
            Outcome.SHADOW_ERROR,
            "shadow app: timeout",
            id="shadow-transport-timeout",
        ),
        pytest.param(
            Side.APP,
            legacy_ok(legacy_state()),
            app_ok(b"Bad Gateway", 502),
            Outcome.AUTHORITATIVE_ERROR,
            "authoritative app: HTTP 502",
            id="authoritative-5xx",
        ),
        pytest.param(
            Side.APP,
            Observation(Side.LEGACY, None, error="connection refused"),
            app_ok(app_status()),
            Outcome.SHADOW_ERROR,
            "shadow legacy: connection refused",
            id="legacy-shadow-refused",
        ),
        pytest.param(
            Side.LEGACY,
            Observation(Side.LEGACY, None, error="timeout"),
            app_ok(b"Internal Server Error", 500),
            Outcome.BOTH_ERROR,
            "legacy: timeout; app: HTTP 500",
            id="both-failed",
        ),
    ],
)
def test_rule_1_transport_errors_and_5xx(
    authoritative: Side, legacy: Observation, app: Observation, outcome: Outcome, reason: str
) -> None:
    comparison = ENGINE(status_exchange(authoritative=authoritative), legacy, app, IDS)
    assert comparison.outcome is outcome
    assert comparison.reason == reason
    assert comparison.differences == ()


NOT_FOUND: JSONValue = {"detail": "Task not found"}


@pytest.mark.parametrize(
    ("legacy", "app", "outcome", "fields"),
    [
        pytest.param(
            legacy_ok(legacy_state()),
            app_ok(NOT_FOUND, 404),
            Outcome.MISMATCH,
            ["status_code"],
            id="404-for-a-task-the-other-side-has",
        ),
        pytest.param(
            legacy_ok(NOT_FOUND, 404),
            app_ok(NOT_FOUND, 404),
            Outcome.MATCH,
            [],
            id="both-404-same-detail",
        ),
        pytest.param(
            legacy_ok({"detail": "Field required"}, 400),
            app_ok({"detail": "Field required"}, 422),
            Outcome.MATCH,
            [],
            id="same-class-is-a-match",
        ),
        pytest.param(
            legacy_ok({"detail": "ANTHROPIC_API_KEY environment variable not set"}, 400),
            app_ok({"detail": "ticker is required"}, 400),
            Outcome.MISMATCH,
            ["detail"],
            id="4xx-detail-differs",
        ),
        pytest.param(
            legacy_ok(b"not json", 401),
            app_ok({"detail": "Unauthorized: valid X-API-Key header required"}, 401),
            Outcome.MISMATCH,
            ["detail"],
            id="4xx-detail-lost",
        ),
        pytest.param(
            legacy_ok(b"Disallowed CORS origin", 400),
            app_ok(b"Disallowed CORS origin", 400),
            Outcome.MATCH,
            [],
            id="4xx-text-bodies-equal",
        ),
        pytest.param(
            legacy_ok(b"Disallowed CORS origin", 400),
            app_ok(b"400: Bad Request", 400),
            Outcome.MISMATCH,
            ["detail"],
            id="4xx-text-bodies-differ",
        ),
    ],
)
def test_rule_2_status_codes(
    legacy: Observation, app: Observation, outcome: Outcome, fields: list[str]
) -> None:
    comparison = ENGINE(status_exchange(), legacy, app, IDS)
    assert comparison.outcome is outcome
    assert [d.field for d in comparison.differences] == fields
