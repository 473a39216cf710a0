"""The diff core's configuration: known differences, generic routes, redaction paths, tolerances.

One TOML file, read once at startup by `load_config(path)`; every value is checked there and a bad
value raises `ConfigError` with a sentence naming the file and the key, so an operator never sees a
traceback. Everything below the boundary works on the frozen `DiffConfig`.

The built-in known differences (`BUILTIN_KNOWN_DIFFERENCES`) are the real, intended behaviour
differences between the legacy backend and the v1alpha1 app service, found by running
`shadowproxy demo` against both; they are part of `DEFAULT_CONFIG`, and a config file's
`[[known_differences]]` extend them (a file cannot drop one; an `expires` date retires it).

Schema (every table and key is optional; unknown keys are rejected to catch typos)::

    [diff]
    confidence_tolerance = 0.005   # |legacy - app| at or below this is equal, for confidence fields
    max_differences = 50           # cap per comparison, key-field differences kept first

    [shadow]
    mirror_unknown_writes = false  # send unmatched non-GET/HEAD/OPTIONS requests to the shadow too

    [redact]
    json_paths = ["api_key", "accounts.*.token"]   # dotted paths, `*` matches one key or index

    [[known_differences]]          # accepted until `expires` (inclusive), then a mismatch again
    route = "/api/analysis/status/{task_id}"      # a route template, or "*" for every route
    field = "error.message"        # canonical field; `*` matches any run of characters
    reason = "app keeps the ANALYSIS_ERROR text only"
    expires = 2026-06-30           # TOML date or "YYYY-MM-DD"; omit for no expiry
    owner = "payments-team"        # who answers for it; named when it expires (optional)

    [[routes]]                     # the generic-API extension, matched before the built-in table
    template = "/v1/orders/{order_id}"
    methods = ["GET"]              # default ["GET"]
    group = "system"               # a route group, default "system"
    profile = "json_fields"        # json_fields | json_equal | bytes_equal | status_only | ...
    key_fields = ["status", "items"]   # json_fields only: compared subtrees of the body
    mirror = true                  # default: true when every method is GET/HEAD/OPTIONS
    id_param = "order_id"          # path or query parameter carrying a backend-minted id
    creates_id = "order_id"        # JSON key of the id a response mints

    [[consumers]]                  # a consumer contract, besides the built-in dashboards
    name = "ops-console"           # [a-z0-9][a-z0-9._-]*, not a built-in's or another's name
    description = "..."            # optional

    [[consumers.reads]]            # one value the consumer reads; at least one per consumer
    route = "/api/analysis/status/{task_id}"   # the route template (HTTP or websocket)
    method = "GET"                 # default GET: GET HEAD OPTIONS POST PUT PATCH DELETE
    message = "progress"           # websocket routes only: the frame `type` the read applies to
    path = "result.decision"       # dotted from the JSON root; `a[]` is every element of `a`
    or = ["compat.decision"]       # fallbacks: the first present and not null is the value
    required = true                # no default: does the dashboard break without the value?
    types = ["string", "null"]     # string number boolean object array null; default any
    enum = ["BUY", "HOLD"]         # the scalar values it understands; default any
    known = { cancelled = "why" }  # with enum: values outside it, reported and never acted on
    when = [{ path = "status", in = ["completed"] }, { path = "type", not_in = ["portfolio"] }]

`or` and `when` paths are written in full (`tasks[].status` for a read of `tasks[].decision`)
and must be in the read's array; each `when` entry has exactly one of `in` and `not_in`
(`shadowproxy.contracts.load` has the details). Errors in `[[known_differences]]`, `[[routes]]`
and `[[consumers]]` name the line too: `{file}:{line}: [[routes]] #2 key 'methods': ...`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shadowproxy.contracts.load import load_consumers, located, toml_line
from shadowproxy.contracts.model import Contract
from shadowproxy.diff.profiles import PROFILES
from shadowproxy.errors import ConfigError, UnreadableFile
from shadowproxy.types import AcceptedDifference, RouteGroup, RouteSpec

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
HTTP_METHODS = SAFE_METHODS | frozenset({"POST", "PUT", "PATCH", "DELETE"})
_PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
_SECTIONS = frozenset({"diff", "shadow", "redact", "known_differences", "routes", "consumers"})
# a `where` of an array-of-tables entry, e.g. "[[routes]] #2 key 'methods'": its line is found
_ENTRY = re.compile(r"\[\[(\w+)\]\] #(\d+)(?: key '(\w+)')?")


@dataclass(frozen=True, slots=True)
class ConfigRoute:
    """A configured route: its spec plus, for `json_fields`, the key fields it compares."""

    spec: RouteSpec
    key_fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DiffConfig:
    known_differences: tuple[AcceptedDifference, ...] = ()
    routes: tuple[ConfigRoute, ...] = ()
    mirror_unknown_writes: bool = False
    redact_json_paths: tuple[str, ...] = ()
    confidence_tolerance: float = 0.005
    max_differences: int = 50
    consumers: tuple[Contract, ...] = ()  # declared in the file, in file order (not the built-ins)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.confidence_tolerance) and self.confidence_tolerance >= 0):
            raise ValueError(
                f"confidence_tolerance must be a number >= 0, got {self.confidence_tolerance!r}"
            )
        if self.max_differences < 1:
            raise ValueError(f"max_differences must be at least 1, got {self.max_differences!r}")


_STATUS = "/api/analysis/status/{task_id}"
_WS_STATUS = "/ws/analysis/{task_id}"
_CANCELLED_NOTICE = (
    "a task cancelled after it completed: legacy overwrites it with failed/用户取消, the app"
    " marks it cancelled but shows its result contract's error, null (reference §2.6 quirks)"
)
BUILTIN_KNOWN_DIFFERENCES: tuple[AcceptedDifference, ...] = (
    AcceptedDifference(_STATUS, "error.cancel_notice", _CANCELLED_NOTICE),
    AcceptedDifference(_WS_STATUS, "error.cancel_notice", _CANCELLED_NOTICE),
    AcceptedDifference(
        "/api/stocks/screen",
        "cached",
        "each backend keeps its own 300 s screening cache file, so `cached` says whose cache was"
        " warm, not what the contract is (reference §1.2 route 5)",
    ),
)

DEFAULT_CONFIG = DiffConfig(known_differences=BUILTIN_KNOWN_DIFFERENCES)


def load_config(path: Path) -> DiffConfig:
    """Read and check one TOML file; every problem with its text is a `ConfigError` naming file
    and key, a file that cannot be read an `UnreadableFile`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UnreadableFile(
            f"{path}: cannot read the config file ({exc.strerror or exc})."
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: the config file is not UTF-8 text.") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}).") from None
    return _Reader(path, text).config(raw)


