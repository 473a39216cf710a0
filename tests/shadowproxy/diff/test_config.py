"""Loading the diff config: a full file, the defaults, and clear errors naming file and key."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TypedDict

import pytest

from shadowproxy.diff.config import (
    BUILTIN_KNOWN_DIFFERENCES,
    DEFAULT_CONFIG,
    DiffConfig,
    load_config,
)
from shadowproxy.errors import ConfigError, UnreadableFile
from shadowproxy.types import AcceptedDifference, RouteGroup

FULL = """
[diff]
confidence_tolerance = 0.01
max_differences = 20

[shadow]
mirror_unknown_writes = true

[redact]
json_paths = ["api_key", "accounts.*.token"]

[[known_differences]]
route = "/api/analysis/status/{task_id}"
field = "error.message"
reason = "app keeps only the ANALYSIS_ERROR text"
expires = 2026-06-30

[[known_differences]]
route = "*"
field = "tasks[*].progress"
reason = "legacy list progress lags"
expires = "2026-07-01"

[[known_differences]]
route = "/api/stocks/screen"
field = "cached"
reason = "each side has its own screening cache"

[[routes]]
template = "/v1/orders/{order_id}"
methods = ["get", "DELETE"]
group = "portfolio"
profile = "json_fields"
key_fields = ["status", "items"]
id_param = "order_id"

[[routes]]
template = "/v1/ping"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "shadowproxy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_full_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, FULL))
    assert config.confidence_tolerance == 0.01
    assert config.max_differences == 20
    assert config.mirror_unknown_writes
    assert config.redact_json_paths == ("api_key", "accounts.*.token")
    assert config.known_differences == (
        *BUILTIN_KNOWN_DIFFERENCES,
        AcceptedDifference(
            "/api/analysis/status/{task_id}",
            "error.message",
            "app keeps only the ANALYSIS_ERROR text",
            "2026-06-30",
        ),
        AcceptedDifference("*", "tasks[*].progress", "legacy list progress lags", "2026-07-01"),
        AcceptedDifference("/api/stocks/screen", "cached", "each side has its own screening cache"),
    )
    orders, ping = config.routes
    assert orders.spec.methods == frozenset({"GET", "DELETE"})
    assert orders.spec.group is RouteGroup.PORTFOLIO
    assert orders.spec.mirror is False, "a route with writes is not mirrored unless asked"
    assert orders.spec.id_param == "order_id"
    assert orders.key_fields == ("status", "items")
    assert ping.spec.profile == "json_equal"
    assert ping.spec.mirror is True
    assert ping.key_fields == ()


def test_empty_file_is_the_default(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "")) == DEFAULT_CONFIG


