"""Settings come from an injected mapping; every bad value names its variable."""

from __future__ import annotations

from pathlib import Path
from typing import TypedDict

import pytest

from shadowproxy.errors import SettingsError, UnreadableFile
from shadowproxy.settings import load_settings
from shadowproxy.types import RouteGroup, Side


class Urls(TypedDict):
    legacy_url: str
    app_url: str


URLS: Urls = {"legacy_url": "http://127.0.0.1:8001", "app_url": "http://localhost:8002/"}


def test_defaults_make_legacy_authoritative_everywhere() -> None:
    settings = load_settings({}, **URLS)
    assert set(settings.authoritative.values()) == {Side.LEGACY}
    assert settings.app_url == "http://localhost:8002"
    assert (settings.listen_host, settings.listen_port) == ("127.0.0.1", 8000)
    assert (settings.admin_host, settings.admin_port) == ("127.0.0.1", 9100)
    assert settings.shadow_enabled
    assert settings.sample_rate == 1.0
    assert settings.state_dir == Path("var/shadowproxy")


def test_every_variable_is_read() -> None:
    settings = load_settings(
        {
            "TA_APP_SERVICE_ENABLED": "1",
            "TA_AUTHORITATIVE_WS_ORCHESTRATOR": "legacy",
            "SHADOWPROXY_SHADOW": "off",
            "SHADOWPROXY_SAMPLE_RATE": "0.25",
            "SHADOWPROXY_SHADOW_TIMEOUT_S": "2.5",
            "SHADOWPROXY_UPSTREAM_TIMEOUT_S": "7",
            "SHADOWPROXY_MAX_INFLIGHT_SHADOWS": "3",
            "SHADOWPROXY_MAX_DIFF_BYTES": "4096",
            "SHADOWPROXY_LOG_MATCHES": "yes",
            "SHADOWPROXY_WS_STALL_S": "1.5",
            "SHADOWPROXY_WS_SETTLE_S": "4",
            "SHADOWPROXY_WS_MAX_FRAME_BYTES": "1000",
            "SHADOWPROXY_WS_BUFFER_FRAMES": "7",
            "SHADOWPROXY_WS_BUFFER_BYTES": "70000",
            "SHADOWPROXY_WS_SEND_BUFFER_BYTES": "9000",
            "SHADOWPROXY_MAX_WS_SHADOWS": "2",
            "SHADOWPROXY_AUTO_ROLLBACK": "off",
            "SHADOWPROXY_ROLLBACK_AFTER": "3",
            "SHADOWPROXY_SHUTDOWN_GRACE_S": "0",
            "SHADOWPROXY_ADMIN_TOKEN": "s3cret-token-of-sixteen+",
            "SHADOWPROXY_ROLLBACK_COOLDOWN_S": "60",
        },
        listen="[::1]:0",
        admin="0.0.0.0:9200",
        **URLS,
    )
    assert settings.authoritative[RouteGroup.ANALYSIS] is Side.APP
    assert settings.authoritative[RouteGroup.WS_ORCHESTRATOR] is Side.LEGACY
    assert settings.admin_token == "s3cret-token-of-sixteen+"
    assert "s3cret" not in repr(settings)  # the token never reaches a log line through repr
    assert settings.rollback_cooldown_s == 60.0
    assert not settings.admin_loopback
    assert not settings.shadow_enabled
    assert settings.sample_rate == 0.25
    assert settings.shadow_timeout_s == 2.5
    assert settings.upstream_timeout_s == 7.0
    assert settings.max_inflight_shadows == 3
    assert settings.max_diff_bytes == 4096
    assert settings.log_matches
    assert settings.ws_stall_s == 1.5
    assert settings.ws_settle_s == 4.0
    assert settings.ws_max_frame_bytes == 1000
    assert settings.ws_buffer_frames == 7
    assert settings.ws_buffer_bytes == 70000
    assert settings.ws_send_buffer_bytes == 9000
    assert settings.max_ws_shadows == 2
    assert not settings.auto_rollback
    assert settings.rollback_after == 3
    assert settings.shutdown_grace_s == 0.0
    assert (settings.listen_host, settings.listen_port) == ("::1", 0)
    assert settings.admin_port == 9200


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        pytest.param("TA_APP_SERVICE_ENABLED", "maybe", id="bool"),
        pytest.param("TA_AUTHORITATIVE_REPORTS", "new", id="side"),
        pytest.param("SHADOWPROXY_SHADOW", "2", id="shadow"),
        pytest.param("SHADOWPROXY_SAMPLE_RATE", "1.5", id="rate-range"),
        pytest.param("SHADOWPROXY_SAMPLE_RATE", "nan", id="rate-nan"),
        pytest.param("SHADOWPROXY_SHADOW_TIMEOUT_S", "0", id="timeout-zero"),
        pytest.param("SHADOWPROXY_UPSTREAM_TIMEOUT_S", "soon", id="timeout-text"),
        pytest.param("SHADOWPROXY_MAX_INFLIGHT_SHADOWS", "2.5", id="int"),
        pytest.param("SHADOWPROXY_MAX_DIFF_BYTES", "-1", id="negative"),
        pytest.param("SHADOWPROXY_SHUTDOWN_GRACE_S", "-1", id="grace"),
        pytest.param("SHADOWPROXY_WS_SETTLE_S", "0", id="ws-settle-zero"),
        pytest.param("SHADOWPROXY_WS_MAX_FRAME_BYTES", "1.5", id="ws-frame-not-whole"),
        pytest.param("SHADOWPROXY_WS_BUFFER_FRAMES", "-1", id="ws-frames-negative"),
        pytest.param("SHADOWPROXY_WS_BUFFER_BYTES", "lots", id="ws-bytes-not-a-number"),
        pytest.param("SHADOWPROXY_WS_SEND_BUFFER_BYTES", "0", id="ws-send-zero"),
        pytest.param("SHADOWPROXY_MAX_WS_SHADOWS", "0", id="ws-shadows-zero"),
        pytest.param("SHADOWPROXY_AUTO_ROLLBACK", "sometimes", id="auto-rollback"),
        pytest.param("SHADOWPROXY_ROLLBACK_AFTER", "0", id="rollback-after-zero"),
    ],
)
def test_bad_values_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"^{variable}: .*{value!r}"):
        load_settings({variable: value}, **URLS)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        pytest.param("ftp://127.0.0.1", "http:// or https://", id="scheme"),
        pytest.param("http://", "must name a host", id="no-host"),
        pytest.param("http://127.0.0.1:8001/api", "must not have a path", id="path"),
        pytest.param("http://127.0.0.1:99999", "invalid port", id="port"),
    ],
)
def test_bad_upstream_urls_are_refused(url: str, problem: str) -> None:
    with pytest.raises(SettingsError, match=f"^legacy URL .*{problem}"):
        load_settings({}, legacy_url=url, app_url="http://127.0.0.1:8002")


