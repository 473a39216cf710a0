"""structlog configuration for both backends: one JSON object per line on stderr.

Both backends configured structlog in their `__main__` from near-identical copies that had
drifted (different filters, no service name, no logger name), so a line from one backend could
not be read like a line from the other or from the proxy. Every line now has the shape the proxy
(`shadowproxy/ops/logging.py`, its own copy: the proxy imports no backend code) also emits:

    {"event": "...", <the event's key-values>, "level": "info", "logger": "legacy_backend.app",
     "service": "legacy_backend", "ts": "2026-04-13T09:30:00.123456Z"}

`ts` is ISO-8601 in UTC, `level` the lower-case method name, `logger` the name given to
`structlog.get_logger(name)` (or the stdlib logger's name), `service` the process. Records from
the standard library (aiohttp, asyncio) go through the same renderer; they are kept at WARNING
and above, as the legacy backend always did, so aiohttp's per-request access log stays quiet.
An exception is rendered as the proxy renders it (`exception`: a list of structured frames),
but without each frame's local variables: the proxy scrubs secrets from its lines, the backends
have no such scrubber, and a local may hold a key. Configured once, by each backend's
`__main__`, before anything logs.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, BinaryIO

import orjson
import structlog
from structlog.tracebacks import ExceptionDictTransformer
from structlog.typing import Processor

LEVELS = ("debug", "info", "warning", "error")
STDLIB_LEVEL = logging.WARNING


class NamedBytesLogger(structlog.BytesLogger):
    """A `BytesLogger` that keeps the name it was asked for, for `add_logger_name`."""

    def __init__(self, file: BinaryIO | None = None, *, name: str | None = None) -> None:
        super().__init__(file)
        self.name = name


class NamedBytesLoggerFactory:
    """`structlog.get_logger("a.b")` passes "a.b" here; `BytesLoggerFactory` would drop it."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file

    def __call__(self, *args: Any) -> NamedBytesLogger:
        return NamedBytesLogger(self._file, name=str(args[0]) if args else None)


def service_adder(service: str) -> Processor:
    """A processor that stamps every event with the name of the process that logged it."""

    def add_service(
        _logger: object, _method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        event_dict["service"] = service
        return event_dict

    return add_service


def shared_processors(service: str) -> list[Processor]:
    """What both structlog events and foreign stdlib records get: the common keys of a line."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,
        service_adder(service),
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
    ]


# structlog's `dict_tracebacks`, minus the frames' locals (see the module docstring).
render_exceptions = structlog.processors.ExceptionRenderer(
    ExceptionDictTransformer(show_locals=False)
)


def _render_text(obj: object, **kwargs: Any) -> str:
    return orjson.dumps(obj, **kwargs).decode()


def configure_logging(service: str, *, level: str = "info") -> None:
    """Route structlog (at `level`) and stdlib logging (WARNING+) to stderr as JSON lines."""
    if level not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}, got {level!r}")
    numeric = logging.getLevelName(level.upper())
    shared = shared_processors(service)
    structlog.configure(
        processors=[
            *shared,
            render_exceptions,
            structlog.processors.JSONRenderer(serializer=orjson.dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=NamedBytesLoggerFactory(sys.stderr.buffer),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                render_exceptions,
                structlog.processors.JSONRenderer(serializer=_render_text),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(STDLIB_LEVEL)
