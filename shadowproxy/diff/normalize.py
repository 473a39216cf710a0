"""Normalizers: small callable steps that profiles chain to reach the canonical view.

Each is configured in `__init__` (what to map, which names to use) and does one thing in
`__call__`, so a profile reads as the list of rewrites it applies to a body.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from shadowproxy.diff.profile import ProjectionContext
from shadowproxy.diff.view import text
from shadowproxy.types import JSONValue, child_path

# the kernel driver prints `ANALYSIS_ERROR:<msg>` on stderr; legacy keeps the stderr tail
_ANALYSIS_ERROR = re.compile(r"ANALYSIS_ERROR:(.*)")
CANCELLED_TEXT = "用户取消"


class Flatten:
    """Nested JSON to leaves at their field paths (`child_path`); empty ones are leaves."""

    def __call__(self, value: JSONValue, prefix: str = "") -> dict[str, JSONValue]:
        flat: dict[str, JSONValue] = {}
        self._walk(value, prefix, flat)
        return flat

    def _walk(self, value: JSONValue, path: str, flat: dict[str, JSONValue]) -> None:
        if isinstance(value, dict) and value:
            for key, child in value.items():
                self._walk(child, child_path(path, key), flat)
        elif isinstance(value, list) and value:
            for index, child in enumerate(value):
                self._walk(child, child_path(path, index), flat)
        else:
            flat[path or "body"] = value


class SelectFields:
    """Keep the subtrees named by key fields (`status`, `data.items`): a generic API's contract.

    No key fields keeps everything, so an unconfigured `json_fields` degrades to `json_equal`.
    """

    def __init__(self, key_fields: tuple[str, ...]) -> None:
        self._roots = key_fields

    def __call__(self, flat: Mapping[str, JSONValue]) -> dict[str, JSONValue]:
        if not self._roots:
            return dict(flat)
        return {
            name: value
            for name, value in flat.items()
            if any(
                name == root or name.startswith((root + ".", root + "[")) for root in self._roots
            )
        }


class MapIds:
    """Rewrite backend-minted ids (by key name, anywhere in the body) to their legacy twins."""

    def __init__(self, keys: frozenset[str]) -> None:
        self._keys = keys

    def __call__(self, value: JSONValue, context: ProjectionContext) -> JSONValue:
        if isinstance(value, dict):
            return {
                key: context.canonical_id(child)
                if key in self._keys and isinstance(child, str)
                else self(child, context)
                for key, child in value.items()
            }
        if isinstance(value, list):
            return [self(child, context) for child in value]
        return value


class StatusWord:
    """Both status vocabularies to one: (status, degraded).

    app `degraded_success` is `completed` with degraded=true; legacy marks a cancel as `failed`
    with the error text 用户取消, which is `cancelled`.
    """

    def __call__(self, status: JSONValue, error_message: str | None) -> tuple[str | None, bool]:
        word = text(status)
        if word == "degraded_success":
            return "completed", True
        if word == "failed" and error_message == CANCELLED_TEXT:
            return "cancelled", False
        return word, False


class ErrorShape:
    """An error as {present, message, code}: legacy strings and app {code, message} objects.

    Legacy keeps the last 1000 characters of stderr, so the message is the text after the last
    `ANALYSIS_ERROR:` marker when there is one. `code` exists only in the object form.
    """

    def __call__(self, error: JSONValue) -> dict[str, JSONValue]:
        if isinstance(error, dict):
            shaped: dict[str, JSONValue] = {
                "present": True,
                "message": self.message(text(error.get("message"))),
            }
            if isinstance(error.get("code"), str):
                shaped["code"] = error["code"]
            return shaped
        if isinstance(error, str) and error.strip():
            return {"present": True, "message": self.message(error)}
        return {"present": False}

    def message(self, raw: str | None) -> str | None:
        if raw is None:
            return None
        found = _ANALYSIS_ERROR.findall(raw)
        return (found[-1] if found else raw).strip()


class PathTail:
    """The part of a path after its last `results` segment: each backend has its own data dir."""

    def __init__(self, segment: str) -> None:
        self._segment = segment

    def __call__(self, path: JSONValue) -> JSONValue:
        if not isinstance(path, str):
            return path
        parts = path.replace("\\", "/").split("/")
        if self._segment not in parts:
            return path
        last = len(parts) - 1 - parts[::-1].index(self._segment)
        return "/".join(parts[last + 1 :])


class FirstOf:
    """The first non-null value among several paths: app results fall back to `compat.*`."""

    def __init__(self, *paths: tuple[str, ...]) -> None:
        self._paths = paths

    def __call__(self, document: JSONValue) -> JSONValue:
        for path in self._paths:
            value = document  # `dig(document, *path)`, inlined: this runs per field per body
            for key in path:
                if not isinstance(value, dict):
                    value = None
                    break
                value = value.get(key)
            if value is not None:
                return value
        return None
