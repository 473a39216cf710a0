"""The backends' log configuration, in a subprocess: structlog and stdlib logging are global."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest

PRELUDE = """
import logging, structlog
from backend_common.logging import configure_logging
configure_logging("svc", level={level!r})
log = structlog.get_logger("svc.module")
"""

EMIT_ALL = """
log.debug("a_debug")
log.info("an_info", n=1)
log.warning("a_warning")
log.error("an_error")
logging.getLogger("aiohttp.access").info("GET / 200")
logging.getLogger("aiohttp.server").warning("a stdlib warning")
"""


def run(level: str, body: str) -> tuple[bytes, list[dict[str, Any]]]:
    result = subprocess.run(
        [sys.executable, "-c", PRELUDE.format(level=level) + body],
        capture_output=True,
        timeout=60,
        check=True,
    )
    return result.stdout, [orjson.loads(line) for line in result.stderr.splitlines()]


@pytest.mark.parametrize(
    ("level", "events"),
    [
        pytest.param(
            "debug",
            ["a_debug", "an_info", "a_warning", "an_error", "a stdlib warning"],
            id="debug",
        ),
        pytest.param(
            "info", ["an_info", "a_warning", "an_error", "a stdlib warning"], id="info-default"
        ),
        pytest.param("warning", ["a_warning", "an_error", "a stdlib warning"], id="warning"),
        pytest.param("error", ["an_error", "a stdlib warning"], id="error"),
    ],
)
def test_structlog_follows_the_level_and_stdlib_stays_at_warning(
    level: str, events: list[str]
) -> None:
    stdout, lines = run(level, EMIT_ALL)
    assert stdout == b""
    assert [line["event"] for line in lines] == events


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            'log.info("an_info", n=1, ticker="AAPL")',
            {"event": "an_info", "n": 1, "ticker": "AAPL", "level": "info", "logger": "svc.module"},
            id="structlog",
        ),
        pytest.param(
            'logging.getLogger("aiohttp.server").error("Error handling %s", "request")',
            {"event": "Error handling request", "level": "error", "logger": "aiohttp.server"},
            id="stdlib",
        ),
        pytest.param(
            'structlog.contextvars.bind_contextvars(task_id="t1"); log.info("bound")',
            {"event": "bound", "task_id": "t1", "level": "info", "logger": "svc.module"},
            id="contextvars",
        ),
    ],
)
def test_every_line_names_service_logger_level_and_utc_time(
    body: str, expected: dict[str, Any]
) -> None:
    _, (line,) = run("info", body)
    ts = line.pop("ts")
    assert line == {**expected, "service": "svc"}
    assert ts.endswith("Z")
    assert datetime.fromisoformat(ts).utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param('log.exception("crashed")', id="structlog"),
        pytest.param('logging.getLogger("asyncio").exception("crashed")', id="stdlib"),
    ],
)
def test_an_exception_is_structured_and_carries_no_locals(body: str) -> None:
    script = f"""
def fail(api_key):
    raise RuntimeError("boom")
try:
    fail("sk-secret-value")
except RuntimeError:
    {body}
"""
    _, (line,) = run("info", script)
    assert line["event"] == "crashed"
    (error,) = line["exception"]
    assert (error["exc_type"], error["exc_value"]) == ("RuntimeError", "boom")
    assert [frame["name"] for frame in error["frames"]] == ["<module>", "fail"]
    assert all(frame.get("locals") is None for frame in error["frames"])  # older structlog: null
    assert "sk-secret-value" not in orjson.dumps(line).decode()


@pytest.mark.parametrize(
    "level", [pytest.param("loud", id="unknown"), pytest.param("INFO", id="upper-case")]
)
def test_an_unknown_level_is_a_sentence(level: str) -> None:
    from backend_common.logging import configure_logging

    with pytest.raises(ValueError, match="log level must be one of debug, info, warning, error"):
        configure_logging("svc", level=level)
