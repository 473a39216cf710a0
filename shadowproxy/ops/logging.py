"""structlog configuration: one JSON object per line on stderr, rendered with orjson.

Configured once, by the CLI, before anything logs (docs/architecture.md, "Design rules").
Library modules only call `structlog.get_logger(__name__)`. Records from the standard library
(aiohttp's access and server logs) go through the same renderer so stderr stays machine-readable. A
last-chance processor scrubs secret-named keys and `api_key=`-style text, because a log line is a
file too.

Every line has the shape the two backends also emit (their copy is `backend_common.logging`,
which the proxy does not import: it imports no backend code): the event and its key-values, then
`level`, `logger` (the name given to `structlog.get_logger`, or the stdlib logger's), `service`
(`shadowproxy`) and `ts` (ISO-8601 UTC, ending in `Z`).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from contextlib import suppress
from typing import Any, BinaryIO

import orjson
import structlog
from structlog.typing import Processor

from shadowproxy.redact import redact_mapping

LEVELS = ("debug", "info", "warning", "error")
SERVICE = "shadowproxy"


class NamedBytesLogger(structlog.BytesLogger):
    """A `BytesLogger` that keeps the name it was asked for, for `add_logger_name`, and that
    never raises: a line its stream refuses (stderr on a full disk) is lost, as the standard
    library's handlers lose it, instead of failing whatever logged it (the diff-log writer thread
    ended on its own `diff_log_write_failed` line and never wrote again)."""

    def __init__(self, file: BinaryIO | None = None, *, name: str | None = None) -> None:
        super().__init__(file)
        self.name = name

    def msg(self, message: bytes) -> None:
        with suppress(OSError):
            super().msg(message)

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg


class NamedBytesLoggerFactory:
    """`structlog.get_logger("a.b")` passes "a.b" here; `BytesLoggerFactory` would drop it."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file

    def __call__(self, *args: Any) -> NamedBytesLogger:
        return NamedBytesLogger(self._file, name=str(args[0]) if args else None)


def add_service(
    _logger: object, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    event_dict["service"] = SERVICE
    return event_dict


def scrub_secrets(
    _logger: object, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    return redact_mapping(event_dict)


def _render_text(obj: object, **kwargs: Any) -> str:
    return orjson.dumps(obj, **kwargs).decode()


def configure_logging(*, level: str = "info", stream: BinaryIO | None = None) -> None:
    """Route structlog and stdlib logging to `stream` (stderr) as JSON lines."""
    if level not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}, got {level!r}")
    numeric = logging.getLevelName(level.upper())
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,
        add_service,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.dict_tracebacks,
            scrub_secrets,
            structlog.processors.JSONRenderer(serializer=orjson.dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=NamedBytesLoggerFactory(stream or sys.stderr.buffer),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                scrub_secrets,
                structlog.processors.JSONRenderer(serializer=_render_text),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
