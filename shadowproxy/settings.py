"""The proxy's frozen Settings, parsed once from an injected environment mapping.

Only the CLI reads `os.environ`; it passes the mapping here together with its own options
(upstream URLs, listen addresses, paths). Every bad value becomes a `SettingsError` whose
sentence names the variable, so the CLI can print it and exit without a traceback.
Each variable is read through `variables.variable()`, which knows every one by name.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar
from urllib.parse import urlsplit

from shadowproxy.contracts.builtin import BUILTIN_CONTRACTS
from shadowproxy.contracts.drift import DriftSettings
from shadowproxy.contracts.model import Contract
from shadowproxy.diff.config import DEFAULT_CONFIG, DiffConfig, load_config
from shadowproxy.diff.noise import NoiseConfig
from shadowproxy.errors import ConfigError, SettingsError, UnreadableFile
from shadowproxy.routing import build_route_table
from shadowproxy.types import RouteGroup, Side
from shadowproxy.variables import authoritative_variable, sample_rate_variable, variable

T = TypeVar("T")

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True, slots=True)
class Settings:
    legacy_url: str
    app_url: str
    listen_host: str
    listen_port: int
    admin_host: str
    admin_port: int
    config: DiffConfig
    diff_log_dir: Path
    state_dir: Path
    authoritative: Mapping[RouteGroup, Side]  # initial sides; runtime flag flips win over these
    shadow_enabled: bool = True
    sample_rate: float = 1.0  # SHADOWPROXY_SAMPLE_RATE: every group's, unless overridden
    sample_rates: Mapping[RouteGroup, float] = field(default_factory=dict)  # _RATE_<GROUP>
    shadow_timeout_s: float = 10.0
    upstream_timeout_s: float = 30.0
    max_inflight_shadows: int = 100
    max_ws_shadows: int = 50  # shadow websocket connections open at once (they live for minutes)
    max_diff_bytes: int = 1_048_576
    log_matches: bool = False
    access_log: bool = False  # one `access` log line per client request
    ws_stall_s: float = 5.0
    ws_settle_s: float = 10.0  # after one side's terminal frame, how long to wait for the other's
    ws_max_frame_bytes: int = 4_194_304  # larger frames close the connection with 1009
    ws_buffer_frames: int = 256  # per side and connection, frames held for the comparison
    ws_buffer_bytes: int = 8_388_608  # per side and connection, bytes held for the comparison
    ws_send_buffer_bytes: int = 1_048_576  # unsent bytes to a client before it is closed (1008)
    ws_deflate: bool = True  # permessage-deflate on each hop whose far end offers or accepts it
    shutdown_grace_s: float = 10.0
    header_timeout_s: float = 10.0  # a client's first request head must arrive within this
    keepalive_s: float = 75.0  # an idle kept-alive client connection is closed after this
    max_client_connections: int = 2048  # open client connections; beyond, new ones are closed
    auto_rollback: bool = True  # a rollback trigger flips its route group back to legacy
    rollback_after: int = 1  # trigger hits within ROLLBACK_WINDOW_S before it acts (notes: 1)
    consumers: tuple[Contract, ...] = tuple(BUILTIN_CONTRACTS.values())  # the ones checked
    drift: DriftSettings | None = field(default_factory=DriftSettings)  # None: not learned
    cutover_min_comparisons: int = 20  # per route group and consumer, before a verdict
    cutover_window_s: float = 3600.0  # readiness looks at this much recent traffic
    admin_token: str | None = field(default=None, repr=False)  # None: loopback-only writes
    rollback_cooldown_s: float = 600.0  # after an automatic rollback, no flip back to app
    parity_window_s: float = 300.0  # the window triggers' window
    parity_min_comparisons: int = 20  # before a window trigger judges a ratio
    parity_max_mismatch: float = 0.05  # mismatch ratio above which parity_below_threshold fires
    app_error_max: float = 0.05  # app 5xx/connection-error ratio above which app_error_rate fires
    store: str = "local"  # where shared state lives: "local" (memory + state dir) or "redis"
    redis_url: str | None = field(default=None, repr=False)  # may hold a password: never logged
    diff_log_output: str = "file"  # "file" (the diff-log dir), "stdout" (JSON lines) or "both"
    replica: str = "proxy"  # this process's name in diff records, audit events and the store
    legacy_secondary_url: str | None = None  # a second legacy instance: A/A reads measure noise
    noise_sample_rate: float = 0.25  # share of shadowed reads that are A/A samples too
    noise: NoiseConfig = field(default_factory=NoiseConfig)

    @property
    def admin_loopback(self) -> bool:
        return is_loopback(self.admin_host)

    def upstream_url(self, side: Side) -> str:
        return self.legacy_url if side is Side.LEGACY else self.app_url


def load_settings(
    environ: Mapping[str, str],
    *,
    legacy_url: str,
    app_url: str,
    listen: str = "127.0.0.1:8000",
    admin: str = "127.0.0.1:9100",
    config_path: Path | None = None,
    diff_log_dir: Path = Path("diff_logs"),
    state_dir: Path = Path("var/shadowproxy"),
    replica: str = "proxy",
    legacy_secondary_url: str | None = None,
) -> Settings:
    env = _Env(environ)
    config = _load_config(config_path)
    listen_host, listen_port = parse_hostport(listen, name="listen address")
    admin_host, admin_port = parse_hostport(admin, name="admin address")
    token = _admin_token(environ)
    store, redis_url = _store(env)
    if token is None and not is_loopback(admin_host):
        raise SettingsError(
            f"the admin address {admin} is not loopback, so its flag and rollback endpoints need a"
            " token: set SHADOWPROXY_ADMIN_TOKEN, or SHADOWPROXY_ADMIN_TOKEN_FILE (a mounted"
            " secret); or listen on 127.0.0.1"
        )
    return Settings(
        legacy_url=parse_upstream_url(legacy_url, name="legacy URL"),
        app_url=parse_upstream_url(app_url, name="app URL"),
        listen_host=listen_host,
        listen_port=listen_port,
        admin_host=admin_host,
        admin_port=admin_port,
        config=config,
        diff_log_dir=diff_log_dir,
        state_dir=state_dir,
        authoritative=_initial_sides(env),
        shadow_enabled=env.get("SHADOWPROXY_SHADOW", _parse_bool, True),
        sample_rate=(rate := env.get("SHADOWPROXY_SAMPLE_RATE", _fraction, 1.0)),
        sample_rates=MappingProxyType(
            {g: env.get(sample_rate_variable(g), _fraction, rate) for g in RouteGroup}
        ),
        shadow_timeout_s=env.get("SHADOWPROXY_SHADOW_TIMEOUT_S", _positive_float, 10.0),
        upstream_timeout_s=env.get("SHADOWPROXY_UPSTREAM_TIMEOUT_S", _positive_float, 30.0),
        max_inflight_shadows=env.get("SHADOWPROXY_MAX_INFLIGHT_SHADOWS", _positive_int, 100),
        max_ws_shadows=env.get("SHADOWPROXY_MAX_WS_SHADOWS", _positive_int, 50),
        max_diff_bytes=env.get("SHADOWPROXY_MAX_DIFF_BYTES", _positive_int, 1_048_576),
        log_matches=env.get("SHADOWPROXY_LOG_MATCHES", _parse_bool, False),
        access_log=env.get("SHADOWPROXY_ACCESS_LOG", _parse_bool, False),
        ws_stall_s=env.get("SHADOWPROXY_WS_STALL_S", _positive_float, 5.0),
        ws_settle_s=env.get("SHADOWPROXY_WS_SETTLE_S", _positive_float, 10.0),
        ws_max_frame_bytes=env.get("SHADOWPROXY_WS_MAX_FRAME_BYTES", _positive_int, 4_194_304),
        ws_buffer_frames=env.get("SHADOWPROXY_WS_BUFFER_FRAMES", _positive_int, 256),
        ws_buffer_bytes=env.get("SHADOWPROXY_WS_BUFFER_BYTES", _positive_int, 8_388_608),
        ws_send_buffer_bytes=env.get("SHADOWPROXY_WS_SEND_BUFFER_BYTES", _positive_int, 1_048_576),
        ws_deflate=env.get("SHADOWPROXY_WS_DEFLATE", _parse_bool, True),
        shutdown_grace_s=env.get("SHADOWPROXY_SHUTDOWN_GRACE_S", _non_negative_float, 10.0),
        header_timeout_s=env.get("SHADOWPROXY_HEADER_TIMEOUT_S", _positive_float, 10.0),
        keepalive_s=env.get("SHADOWPROXY_KEEPALIVE_S", _positive_float, 75.0),
        max_client_connections=env.get("SHADOWPROXY_MAX_CLIENT_CONNECTIONS", _positive_int, 2048),
        auto_rollback=env.get("SHADOWPROXY_AUTO_ROLLBACK", _parse_bool, True),
        rollback_after=env.get("SHADOWPROXY_ROLLBACK_AFTER", _positive_int, 1),
        consumers=_consumers(env, config),
        drift=_drift(env),
        cutover_min_comparisons=env.get("SHADOWPROXY_CUTOVER_MIN_COMPARISONS", _positive_int, 20),
        cutover_window_s=env.get("SHADOWPROXY_CUTOVER_WINDOW_S", _positive_float, 3600.0),
        admin_token=token,
        rollback_cooldown_s=env.get("SHADOWPROXY_ROLLBACK_COOLDOWN_S", _non_negative_float, 600.0),
        parity_window_s=env.get("SHADOWPROXY_PARITY_WINDOW_S", _positive_float, 300.0),
        parity_min_comparisons=env.get("SHADOWPROXY_PARITY_MIN_COMPARISONS", _positive_int, 20),
        parity_max_mismatch=env.get("SHADOWPROXY_PARITY_MAX_MISMATCH", _fraction, 0.05),
        app_error_max=env.get("SHADOWPROXY_APP_ERROR_MAX", _fraction, 0.05),
        store=store,
        redis_url=redis_url,
        diff_log_output=env.get("SHADOWPROXY_DIFF_LOG", _one_of("file", "stdout", "both"), "file"),
        replica=env.get("SHADOWPROXY_REPLICA", _replica_name, _replica_name(replica)),
        legacy_secondary_url=(
            None
            if legacy_secondary_url is None
            else parse_upstream_url(legacy_secondary_url, name="legacy secondary URL")
        ),
        noise_sample_rate=env.get("SHADOWPROXY_NOISE_SAMPLE_RATE", _fraction, 0.25),
        noise=NoiseConfig(
            threshold=env.get("SHADOWPROXY_NOISE_THRESHOLD", _fraction, 0.05),
            min_count=env.get("SHADOWPROXY_NOISE_MIN_COUNT", _positive_int, 20),
            window_s=env.get("SHADOWPROXY_NOISE_WINDOW_S", _positive_float, 3600.0),
        ),
    )


class _Env:
    """Reads one variable at a time and turns a parser's ValueError into a named SettingsError."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def get(self, name: str, parse: Callable[[str], T], default: T) -> T:
        raw = variable(self._environ, name)
        if not raw:
            return default
        try:
            return parse(raw)
        except ValueError as exc:
            raise SettingsError(f"{name}: {exc}") from None


