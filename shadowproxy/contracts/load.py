"""Consumer contracts declared in the config file, and the line of a key in a TOML file.

`load_consumers(path, raw, text)` reads the `[[consumers]]` of an already parsed config file
(`raw`, from tomllib) and checks every value; `text` is the file's own text, because tomllib keeps
no positions: `toml_line` finds the line of a table or key by scanning it, so every problem is a
`ConfigError` naming the file, the line and the key, e.g.
`shadowproxy.toml:14: [[consumers]] #2 (ops-console) [[consumers.reads]] #3 key 'types': ...`.

Format (every key not marked optional is required; unknown keys are rejected)::

    [[consumers]]
    name = "ops-console"            # [a-z0-9][a-z0-9._-]*, not a built-in's or another's name
    description = "..."             # optional

    [[consumers.reads]]             # at least one per consumer
    route = "/api/analysis/status/{task_id}"   # the route template, as the route table names it
    method = "GET"                  # optional, default GET: GET HEAD OPTIONS POST PUT PATCH DELETE
                                    # (any case)
    message = "progress"            # optional, websocket routes (method GET): the frame `type`
    path = "result.decision"        # dotted from the JSON root, `a[]` is every element of `a`
    or = ["compat.decision"]        # optional: fallbacks, the first present and not null wins
    required = true                 # no default: does the dashboard break without it?
    types = ["string", "null"]      # optional: string number boolean object array null
    enum = ["BUY", "HOLD"]          # optional: the scalar values the dashboard understands
    known = { cancelled = "why" }   # optional, with enum: values outside it that are only reported
    # optional: the read applies only where every condition holds
    when = [{ path = "status", in = ["completed"] }, { path = "type", not_in = ["portfolio"] }]

`or` and `when` paths are written in full (`tasks[].status` for a read of `tasks[].decision`) and
must be in the read's array (`model.read` checks it). Each `when` entry has exactly one of `in`
and `not_in`, a non-empty list of scalars; the read applies only where every entry holds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from shadowproxy.contracts.builtin import BUILTIN_CONTRACTS
from shadowproxy.contracts.model import Contract, Read, Surface, read
from shadowproxy.errors import ConfigError
from shadowproxy.types import JSONValue

METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE")
MAX_MESSAGE = 64  # the inspector matches a websocket frame's `type` on its first 64 characters
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")
_PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
_CONSUMER_KEYS = frozenset({"name", "description", "reads"})
_READ_KEYS = frozenset(
    {"route", "method", "message", "path", "or", "required", "types", "enum", "known", "when"}
)
_WHEN_KEYS = frozenset({"path", "in", "not_in"})

Tables = Sequence[tuple[str, int]]  # arrays of tables from the top: (dotted name, 1-based index)


# ---------------------------------------------------------------- where a key is in the text


def toml_line(text: str, tables: Tables, key: str | None = None) -> int | None:
    """The line of `key` in the table `tables` names, else of that table's header; None: unknown.

    `(("consumers", 2), ("consumers.reads", 3))` is the 3rd `[[consumers.reads]]` after the 2nd
    `[[consumers]]` header (and before the next one); `()` is the top level. A plain `[table]` is
    index 1. The key is looked for from the header to the next header, then as a sub-table
    header (`[[consumers.reads.when]]`). A table written inline (`reads = [{...}]`) has no header:
    the line of its key in the parent table stands for it, else the parent's header.
    """
    lines = list(_outside_strings(text))
    headers = [(i, name) for i, (_, line) in enumerate(lines) if (name := _header(line))]
    at: int | None = None  # index in `lines` of the header found last
    start, end = 0, len(lines)  # where the next table is looked for: the found one's subtree
    for name, index in tables:
        matches = [i for i, found in headers if start <= i < end and found == name]
        if len(matches) < index:
            inline = _key_line(lines, headers, start, name.rpartition(".")[2])
            return inline if inline is not None else _number(lines, at)
        at = matches[index - 1]
        start = at + 1
        end = next((i for i, n in headers if i > at and not n.startswith(name + ".")), len(lines))
    if key is None:
        return _number(lines, at)
    found = _key_line(lines, headers, start, key)
    if found is not None:
        return found
    sub = f"{tables[-1][0]}.{key}" if tables else key
    below = next((i for i, n in headers if start <= i < end and n == sub), None)
    return _number(lines, below if below is not None else at)


def _outside_strings(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) of the lines that do not start inside a multi-line string."""
    inside: str | None = None
    for number, line in enumerate(text.split("\n"), 1):
        if inside is not None:
            if line.count(inside) % 2:
                inside = None
            yield number, ""  # kept, so indexes stay lines, but never a header or a key
            continue
        yield number, line
        inside = next((quote for quote in ('"""', "'''") if line.count(quote) % 2), None)