class _Reader:
    """Walks the parsed TOML; `where` strings like `[[routes]] #2 key 'methods'` locate errors.

    `text` is the file's text: the line of an `[[array]] #n` entry (or of its key) is found in it.
    """

    def __init__(self, path: Path, text: str = "") -> None:
        self._path = path
        self._source = text

    def fail(self, where: str, problem: str) -> ConfigError:
        entry = _ENTRY.fullmatch(where)
        line = None
        if entry is not None:
            line = toml_line(self._source, ((entry[1], int(entry[2])),), entry[3])
        return located(self._path, line, where, problem)

    def config(self, raw: dict[str, Any]) -> DiffConfig:
        self._only(raw, _SECTIONS, "top level")
        diff = self._table(raw, "diff", {"confidence_tolerance", "max_differences"})
        shadow = self._table(raw, "shadow", {"mirror_unknown_writes"})
        redact = self._table(raw, "redact", {"json_paths"})
        tolerance = diff.get("confidence_tolerance", DEFAULT_CONFIG.confidence_tolerance)
        if (
            isinstance(tolerance, bool)
            or not isinstance(tolerance, int | float)
            or not (math.isfinite(tolerance) and tolerance >= 0)
        ):
            raise self.fail("[diff] key 'confidence_tolerance'", "expected a number >= 0")
        max_differences = diff.get("max_differences", DEFAULT_CONFIG.max_differences)
        if isinstance(max_differences, bool) or not isinstance(max_differences, int):
            raise self.fail("[diff] key 'max_differences'", "expected an integer >= 1")
        if max_differences < 1:
            raise self.fail("[diff] key 'max_differences'", "expected an integer >= 1")
        mirror_writes = shadow.get("mirror_unknown_writes", False)
        if not isinstance(mirror_writes, bool):
            raise self.fail("[shadow] key 'mirror_unknown_writes'", "expected true or false")
        paths = self._strings(redact.get("json_paths", []), "[redact] key 'json_paths'")
        for dotted in paths:
            if not dotted or any(not part for part in dotted.split(".")):
                raise self.fail(
                    "[redact] key 'json_paths'", f"{dotted!r} is not a dotted path like 'a.*.b'"
                )
        return DiffConfig(
            known_differences=BUILTIN_KNOWN_DIFFERENCES
            + tuple(
                self._known(entry, index)
                for index, entry in enumerate(self._array(raw, "known_differences"), 1)
            ),
            routes=tuple(
                self._route(entry, index)
                for index, entry in enumerate(self._array(raw, "routes"), 1)
            ),
            mirror_unknown_writes=mirror_writes,
            redact_json_paths=tuple(paths),
            confidence_tolerance=float(tolerance),
            max_differences=max_differences,
            consumers=load_consumers(self._path, raw, self._source),
        )

    def _only(
        self, table: Mapping[str, Any], allowed: set[str] | frozenset[str], where: str
    ) -> None:
        unknown = sorted(set(table) - allowed)
        if unknown:
            raise self.fail(
                f"{where} key {unknown[0]!r}", f"unknown key (expected one of {sorted(allowed)})"
            )

    def _table(self, raw: Mapping[str, Any], name: str, keys: set[str]) -> dict[str, Any]:
        table = raw.get(name, {})
        if not isinstance(table, dict):
            raise self.fail(f"key {name!r}", "expected a table [" + name + "]")
        self._only(table, keys, f"[{name}]")
        return table

    def _array(self, raw: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
        entries = raw.get(name, [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise self.fail(f"key {name!r}", f"expected an array of tables [[{name}]]")
        return entries

    def _strings(self, value: object, where: str) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.fail(where, "expected a list of strings")
        return value

    def _text(self, entry: Mapping[str, Any], key: str, where: str) -> str:
        value = entry.get(key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{where} key {key!r}", "expected a non-empty string")
        return value.strip()

    def _optional_text(self, entry: Mapping[str, Any], key: str, where: str) -> str | None:
        return self._text(entry, key, where) if key in entry else None

    def _known(self, entry: dict[str, Any], index: int) -> AcceptedDifference:
        where = f"[[known_differences]] #{index}"
        self._only(entry, {"route", "field", "reason", "expires", "owner"}, where)
        route = self._text(entry, "route", where)
        if route != "*" and not route.startswith("/"):
            raise self.fail(
                f"{where} key 'route'", f"expected a route template or '*', got {route!r}"
            )
        expires = entry.get("expires")
        if expires is not None:
            expires = self._date(expires, f"{where} key 'expires'")
        return AcceptedDifference(
            route=route,
            field=self._text(entry, "field", where),
            reason=self._text(entry, "reason", where),
            expires=expires,
            owner=self._optional_text(entry, "owner", where),
        )

    def _date(self, value: object, where: str) -> str:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value.isoformat()
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value.strip()).isoformat()
            except ValueError:
                pass
        raise self.fail(where, f"expected a date like 2026-06-30, got {value!r}")

    def _route(self, entry: dict[str, Any], index: int) -> ConfigRoute:
        where = f"[[routes]] #{index}"
        allowed = {"template", "methods", "group", "profile", "mirror", "id_param", "creates_id"}
        self._only(entry, allowed | {"key_fields"}, where)
        template = self._text(entry, "template", where)
        segments = template.split("/")[1:]
        if (
            not template.startswith("/")
            or "?" in template
            or any("{" in seg and not _PLACEHOLDER.fullmatch(seg) for seg in segments)
        ):
            raise self.fail(
                f"{where} key 'template'",
                f"expected a path like /v1/items/{{id}}, got {template!r}",
            )
        methods = frozenset(
            method.strip().upper()
            for method in self._strings(entry.get("methods", ["GET"]), f"{where} key 'methods'")
        )
        if not methods or not methods <= HTTP_METHODS:
            raise self.fail(
                f"{where} key 'methods'", f"expected HTTP methods from {sorted(HTTP_METHODS)}"
            )
        group_text = self._text(entry, "group", where) if "group" in entry else "system"
        try:
            group = RouteGroup(group_text)
        except ValueError:
            choices = sorted(g.value for g in RouteGroup)
            raise self.fail(f"{where} key 'group'", f"expected one of {choices}") from None
        profile = self._text(entry, "profile", where) if "profile" in entry else "json_equal"
        if profile not in PROFILES:
            raise self.fail(f"{where} key 'profile'", f"expected one of {sorted(PROFILES)}")
        key_fields = tuple(self._strings(entry.get("key_fields", []), f"{where} key 'key_fields'"))
        if (profile == "json_fields") != bool(key_fields):
            raise self.fail(
                f"{where} key 'key_fields'", "profile 'json_fields' needs key_fields, and only it"
            )
        mirror = entry.get("mirror", methods <= SAFE_METHODS)
        if not isinstance(mirror, bool):
            raise self.fail(f"{where} key 'mirror'", "expected true or false")
        id_param = self._optional_text(entry, "id_param", where)
        spec = RouteSpec(
            group=group,
            template=template,
            methods=methods,
            profile=profile,
            mirror=mirror,
            id_param=id_param,
            creates_id=self._optional_text(entry, "creates_id", where),
        )
        return ConfigRoute(spec=spec, key_fields=key_fields)
