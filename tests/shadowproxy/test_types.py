import pytest

from shadowproxy.types import Observation, Side


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("legacy", Side.LEGACY, id="legacy"),
        pytest.param(" APP ", Side.APP, id="case-and-space"),
    ],
)
def test_side_parse(text: str, expected: Side) -> None:
    assert Side.parse(text) is expected
    assert expected.other is not expected


def test_side_parse_rejects_with_a_sentence() -> None:
    with pytest.raises(ValueError, match="TA_AUTHORITATIVE_ANALYSIS must be 'legacy' or 'app'"):
        Side.parse("new", name="TA_AUTHORITATIVE_ANALYSIS")


@pytest.mark.parametrize(
    ("status", "error", "failed"),
    [
        pytest.param(200, None, False, id="ok"),
        pytest.param(404, None, False, id="client-error-is-an-answer"),
        pytest.param(502, None, True, id="5xx"),
        pytest.param(None, "timeout", True, id="transport"),
    ],
)
def test_observation_failed(status: int | None, error: str | None, failed: bool) -> None:
    obs = Observation(Side.APP, status, (("Content-Type", "application/json"),), error=error)
    assert obs.failed is failed
    assert obs.header("content-type") == "application/json"
