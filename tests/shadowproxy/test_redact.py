import pytest

from shadowproxy.redact import (
    REDACTED,
    Redactor,
    field_segments,
    is_secret_name,
    parse_json_path,
    redact_mapping,
    redact_path,
    redact_text,
    redact_value,
)
from shadowproxy.types import Difference, DiffKind, JSONValue


@pytest.mark.parametrize(
    ("name", "redacted"),
    [
        pytest.param("api-key", True, id="api-key"),
        pytest.param("Authorization", True, id="authorization"),
        pytest.param("COOKIE", True, id="cookie-upper"),
        pytest.param("Set-Cookie", True, id="set-cookie"),
        pytest.param("Proxy-Authorization", True, id="proxy-authorization"),
        pytest.param("X-API-Key", True, id="x-api-key-suffix"),
        pytest.param("Content-Type", False, id="content-type"),
        pytest.param("X-Request-ID", False, id="request-id"),
    ],
)
def test_secret_names(name: str, redacted: bool) -> None:
    assert is_secret_name(name) is redacted


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param("/api/analysis/tasks", "/api/analysis/tasks", id="no-query"),
        pytest.param(
            "/ws/analysis/T1?api_key=abc", f"/ws/analysis/T1?api_key={REDACTED}", id="api_key"
        ),
        pytest.param("/x?APIKEY=abc&a=1", f"/x?APIKEY={REDACTED}&a=1", id="apikey-case"),
        pytest.param("/x?a=1&token=t&b=2", f"/x?a=1&token={REDACTED}&b=2", id="token-middle"),
        pytest.param("/x?Password=p", f"/x?Password={REDACTED}", id="password"),
        pytest.param("/x?secret=s&secret=t", f"/x?secret={REDACTED}&secret={REDACTED}", id="rep"),
        pytest.param("/x?api%5Fkey=abc", f"/x?api%5Fkey={REDACTED}", id="percent-encoded-key"),
        pytest.param("/x?access_token=abc", f"/x?access_token={REDACTED}", id="suffix"),
        pytest.param("/x?q=a%20b&flag", "/x?q=a%20b&flag", id="raw-bytes-kept"),
        pytest.param("/x?tokens=3", "/x?tokens=3", id="not-a-secret-name"),
    ],
)
def test_redact_path(path: str, expected: str) -> None:
    assert redact_path(path) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "GET http://h/ws?api_key=abc failed",
            f"GET http://h/ws?api_key={REDACTED} failed",
            id="url-in-error",
        ),
        pytest.param("Bearer abc.def", f"Bearer {REDACTED}", id="bearer"),
        pytest.param("client_secret=xyz&n=1", f"client_secret={REDACTED}&n=1", id="suffix"),
        pytest.param(
            'body {"api_key": "k\\"1", "n": 2}',
            f'body {{"api_key": "{REDACTED}", "n": 2}}',
            id="json-pair",
        ),
        pytest.param(
            "GET /\nCookie: sid=1; b=2\nAccept: */*",
            f"GET /\nCookie: {REDACTED}\nAccept: */*",
            id="header-line",
        ),
        pytest.param("timeout", "timeout", id="plain"),
    ],
)
def test_redact_text(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    ("field", "segments"),
    [
        pytest.param("result.decision", ("result", "decision"), id="dotted"),
        pytest.param("signals[BRK.B].rating", ("signals", "BRK.B", "rating"), id="bracket-dot"),
        pytest.param("stages[0]", ("stages", "0"), id="index"),
    ],
)
def test_field_segments(field: str, segments: tuple[str, ...]) -> None:
    assert field_segments(field) == segments


@pytest.mark.parametrize(
    "path",
    [pytest.param("", id="empty"), pytest.param("a..b", id="empty-segment")],
)
def test_parse_json_path_rejects_with_a_sentence(path: str) -> None:
    with pytest.raises(ValueError, match="must be dotted names"):
        parse_json_path(path)


REDACTOR = Redactor.from_paths(["accounts.*.token", "config.credentials"])


@pytest.mark.parametrize(
    ("field", "legacy", "app", "expected_legacy", "expected_app"),
    [
        pytest.param("api_key", "k1", "k2", REDACTED, REDACTED, id="secret-field-name"),
        pytest.param("body.API-KEY", "k1", None, REDACTED, None, id="missing-stays-null"),
        pytest.param("headers.set-cookie", "sid=1", "sid=2", REDACTED, REDACTED, id="set-cookie"),
        pytest.param("accounts.main.token", "t1", "t2", REDACTED, REDACTED, id="configured-exact"),
        pytest.param(
            "config.credentials.user", "u", "v", REDACTED, REDACTED, id="inside-configured"
        ),
        pytest.param(
            "accounts",
            {"main": {"token": "t1", "name": "m"}},
            {"main": {"token": "t2", "name": "n"}},
            {"main": {"token": REDACTED, "name": "m"}},
            {"main": {"token": REDACTED, "name": "n"}},
            id="configured-inside-value",
        ),
        pytest.param(
            "settings",
            {"nested": [{"password": "p"}]},
            {"nested": []},
            {"nested": [{"password": REDACTED}]},
            {"nested": []},
            id="secret-key-at-any-depth",
        ),
        pytest.param("result.decision", "BUY", "HOLD", "BUY", "HOLD", id="ordinary"),
        pytest.param(
            "url", "/a?token=abc", "/a", f"/a?token={REDACTED}", "/a", id="secret-in-text"
        ),
    ],
)
def test_redactor_difference(
    field: str,
    legacy: JSONValue,
    app: JSONValue,
    expected_legacy: JSONValue,
    expected_app: JSONValue,
) -> None:
    redacted = REDACTOR.difference(Difference(field, DiffKind.CHANGED, legacy, app))
    assert (redacted.field, redacted.kind) == (field, DiffKind.CHANGED)
    assert (redacted.legacy, redacted.app) == (expected_legacy, expected_app)


def test_redact_value_list_wildcard() -> None:
    value: JSONValue = [{"k": "a"}, {"k": "b"}]
    assert redact_value(value, (("*", "k"),)) == [{"k": REDACTED}, {"k": REDACTED}]


def test_redact_mapping_scrubs_log_events() -> None:
    event = {"event": "x", "authorization": "Bearer abc", "path": "/p?api_key=k", "n": 3}
    assert redact_mapping(event) == {
        "event": "x",
        "authorization": REDACTED,
        "path": f"/p?api_key={REDACTED}",
        "n": 3,
    }