def test_the_built_in_known_differences_are_the_default_and_a_file_extends_them(
    tmp_path: Path,
) -> None:
    assert DEFAULT_CONFIG.known_differences == BUILTIN_KNOWN_DIFFERENCES
    assert {(known.route, known.field) for known in BUILTIN_KNOWN_DIFFERENCES} == {
        ("/api/analysis/status/{task_id}", "error.cancel_notice"),
        ("/ws/analysis/{task_id}", "error.cancel_notice"),
        ("/api/stocks/screen", "cached"),
    }
    assert all("reference §" in known.reason for known in BUILTIN_KNOWN_DIFFERENCES)
    text = '[[known_differences]]\nroute = "*"\nfield = "total"\nreason = "mine"\n'
    config = load_config(write(tmp_path, text))
    assert config.known_differences == (
        *BUILTIN_KNOWN_DIFFERENCES,
        AcceptedDifference("*", "total", "mine"),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("[dif]\n", "top level key 'dif': unknown key", id="typo-section"),
        pytest.param(
            "[diff]\ntolerance = 1\n", "[diff] key 'tolerance': unknown key", id="typo-key"
        ),
        pytest.param(
            "[diff]\nconfidence_tolerance = -1\n",
            "[diff] key 'confidence_tolerance': expected a number >= 0",
            id="negative-tolerance",
        ),
        pytest.param(
            "[diff]\nconfidence_tolerance = nan\n",
            "[diff] key 'confidence_tolerance'",
            id="nan-tolerance",
        ),
        pytest.param(
            "[diff]\nconfidence_tolerance = 'x'\n",
            "[diff] key 'confidence_tolerance'",
            id="tolerance-text",
        ),
        pytest.param(
            "[diff]\nmax_differences = 0\n",
            "[diff] key 'max_differences': expected an integer >= 1",
            id="zero-cap",
        ),
        pytest.param(
            "[diff]\nmax_differences = true\n", "[diff] key 'max_differences'", id="bool-cap"
        ),
        pytest.param("diff = 3\n", "key 'diff': expected a table [diff]", id="not-a-table"),
        pytest.param(
            "[shadow]\nmirror_unknown_writes = 'yes'\n",
            "[shadow] key 'mirror_unknown_writes': expected true or false",
            id="not-bool",
        ),
        pytest.param(
            "[redact]\njson_paths = 'api_key'\n",
            "[redact] key 'json_paths': expected a list of strings",
            id="paths-not-list",
        ),
        pytest.param(
            "[redact]\njson_paths = ['a..b']\n",
            "[redact] key 'json_paths': 'a..b' is not a dotted path",
            id="empty-segment",
        ),
        pytest.param(
            "[[known_differences]]\nfield = 'x'\nreason = 'y'\n",
            "[[known_differences]] #1 key 'route': expected a non-empty string",
            id="known-no-route",
        ),
        pytest.param(
            "[[known_differences]]\nroute = 'status'\nfield = 'x'\nreason = 'y'\n",
            "[[known_differences]] #1 key 'route': expected a route template or '*'",
            id="known-bad-route",
        ),
        pytest.param(
            "[[known_differences]]\nroute = '*'\nfield = 'x'\nreason = ' '\n",
            "[[known_differences]] #1 key 'reason'",
            id="known-blank-reason",
        ),
        pytest.param(
            "[[known_differences]]\nroute = '*'\nfield = 'x'\nreason = 'y'\nexpires = 'soon'\n",
            "[[known_differences]] #1 key 'expires': expected a date like 2026-06-30, got 'soon'",
            id="known-bad-date",
        ),
        pytest.param(
            "[[known_differences]]\nroute = '*'\nfield = 'x'\nreason = 'y'\n"
            "expires = 2026-06-30T10:00:00\n",
            "key 'expires': expected a date",
            id="known-datetime",
        ),
        pytest.param(
            "known_differences = [1]\n",
            "key 'known_differences': expected an array of tables",
            id="known-not-tables",
        ),
        pytest.param(
            "[[routes]]\ntemplate = 'v1/x'\n",
            "[[routes]] #1 key 'template': expected a path",
            id="route-relative",
        ),
        pytest.param(
            "[[routes]]\ntemplate = '/v1/{x'\n",
            "[[routes]] #1 key 'template'",
            id="route-bad-placeholder",
        ),
        pytest.param(
            "[[routes]]\ntemplate = '/x'\nmethods = ['FETCH']\n",
            "[[routes]] #1 key 'methods': expected HTTP methods",
            id="route-bad-method",
        ),
        pytest.param(
            "[[routes]]\ntemplate = '/x'\ngroup = 'billing'\n",
            "[[routes]] #1 key 'group': expected one of",
            id="route-bad-group",
        ),
        pytest.param(
            "[[routes]]\ntemplate = '/x'\nprofile = 'xml_equal'\n",
            "[[routes]] #1 key 'profile': expected one of",
            id="route-bad-profile",
        ),
        pytest.param(
            "[[routes]]\ntemplate = '/x'\nprofile = 'json_fields'\n",
            "[[routes]] #1 key 'key_fields': profile 'json_fields' needs key_fields",
            id="fields-without-keys",
        ),
        pytest.param(
            "[[routes]]\ntemplate = '/x'\nkey_fields = ['a']\n",
            "[[routes]] #1 key 'key_fields'",
            id="keys-without-fields",
        ),
        pytest.param(
            "[[routes]]\ntemplate = '/x'\nmirror = 1\n",
            "[[routes]] #1 key 'mirror': expected true or false",
            id="route-mirror",
        ),
        pytest.param(
            "[[routes]]\ntemplate = '/x'\n[[routes]]\ntemplate = '/y'\nverb = 'GET'\n",
            "[[routes]] #2 key 'verb': unknown key",
            id="second-route",
        ),
        pytest.param("[diff\n", "not valid TOML", id="bad-toml"),
    ],
)
def test_errors_name_the_file_and_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    # `[[known_differences]]` and `[[routes]]` errors name the line too: `{path}:3: ...`
    assert re.match(rf"{re.escape(str(path))}(:\d+)?: ", str(caught.value))
    assert message in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile, match="cannot read the config file"):
        load_config(tmp_path / "absent.toml")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b"[diff]\n# caf\xe9\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)


class Limits(TypedDict, total=False):
    """The DiffConfig fields it checks itself."""

    confidence_tolerance: float
    max_differences: int


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            {"confidence_tolerance": -0.1}, "confidence_tolerance must be", id="tolerance"
        ),
        pytest.param({"max_differences": 0}, "max_differences must be at least 1", id="cap"),
        pytest.param({"confidence_tolerance": float("inf")}, "confidence_tolerance", id="inf"),
    ],
)
def test_diffconfig_checks_itself(kwargs: Limits, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DiffConfig(**kwargs)