def _header(line: str) -> str:
    """The dotted name of a `[table]` or `[[array]]` header line, else ""."""
    found = re.fullmatch(r"\s*\[\[?([^\[\],]+)\]\]?\s*(?:#.*)?", line)
    if found is None:
        return ""
    return ".".join(part.strip().strip("\"'") for part in found[1].split("."))


def _key_line(
    lines: list[tuple[int, str]], headers: list[tuple[int, str]], start: int, key: str
) -> int | None:
    """The line of `key = ...` (or `key.sub = ...`) from `start` to the next header."""
    stop = next((i for i, _ in headers if i >= start), len(lines))
    pattern = re.compile(rf"\s*(?:{re.escape(key)}|\"{re.escape(key)}\"|'{re.escape(key)}')\s*[=.]")
    return next((n for n, line in lines[start:stop] if pattern.match(line)), None)


def _number(lines: list[tuple[int, str]], index: int | None) -> int | None:
    return None if index is None else lines[index][0]


def located(path: Path, line: int | None, where: str, problem: str) -> ConfigError:
    """The config error sentence: `{file}:{line}: {where}: {problem}.` (no line when unknown)."""
    place = f"{path}:{line}" if line is not None else str(path)
    return ConfigError(f"{place}: {where}: {problem}.")


# ---------------------------------------------------------------- [[consumers]]


def load_consumers(path: Path, raw: Mapping[str, Any], text: str) -> tuple[Contract, ...]:
    """The consumers the file declares, in file order; a bad one is a `ConfigError`."""
    return _Consumers(path, text).load(raw.get("consumers", []))


class _At:
    """Where a value is: the tables that lead to it and how a message names them."""

    def __init__(self, tables: tuple[tuple[str, int], ...], label: str) -> None:
        self.tables = tables
        self.label = label