MIN_TOKEN_CHARS = 16


def _admin_token(environ: Mapping[str, str]) -> str | None:
    """SHADOWPROXY_ADMIN_TOKEN, or the content of SHADOWPROXY_ADMIN_TOKEN_FILE; never logged."""
    direct = variable(environ, "SHADOWPROXY_ADMIN_TOKEN")
    path = variable(environ, "SHADOWPROXY_ADMIN_TOKEN_FILE")
    if direct and path:
        raise SettingsError("set SHADOWPROXY_ADMIN_TOKEN or SHADOWPROXY_ADMIN_TOKEN_FILE, not both")
    if path:
        try:
            direct = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise UnreadableFile(
                f"SHADOWPROXY_ADMIN_TOKEN_FILE: cannot read {path} ({exc.strerror or exc})"
            ) from None
        except UnicodeDecodeError:
            raise SettingsError(f"SHADOWPROXY_ADMIN_TOKEN_FILE: {path} is not UTF-8 text") from None
        if not direct:
            raise SettingsError(f"SHADOWPROXY_ADMIN_TOKEN_FILE: {path} is empty")
    if direct and (len(direct) < MIN_TOKEN_CHARS or any(c.isspace() for c in direct)):
        name = "SHADOWPROXY_ADMIN_TOKEN_FILE" if path else "SHADOWPROXY_ADMIN_TOKEN"
        raise SettingsError(
            f"{name}: a token needs at least {MIN_TOKEN_CHARS} characters and no spaces"
        )
    return direct or None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _consumers(env: _Env, config: DiffConfig) -> tuple[Contract, ...]:
    """SHADOWPROXY_CONSUMERS: names, comma-separated, or `none`; default every one known."""
    known = {**BUILTIN_CONTRACTS, **{contract.name: contract for contract in config.consumers}}
    templates = {spec.template for spec in build_route_table(config).specs}
    for contract in config.consumers:
        for surface in contract.reads:
            if surface.route not in templates:
                raise SettingsError(
                    f"consumer {contract.name!r} reads {surface.route!r}, which is no route of"
                    " the route table (a built-in route, or one the config's [[routes]] declares)"
                )

    def parse(text: str) -> tuple[Contract, ...]:
        if text.lower() == "none":
            return ()
        names = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in names if name not in known]
        if unknown:
            raise ValueError(
                f"unknown consumer {unknown[0]!r}; known: {', '.join(sorted(known))}, or none"
            )
        return tuple(known[name] for name in dict.fromkeys(names))

    return env.get("SHADOWPROXY_CONSUMERS", parse, tuple(known.values()))


DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def _store(env: _Env) -> tuple[str, str | None]:
    """SHADOWPROXY_STORE and, for `redis`, SHADOWPROXY_REDIS_URL (checked, never echoed whole)."""
    store = env.get("SHADOWPROXY_STORE", _one_of("local", "redis"), "local")
    if store == "local":
        return store, None
    return store, env.get("SHADOWPROXY_REDIS_URL", _redis_url, DEFAULT_REDIS_URL)


def _redis_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ValueError(f"must start with redis://, rediss:// or unix://, got {parts.scheme!r}:")
    if parts.scheme != "unix" and not parts.hostname:
        raise ValueError("must name a host (redis://HOST:PORT/DB)")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ValueError("has an invalid port") from None
    return text


def _one_of(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.lower()
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {text!r}")
        return value

    return parse


def _replica_name(text: str) -> str:
    """A replica's name as it goes into records and store keys: printable, no spaces, short."""
    name = text.strip()
    if not name or len(name) > 128 or not all(c.isprintable() and not c.isspace() for c in name):
        raise ValueError(f"must be 1-128 printable characters without spaces, got {text!r}")
    return name


def _drift(env: _Env) -> DriftSettings | None:
    if not env.get("SHADOWPROXY_DRIFT", _parse_bool, True):
        return None
    try:
        return DriftSettings(
            min_responses=env.get("SHADOWPROXY_DRIFT_MIN_RESPONSES", _positive_int, 50),
            presence=env.get("SHADOWPROXY_DRIFT_PRESENCE", _fraction, 0.99),
            max_paths=env.get("SHADOWPROXY_DRIFT_MAX_PATHS", _positive_int, 256),
            learn_every=env.get("SHADOWPROXY_DRIFT_LEARN_EVERY", _positive_int, 10),
        )
    except ValueError as exc:
        raise SettingsError(f"SHADOWPROXY_DRIFT_PRESENCE: {exc}") from None


def _initial_sides(env: _Env) -> Mapping[RouteGroup, Side]:
    enabled = env.get("TA_APP_SERVICE_ENABLED", _parse_bool, False)
    default = Side.APP if enabled else Side.LEGACY
    return MappingProxyType(
        {
            group: env.get(authoritative_variable(group), _parse_side, default)
            for group in RouteGroup
        }
    )


def _load_config(path: Path | None) -> DiffConfig:
    if path is None:
        return DEFAULT_CONFIG
    try:
        return load_config(path)
    except ConfigError as exc:  # its sentence already names the file (and the line)
        raise SettingsError(str(exc)) from None
    except (ValueError, OSError) as exc:
        raise SettingsError(f"diff config {path}: {exc}") from None


def parse_upstream_url(text: str, *, name: str) -> str:
    """An http(s) origin, any host; a path beyond "/" would silently prefix every route."""
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https"):
        raise SettingsError(f"{name} must start with http:// or https://, got {text!r}")
    if not parts.hostname:
        raise SettingsError(f"{name} must name a host, got {text!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise SettingsError(f"{name} must not have a path, query or fragment, got {text!r}")
    try:
        port = parts.port
    except ValueError:
        raise SettingsError(f"{name} has an invalid port, got {text!r}") from None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def parse_hostport(text: str, *, name: str) -> tuple[str, int]:
    """`host:port` or `[v6]:port`; port 0 asks the OS for a free port (tests, `demo`)."""
    host, sep, port_text = text.strip().rpartition(":")
    if not sep or not host:
        raise SettingsError(f"{name} must be host:port, got {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise SettingsError(f"{name} has an invalid IPv6 address, got {text!r}") from None
    try:
        port = int(port_text)
    except ValueError:
        raise SettingsError(f"{name} port must be a number, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise SettingsError(f"{name} port must be between 0 and 65535, got {text!r}")
    return host, port


_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_seconds_text(text: str) -> float:
    """A duration like `300`, `90s`, `5m` or `1h`, in seconds (> 0)."""
    value = text.strip().lower()
    scale = _UNITS.get(value[-1:], 0.0)
    number = value[:-1] if scale else value
    try:
        seconds = float(number) * (scale or 1.0)
    except ValueError:
        raise ValueError(f"expected a duration like 300, 90s, 5m or 1h, got {text!r}") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"expected a duration above 0, got {text!r}")
    return seconds


def _parse_bool(text: str) -> bool:
    value = text.lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"must be one of on/off, 1/0, true/false, yes/no, got {text!r}")


def _parse_side(text: str) -> Side:
    return Side.parse(text, name="the value")


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"must be a finite number, got {text!r}")
    return value


def _fraction(text: str) -> float:
    value = _finite_float(text)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"must be between 0 and 1, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    value = _finite_float(text)
    if value <= 0:
        raise ValueError(f"must be greater than 0, got {text!r}")
    return value


def _non_negative_float(text: str) -> float:
    value = _finite_float(text)
    if value < 0:
        raise ValueError(f"must be 0 or more, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"must be a whole number, got {text!r}") from None
    if value <= 0:
        raise ValueError(f"must be greater than 0, got {text!r}")
    return value