@pytest.mark.parametrize(
    "listen",
    [
        pytest.param("8000", id="no-host"),
        pytest.param("host:http", id="port-text"),
        pytest.param("host:70000", id="port-range"),
        pytest.param("[nope]:80", id="bad-v6"),
    ],
)
def test_bad_listen_addresses_are_refused(listen: str) -> None:
    with pytest.raises(SettingsError, match="listen address"):
        load_settings({}, listen=listen, **URLS)


def test_a_bad_config_file_is_a_settings_error(tmp_path: Path) -> None:
    config = tmp_path / "diff.toml"
    config.write_text("[nope]\n")
    with pytest.raises(SettingsError, match=r"diff\.toml: top level key 'nope'") as raised:
        load_settings({}, config_path=config, **URLS)
    assert str(raised.value).count("diff.toml") == 1  # the file is named once
    with pytest.raises(UnreadableFile, match=r"missing\.toml: cannot read the config file"):
        load_settings({}, config_path=tmp_path / "missing.toml", **URLS)


def test_consumers_are_chosen_by_name_and_must_read_known_routes(tmp_path: Path) -> None:
    config = tmp_path / "diff.toml"
    config.write_text(
        '[[consumers]]\nname = "ops"\n[[consumers.reads]]\n'
        'route = "/api/analysis/tasks"\npath = "tasks"\nrequired = true\n'
    )
    every = load_settings({}, config_path=config, **URLS).consumers
    assert [c.name for c in every] == ["legacy-dashboard", "v1alpha1-dashboard", "ops"]
    chosen = load_settings(
        {"SHADOWPROXY_CONSUMERS": "ops, legacy-dashboard"}, config_path=config, **URLS
    )
    assert [c.name for c in chosen.consumers] == ["ops", "legacy-dashboard"]
    assert load_settings({"SHADOWPROXY_CONSUMERS": "none"}, **URLS).consumers == ()
    with pytest.raises(SettingsError, match=r"SHADOWPROXY_CONSUMERS: unknown consumer 'ops'"):
        load_settings({"SHADOWPROXY_CONSUMERS": "ops"}, **URLS)
    config.write_text(config.read_text().replace("/api/analysis/tasks", "/api/nowhere"))
    with pytest.raises(SettingsError, match=r"'ops' reads '/api/nowhere', which is no route"):
        load_settings({}, config_path=config, **URLS)


def test_drift_and_cutover_settings(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "SHADOWPROXY_DRIFT_MIN_RESPONSES": "5",
            "SHADOWPROXY_CUTOVER_MIN_COMPARISONS": "3",
            "SHADOWPROXY_CUTOVER_WINDOW_S": "600",
        },
        **URLS,
    )
    assert settings.drift is not None
    assert settings.drift.min_responses == 5
    assert (settings.cutover_min_comparisons, settings.cutover_window_s) == (3, 600.0)
    assert load_settings({"SHADOWPROXY_DRIFT": "off"}, **URLS).drift is None
    with pytest.raises(SettingsError, match="SHADOWPROXY_DRIFT_PRESENCE"):
        load_settings({"SHADOWPROXY_DRIFT_PRESENCE": "0"}, **URLS)


def test_a_non_loopback_admin_needs_a_token(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="SHADOWPROXY_ADMIN_TOKEN"):
        load_settings({}, admin="0.0.0.0:9100", **URLS)
    for host in ("127.0.0.1:9100", "[::1]:9100", "localhost:9100"):
        assert load_settings({}, admin=host, **URLS).admin_token is None
    secret = tmp_path / "token"
    secret.write_text("from-a-mounted-secret-file\n")
    env = {"SHADOWPROXY_ADMIN_TOKEN_FILE": str(secret)}
    assert load_settings(env, admin="0.0.0.0:9100", **URLS).admin_token == (
        "from-a-mounted-secret-file"
    )
    bad = [
        ({"SHADOWPROXY_ADMIN_TOKEN": "short"}, "at least 16"),
        ({**env, "SHADOWPROXY_ADMIN_TOKEN": "x" * 20}, "not both"),
    ]
    for environ, message in bad:
        with pytest.raises(SettingsError, match=message):
            load_settings(environ, **URLS)
    with pytest.raises(UnreadableFile, match="SHADOWPROXY_ADMIN_TOKEN_FILE: cannot read"):
        load_settings({"SHADOWPROXY_ADMIN_TOKEN_FILE": str(tmp_path / "none")}, **URLS)
