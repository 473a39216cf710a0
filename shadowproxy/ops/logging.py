"""structlog configuration: one JSON object per line on stderr, rendered with orjson.

Configured once, by the CLI, before anything logs (DESIGN.md habit 10). Library modules only
call `structlog.get_logger(__name__)`. Records from the standard library (aiohttp's access and
server logs) go through the same renderer so stderr stays machine-readable. A last-chance
processor scrubs secret-named keys and `api_key=`-style text, because a log line is a file too.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, BinaryIO

import orjson
import structlog
from structlog.typing import Processor

from shadowproxy.redact import redact_mapping

LEVELS = ("debug", "info", "warning", "error")


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
        logger_factory=structlog.BytesLoggerFactory(stream or sys.stderr.buffer),
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
