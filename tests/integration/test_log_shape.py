"""The three services log one shape: the same keys for time, level, service, logger and event.

Each service's own logging set-up runs in a subprocess (structlog and stdlib logging are
process-global): the proxy's `shadowproxy.ops.logging.configure_logging`, and each backend's
`__main__.configure_logging` (both built on `backend_common.logging`). The proxy keeps its own
copy because it imports no backend code, so this test is what keeps the copies in step.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest

CONFIGURE = {
    "shadowproxy": "from shadowproxy.ops.logging import configure_logging\nconfigure_logging()",
    "legacy_backend": "from legacy_backend.__main__ import configure_logging\nconfigure_logging()",
    "app_service": "from app_service.__main__ import configure_logging\nconfigure_logging()",
}
EMIT = {
    "structlog": (
        'import structlog\nstructlog.get_logger("probe.module").warning("shape_probe", n=1)',
        "probe.module",
        "shape_probe",
    ),
    "stdlib": (
        'import logging\nlogging.getLogger("aiohttp.server").warning("stdlib_probe")',
        "aiohttp.server",
        "stdlib_probe",
    ),
}
COMMON_KEYS = {"ts", "level", "service", "logger", "event"}


def one_line(service: str, source: str) -> dict[str, Any]:
    script = CONFIGURE[service] + "\n" + EMIT[source][0] + "\n"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, timeout=60, check=True
    )
    assert result.stdout == b""
    (line,) = result.stderr.splitlines()
    parsed: dict[str, Any] = orjson.loads(line)
    return parsed


@pytest.mark.parametrize("source", [pytest.param(name, id=name) for name in EMIT])
def test_the_three_services_emit_the_same_shape(source: str) -> None:
    lines = {service: one_line(service, source) for service in CONFIGURE}
    _, logger, event = EMIT[source]
    key_sets = {service: set(line) for service, line in lines.items()}
    assert len({frozenset(keys) for keys in key_sets.values()}) == 1, key_sets
    for service, line in lines.items():
        assert set(line) >= COMMON_KEYS, service
        assert (line["service"], line["logger"], line["event"], line["level"]) == (
            service,
            logger,
            event,
            "warning",
        )
        assert line["ts"].endswith("Z")
        assert datetime.fromisoformat(line["ts"]).utcoffset() == timedelta(0)