class _Consumers:
    def __init__(self, path: Path, text: str) -> None:
        self._path = path
        self._text = text

    def fail(self, at: _At, key: str | None, problem: str) -> ConfigError:
        where = f"{at.label} key {key!r}" if key else at.label
        return located(self._path, toml_line(self._text, at.tables, key), where, problem)

    def load(self, entries: object) -> tuple[Contract, ...]:
        top = _At((), "top level")
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise self.fail(top, "consumers", "expected an array of tables [[consumers]]")
        contracts: dict[str, tuple[int, Contract]] = {}
        for index, entry in enumerate(entries, 1):
            contract = self._consumer(entry, index, contracts)
            contracts[contract.name] = (index, contract)
        return tuple(contract for _, contract in contracts.values())

    def _consumer(
        self, entry: dict[str, Any], index: int, seen: Mapping[str, tuple[int, Contract]]
    ) -> Contract:
        at = _At((("consumers", index),), f"[[consumers]] #{index}")
        name = self._string(entry, "name", at)
        if not _NAME.fullmatch(name):
            raise self.fail(at, "name", f"{name!r} is not a name like 'ops-console'")
        if name in BUILTIN_CONTRACTS:
            raise self.fail(at, "name", f"{name!r} is a built-in consumer; choose another name")
        if name in seen:
            first = seen[name][0]
            raise self.fail(at, "name", f"{name!r} is already the name of [[consumers]] #{first}")
        at = _At(at.tables, f"{at.label} ({name})")
        self._only(entry, _CONSUMER_KEYS, at)
        description = ""
        if "description" in entry:
            description = self._string(entry, "description", at, exact=False).strip()
        entries = entry.get("reads", [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise self.fail(at, "reads", "expected an array of tables [[consumers.reads]]")
        if not entries:
            raise self.fail(at, "reads", "a consumer needs at least one [[consumers.reads]]")
        reads: dict[Surface, tuple[Read, ...]] = {}
        for number, item in enumerate(entries, 1):
            read_at = _At(
                (*at.tables, ("consumers.reads", number)),
                f"{at.label} [[consumers.reads]] #{number}",
            )
            surface, found = self._read(item, read_at)
            reads[surface] = (*reads.get(surface, ()), found)
        return Contract(name=name, description=description, reads=reads)

    def _read(self, entry: dict[str, Any], at: _At) -> tuple[Surface, Read]:
        self._only(entry, _READ_KEYS, at)
        route = self._string(entry, "route", at)
        segments = route.split("/")[1:]
        if (
            not route.startswith("/")
            or "?" in route
            or any(c.isspace() for c in route)
            or any("{" in seg and not _PLACEHOLDER.fullmatch(seg) for seg in segments)
        ):
            raise self.fail(
                at, "route", f"expected a route template like /v1/items/{{id}}, got {route!r}"
            )
        method = self._string(entry, "method", at).upper() if "method" in entry else "GET"
        if method not in METHODS:
            raise self.fail(at, "method", f"expected one of {', '.join(METHODS)}, got {method!r}")
        message = self._string(entry, "message", at) if "message" in entry else None
        if message is not None and len(message) > MAX_MESSAGE:
            raise self.fail(at, "message", f"a frame type is at most {MAX_MESSAGE} characters")
        if message is not None and method != "GET":
            raise self.fail(at, "message", "a websocket message is read on a GET route only")
        path = self._string(entry, "path", at)
        required = entry.get("required")
        if not isinstance(required, bool):
            raise self.fail(
                at,
                "required",
                "expected true or false (there is no default: say whether the dashboard breaks"
                " without the value)",
            )
        fallbacks = tuple(self._strings(entry, "or", at))
        types = tuple(self._strings(entry, "types", at))
        enum = self._scalars(entry.get("enum", []), at, "enum")
        known = self._known(entry, at, enum)
        when = self._when(entry.get("when", []), at)
        # one key at a time, so a ValueError of model.read names the key it is about
        steps: tuple[tuple[str, Callable[[], Read]], ...] = (
            ("path", lambda: read(path, required=required)),
            ("or", lambda: read(path, required=required, fallbacks=fallbacks)),
            ("types", lambda: read(path, required=required, types=types)),
            ("when", lambda: read(path, required=required, when=when)),
        )
        for key, step in steps:
            try:
                step()
            except ValueError as exc:
                raise self.fail(at, key, str(exc)) from None
        built = read(
            path,
            required=required,
            fallbacks=fallbacks,
            types=types,
            enum=enum,
            known=known,
            when=when,
        )
        return Surface(method, route, message), built

    def _only(self, entry: Mapping[str, Any], allowed: frozenset[str], at: _At) -> None:
        unknown = sorted(set(entry) - allowed)
        if unknown:
            raise self.fail(at, unknown[0], f"unknown key (expected one of {sorted(allowed)})")

    def _string(self, entry: Mapping[str, Any], key: str, at: _At, *, exact: bool = True) -> str:
        value = entry.get(key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(at, key, f"expected a non-empty string, got {_shown(value)}")
        if exact and value != value.strip():
            raise self.fail(at, key, f"{value!r} has spaces around it")
        return value

    def _strings(self, entry: Mapping[str, Any], key: str, at: _At) -> list[str]:
        value = entry.get(key, [])
        if not isinstance(value, list):
            raise self.fail(at, key, f"expected a list of strings, got {_shown(value)}")
        for item in value:
            if not isinstance(item, str) or not item:
                raise self.fail(at, key, f"expected non-empty strings, got {_shown(item)}")
        return value

    def _scalars(self, value: object, at: _At, key: str, what: str = "") -> tuple[JSONValue, ...]:
        if not isinstance(value, list):
            raise self.fail(at, key, f"{what}expected a list of values, got {_shown(value)}")
        for item in value:
            if not _scalar(item):
                raise self.fail(
                    at,
                    key,
                    f"{what}expected strings, numbers or booleans, got {_shown(item)}",
                )
        return tuple(value)

    def _known(
        self, entry: Mapping[str, Any], at: _At, enum: tuple[JSONValue, ...]
    ) -> dict[str, str]:
        known = entry.get("known", {})
        if not isinstance(known, dict) or not all(
            isinstance(reason, str) and reason.strip() for reason in known.values()
        ):
            raise self.fail(at, "known", 'expected a table of value = "why it is only reported"')
        if known and not enum:
            raise self.fail(at, "known", "known values are values outside an enum: add enum")
        inside = sorted(value for value in known if value in enum)
        if inside:
            raise self.fail(
                at, "known", f"{inside[0]!r} is in enum, so the dashboard understands it"
            )
        return dict(known)

    def _when(self, value: object, at: _At) -> tuple[tuple[str, tuple[JSONValue, ...], bool], ...]:
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise self.fail(
                at, "when", 'expected a list of tables like { path = "status", in = ["done"] }'
            )
        conditions = []
        for number, item in enumerate(value, 1):
            what = f"entry #{number}: "
            unknown = sorted(set(item) - _WHEN_KEYS)
            if unknown:
                raise self.fail(at, "when", f"{what}unknown key {unknown[0]!r}")
            path = item.get("path")
            if not isinstance(path, str) or not path:
                raise self.fail(at, "when", f"{what}'path' must be a non-empty string")
            chosen = [key for key in ("in", "not_in") if key in item]
            if len(chosen) != 1:
                raise self.fail(at, "when", f"{what}expected exactly one of 'in' and 'not_in'")
            values = self._scalars(item[chosen[0]], at, "when", what)
            if not values:
                raise self.fail(at, "when", f"{what}'{chosen[0]}' lists no value")
            conditions.append((path, values, chosen[0] == "not_in"))
        return tuple(conditions)


def _scalar(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str | bool | int)


def _shown(value: object) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return "nothing" if value is None else repr(value)
