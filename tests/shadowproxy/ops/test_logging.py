"""structlog configuration, in a subprocess: it is process-global, the CLI sets it once."""

import errno
import io
import subprocess
import sys

import orjson
import pytest

SCRIPT = """
import logging, structlog
from shadowproxy.ops.logging import configure_logging
configure_logging(level="info")
log = structlog.get_logger("t")
log.debug("hidden")
log.info("upstream_call", path="/ws?api_key=abc123", authorization="Bearer abc123", n=1)
logging.getLogger("aiohttp.access").info("GET /x?token=abc123 200")
"""


def test_json_lines_on_stderr_without_secrets() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, timeout=60, check=True
    )
    assert result.stdout == b""
    events = [orjson.loads(line) for line in result.stderr.splitlines()]
    assert [e["event"] for e in events] == ["upstream_call", "GET /x?token=[REDACTED] 200"]
    first = events[0]
    assert (first["level"], first["n"]) == ("info", 1)
    assert first["path"] == "/ws?api_key=[REDACTED]"
    assert first["authorization"] == "[REDACTED]"
    assert first["ts"].endswith("Z")
    assert b"abc123" not in result.stderr


@pytest.mark.parametrize(
    "level", [pytest.param("loud", id="unknown"), pytest.param("", id="empty")]
)
def test_unknown_level_is_a_sentence(level: str) -> None:
    from shadowproxy.ops.logging import configure_logging

    with pytest.raises(ValueError, match="log level must be one of"):
        configure_logging(level=level)


class FullDisk(io.BytesIO):
    """stderr redirected to a file on a full disk: the buffered line cannot be flushed."""

    def flush(self) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_line_the_stream_refuses_is_lost_not_raised() -> None:
    """Logging must not fail its caller (it ended the diff-log writer thread)."""
    from shadowproxy.ops.logging import NamedBytesLogger

    logger = NamedBytesLogger(FullDisk(), name="t")
    logger.error(b'{"event":"diff_log_write_failed"}')
    logger.info(b'{"event":"later"}')
