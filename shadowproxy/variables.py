"""The environment variables, by name: the one list of what the proxy and its neighbours read.

Every variable the proxy reads is named once, in `PROXY_VARIABLES`, and read through `variable()`,
which refuses any other name (settings.py and the CLI read nothing else). `BACKEND_VARIABLES`
names the `TA_*` variables the kernel and the two backends read, `TOOLING_VARIABLES` those of the
tests and benchmarks. A variable with one of the checked prefixes that is in none of them is a
typo until shown otherwise: `unknown_variables()` finds them, with the closest known name, for
the CLI to warn at start. tests/shadowproxy/test_variables.py checks the lists against the source
of every package, deploy/ and README's settings table.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from shadowproxy.types import RouteGroup


def authoritative_variable(group: RouteGroup) -> str:
    return f"TA_AUTHORITATIVE_{group.name}"


def sample_rate_variable(group: RouteGroup) -> str:
    return f"SHADOWPROXY_SAMPLE_RATE_{group.name}"


# Every variable the proxy reads (`load_settings` and the CLI), each only through `variable()`.
PROXY_VARIABLES = frozenset(
    {
        *(authoritative_variable(group) for group in RouteGroup),
        *(sample_rate_variable(group) for group in RouteGroup),
        "TA_APP_SERVICE_ENABLED",
        "SHADOWPROXY_SHADOW",
        "SHADOWPROXY_SAMPLE_RATE",
        "SHADOWPROXY_SHADOW_TIMEOUT_S",
        "SHADOWPROXY_UPSTREAM_TIMEOUT_S",
        "SHADOWPROXY_MAX_INFLIGHT_SHADOWS",
        "SHADOWPROXY_MAX_WS_SHADOWS",
        "SHADOWPROXY_MAX_DIFF_BYTES",
        "SHADOWPROXY_LOG_MATCHES",
        "SHADOWPROXY_ACCESS_LOG",
        "SHADOWPROXY_WS_STALL_S",
        "SHADOWPROXY_WS_SETTLE_S",
        "SHADOWPROXY_WS_MAX_FRAME_BYTES",
        "SHADOWPROXY_WS_BUFFER_FRAMES",
        "SHADOWPROXY_WS_BUFFER_BYTES",
        "SHADOWPROXY_WS_SEND_BUFFER_BYTES",
        "SHADOWPROXY_WS_DEFLATE",
        "SHADOWPROXY_SHUTDOWN_GRACE_S",
        "SHADOWPROXY_HEADER_TIMEOUT_S",
        "SHADOWPROXY_KEEPALIVE_S",
        "SHADOWPROXY_MAX_CLIENT_CONNECTIONS",
        "SHADOWPROXY_AUTO_ROLLBACK",
        "SHADOWPROXY_ROLLBACK_AFTER",
        "SHADOWPROXY_ROLLBACK_COOLDOWN_S",
        "SHADOWPROXY_PARITY_WINDOW_S",
        "SHADOWPROXY_PARITY_MIN_COMPARISONS",
        "SHADOWPROXY_PARITY_MAX_MISMATCH",
        "SHADOWPROXY_APP_ERROR_MAX",
        "SHADOWPROXY_CONSUMERS",
        "SHADOWPROXY_CUTOVER_MIN_COMPARISONS",
        "SHADOWPROXY_CUTOVER_WINDOW_S",
        "SHADOWPROXY_DRIFT",
        "SHADOWPROXY_DRIFT_MIN_RESPONSES",
        "SHADOWPROXY_DRIFT_PRESENCE",
        "SHADOWPROXY_DRIFT_MAX_PATHS",
        "SHADOWPROXY_DRIFT_LEARN_EVERY",
        "SHADOWPROXY_ADMIN_TOKEN",
        "SHADOWPROXY_ADMIN_TOKEN_FILE",
        "SHADOWPROXY_LOG_LEVEL",
        "SHADOWPROXY_STORE",
        "SHADOWPROXY_REDIS_URL",
        "SHADOWPROXY_DIFF_LOG",
        "SHADOWPROXY_REPLICA",
        "SHADOWPROXY_NOISE_SAMPLE_RATE",
        "SHADOWPROXY_NOISE_THRESHOLD",
        "SHADOWPROXY_NOISE_MIN_COUNT",
        "SHADOWPROXY_NOISE_WINDOW_S",
        "DASHBOARD_API_KEY",  # `shadowproxy demo`'s dashboard key
    }
)
# The TA_* variables the kernel (orchestrator/) and the backends (legacy_backend/, app_service/,
# backend_common/) read. The proxy imports none of their code, so their names are restated here.
BACKEND_VARIABLES = frozenset(
    {
        "TA_QUANT_ENABLED",
        "TA_CACHE_DIR",
        "TA_MARKET_DATA_DIR",
        "TA_STAGE_DELAY_MS",
        "TA_RESEARCH_NODE_TIMEOUT_S",
        "TA_FAULT_LLM",
        "TA_FAULT_QUANT",
        "TA_FAULT_RESEARCH",
        "TA_FAULT_PIPELINE",
        "TA_FAULT_STALL_S",
        "TA_RESULT_CONTRACT_VERSION",
        "TA_TASKSTORE_DUAL_READ",
        "TA_TASKSTORE_DUAL_WRITE",
        "TA_WS_V1ALPHA1_ENABLED",
        "TA_LEGACY_COMPAT_FIELDS",
        "TA_ANALYSIS_STDOUT_TIMEOUT_S",
        "TA_PORTFOLIO_RETRY_DELAY_S",
    }
)
# Read by the test suite and the benchmarks only (`make test`, `make bench`).
TOOLING_VARIABLES = frozenset({"SHADOWPROXY_FUZZ_SECONDS", "SHADOWPROXY_FUZZ_SEED"})
KNOWN_VARIABLES = PROXY_VARIABLES | BACKEND_VARIABLES | TOOLING_VARIABLES
CHECKED_PREFIXES = ("SHADOWPROXY_", "TA_")


def variable(environ: Mapping[str, str], name: str) -> str:
    """The value of one of `PROXY_VARIABLES`, stripped; "" when it is unset."""
    if name not in PROXY_VARIABLES:
        raise KeyError(f"{name} is read but not one of PROXY_VARIABLES")
    return environ.get(name, "").strip()


def unknown_variables(environ: Mapping[str, str]) -> list[tuple[str, str | None]]:
    """(name, closest known name or None) for each variable with a checked prefix nothing reads.

    Names are compared without their prefix, which every one shares and so says nothing (and a
    SHADOWPROXY_ name may be a TA_ one under the wrong prefix).
    """
    by_stem = {_stem(known): known for known in KNOWN_VARIABLES}
    found = []
    for name in sorted(environ):
        if name.startswith(CHECKED_PREFIXES) and name not in KNOWN_VARIABLES:
            closest = difflib.get_close_matches(_stem(name), by_stem, n=1)
            found.append((name, by_stem[closest[0]] if closest else None))
    return found


def _stem(name: str) -> str:
    for prefix in CHECKED_PREFIXES:
        name = name.removeprefix(prefix)
    return name
