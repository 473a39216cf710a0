"""Secret redaction for everything the proxy writes down (diff log records, structured logs).

The shadow needs the client's credentials to be a faithful twin of the request, so secrets
flow through the proxy by design; the one promise is that they never reach a file. Rules
(docs/architecture.md, "Design rules"):

- header values of `api-key`, `Authorization`, `Cookie`, `Set-Cookie`, `Proxy-Authorization`;
- query values named `api_key`, `apikey`, `token`, `password`, `secret` (case-insensitive,
  `-` and `_` equivalent) inside a raw path or any free text (error messages quote URLs);
- configured JSON paths (`DiffConfig.redact_json_paths`, dotted, `*` matches one segment) inside
  difference values, anchored at the body root the difference's `field` path is relative to;
- any difference whose field path ends in one of the secret names above, and any object key
  with such a name at any depth of a difference value.

Everything here is pure and total: redaction must not be able to fail the publish path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from urllib.parse import unquote_plus

from shadowproxy.types import Difference, JSONValue

REDACTED = "[REDACTED]"

SECRET_HEADERS = frozenset(
    {"api-key", "authorization", "cookie", "set-cookie", "proxy-authorization"}
)
SECRET_QUERY_NAMES = frozenset({"api_key", "apikey", "token", "password", "secret"})
# Names compared after normalize_name(): header names count as secret object keys too.
SECRET_NAMES = SECRET_QUERY_NAMES | {name.replace("-", "_") for name in SECRET_HEADERS}
_SECRET_SUFFIXES = tuple(f"_{name}" for name in SECRET_NAMES)

_QUERY_SECRET_IN_TEXT = re.compile(
    r"(?i)(?<![A-Za-z0-9_-])([A-Za-z0-9_-]*(?:api[_-]?key|token|password|secret))=([^&\s#'\"]+)"
)
_AUTH_SCHEME_IN_TEXT = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
_JSON_SECRET_IN_TEXT = re.compile(
    r"(?i)(\"[A-Za-z0-9_-]*(?:api[_-]?key|token|password|secret)\"\s*:\s*)\"(?:[^\"\\]|\\.)*\""
)
_HEADER_LINE_IN_TEXT = re.compile(
    r"(?im)^(\s*(?:proxy-)?(?:authorization|cookie|set-cookie|api-key)\s*:\s*).+$"
)
_FIELD_SEGMENT = re.compile(r"\[([^\]]*)\]|([^.\[\]]+)")


def normalize_name(name: str) -> str:
    """Header and query spellings differ (`api-key` vs `api_key`); compare one spelling."""
    return name.strip().lower().replace("-", "_")


def is_secret_name(name: str) -> bool:
    """Exact secret names, and names ending in one (`x_api_key`, `access_token`)."""
    normalized = normalize_name(name)
    return normalized in SECRET_NAMES or normalized.endswith(_SECRET_SUFFIXES)


def redact_path(path: str) -> str:
    """Blank secret query values of a raw path while keeping every other byte as sent."""
    base, sep, query = path.partition("?")
    if not sep:
        return path
    parts = []
    for part in query.split("&"):
        key, eq, _value = part.partition("=")
        if eq and is_secret_name(unquote_plus(key)):
            parts.append(f"{key}={REDACTED}")
        else:
            parts.append(part)
    return f"{base}?{'&'.join(parts)}"


def redact_text(text: str) -> str:
    """Blank secrets quoted inside free text (error messages, reasons, string values).

    Forms: `name=value` query pairs, `"name": "value"` JSON pairs, `Cookie: ...`-style header
    lines, and `Bearer`/`Basic` credentials.
    """
    text = _QUERY_SECRET_IN_TEXT.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    text = _JSON_SECRET_IN_TEXT.sub(lambda m: f'{m.group(1)}"{REDACTED}"', text)
    text = _HEADER_LINE_IN_TEXT.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    return _AUTH_SCHEME_IN_TEXT.sub(lambda m: f"{m.group(1)} {REDACTED}", text)


def field_segments(field: str) -> tuple[str, ...]:
    """`signals[BRK.B].rating` -> ("signals", "BRK.B", "rating")."""
    return tuple(bracket or plain for bracket, plain in _FIELD_SEGMENT.findall(field))


def parse_json_path(path: str) -> tuple[str, ...]:
    """Parse one configured path once, at the boundary (config load / sink construction)."""
    segments = tuple(path.split("."))
    if not path or any(not segment.strip() for segment in segments):
        raise ValueError(f"redact JSON path {path!r} must be dotted names or '*', e.g. 'a.*.token'")
    return tuple(segment.strip() for segment in segments)


def _segment_matches(pattern: str, segment: str) -> bool:
    return pattern == "*" or pattern.lower() == segment.lower()


@dataclass(frozen=True, slots=True)
class Redactor:
    """Redacts differences with the configured JSON paths on top of the fixed rules."""

    json_paths: tuple[tuple[str, ...], ...] = ()

    @classmethod
    def from_paths(cls, paths: Iterable[str]) -> Redactor:
        return cls(tuple(parse_json_path(path) for path in paths))

    def value(self, document: JSONValue) -> JSONValue:
        """A whole JSON document (a request body): the configured paths from its root, secret
        names and text secrets."""
        return redact_value(document, self.json_paths)

    def difference(self, difference: Difference) -> Difference:
        segments = field_segments(difference.field)
        tails: list[tuple[str, ...]] = []
        secret = bool(segments) and is_secret_name(segments[-1])
        for pattern in self.json_paths:
            common = min(len(pattern), len(segments))
            if not all(_segment_matches(p, s) for p, s in zip(pattern, segments, strict=False)):
                continue
            if len(segments) >= len(pattern):
                secret = True  # the field lies inside a configured secret subtree
            else:
                tails.append(pattern[common:])
        if secret:
            return replace(
                difference,
                legacy=_blank(difference.legacy),
                app=_blank(difference.app),
            )
        return replace(
            difference,
            legacy=redact_value(difference.legacy, tuple(tails)),
            app=redact_value(difference.app, tuple(tails)),
        )


def _blank(value: JSONValue) -> JSONValue:
    """Keep "absent" visible (None) so a missing/extra secret is still a readable difference."""
    return None if value is None else REDACTED


def redact_value(value: JSONValue, tails: tuple[tuple[str, ...], ...] = ()) -> JSONValue:
    """Walk a JSON value: blank configured sub-paths (`tails`), secret-named keys, text secrets."""
    if any(not tail for tail in tails):
        return _blank(value)
    if isinstance(value, dict):
        return {
            key: REDACTED if is_secret_name(key) else redact_value(item, _descend(tails, key))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact_value(item, _descend(tails, str(index))) for index, item in enumerate(value)]
    if isinstance(value, str):
        return redact_text(value)
    return value


def _descend(tails: tuple[tuple[str, ...], ...], segment: str) -> tuple[tuple[str, ...], ...]:
    return tuple(tail[1:] for tail in tails if _segment_matches(tail[0], segment))


def redact_mapping(values: Mapping[str, object]) -> dict[str, object]:
    """Top-level scrub for structured log events: secret-named keys and text secrets."""
    scrubbed: dict[str, object] = {}
    for key, value in values.items():
        if is_secret_name(key):
            scrubbed[key] = REDACTED
        elif isinstance(value, str):
            scrubbed[key] = redact_text(value)
        else:
            scrubbed[key] = value
    return scrubbed
