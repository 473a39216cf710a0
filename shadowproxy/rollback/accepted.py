"""Known differences accepted at runtime (`shadowproxy diffs accept`), kept across restarts.

The configured known differences are reviewed in a file; these are an operator's decision made
while reading the diff log, so they live beside the flags: `<state_dir>/known_differences.json`,
written atomically (temp file + rename) on each change and read at startup, where a file that
cannot be used stops the proxy with a sentence, like a bad flags file. Each acceptance is one
diff-log signature: the (route, field family, kinds) entries accepted under its id, which a
second `accept` of the same signature replaces (a renewal: a new reason or expiry) and a
`withdraw` removes. The file is written before the engine's set changes, so a disk that refuses
leaves both as they were.

In a scale-out the runtime acceptances are one document of the shared store
(`rollback/shared_known.py`): a replica changes it by compare-and-set, every replica `adopt`s
it, and the file is then this replica's cache of it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog

from shadowproxy.diff.known import KnownDifferences
from shadowproxy.errors import StateFileError
from shadowproxy.types import AcceptedDifference

ACCEPTED_FILE = "known_differences.json"
FILE_VERSION = 1
log = structlog.get_logger(__name__)
_KEYS = ("route", "field", "reason", "expires", "owner", "accepted_by", "accepted_at", "signature")


class Acceptances:
    """The runtime acceptances of one proxy, applied to `known` (the engine's set)."""

    def __init__(self, known: KnownDifferences, state_dir: Path) -> None:
        self.known = known
        self.path = state_dir / ACCEPTED_FILE
        loaded = _read(self.path)
        try:
            known.add(loaded)
        except ValueError as exc:
            raise StateFileError(f"{self.path}: {exc}; fix or delete it") from None

    def runtime(self) -> tuple[AcceptedDifference, ...]:
        return tuple(entry for entry in self.known.entries() if entry.signature is not None)

    def accept(self, signature: str, entries: Sequence[AcceptedDifference]) -> bool:
        """Accept `entries` under `signature` (each must carry it); True when it replaced an
        earlier acceptance of the signature. Raises ValueError for an entry the engine cannot
        use (a bad `expires`) and OSError when the file cannot be written; either changes nothing.
        """
        KnownDifferences(entries)  # the same checks the engine's set makes, before the file
        kept = [entry for entry in self.runtime() if entry.signature != signature]
        replaced = len(kept) != len(self.runtime())
        _write(self.path, [*kept, *entries])
        self.known.withdraw(signature, entries)
        return replaced

    def adopt(self, entries: Sequence[AcceptedDifference]) -> None:
        """Make `entries` the runtime acceptances (the shared store's), cached in the file."""
        signatures = {entry.signature for entry in entries}
        for gone in {entry.signature for entry in self.runtime()} - signatures:
            if gone is not None:
                self.known.withdraw(gone)
        for signature in signatures:
            if signature is not None:
                self.known.withdraw(signature, [e for e in entries if e.signature == signature])
        try:
            _write(self.path, entries)
        except OSError as exc:
            log.warning("known_differences_cache_not_written", path=str(self.path), error=str(exc))

    def withdraw(self, signature: str) -> tuple[AcceptedDifference, ...]:
        """Remove the acceptance of `signature`; the entries removed (none: nothing changes)."""
        kept = [entry for entry in self.runtime() if entry.signature != signature]
        if len(kept) == len(self.runtime()):
            return ()
        _write(self.path, kept)
        return self.known.withdraw(signature)


def as_json(entry: AcceptedDifference) -> dict[str, Any]:
    document: dict[str, Any] = {key: getattr(entry, key) for key in _KEYS}
    document["kinds"] = sorted(entry.kinds)
    return document


def _read(path: Path) -> list[AcceptedDifference]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise StateFileError(f"{path} cannot be read ({exc}); fix or delete it") from None
    try:
        return entries_from_document(raw)
    except ValueError as exc:
        raise StateFileError(f"{path} is malformed ({exc}); fix or delete it") from None


def entries_from_document(raw: Any) -> list[AcceptedDifference]:
    """The acceptances a document (the file's, or the shared store's) holds; ValueError if bad."""
    try:
        if raw.get("version") != FILE_VERSION:
            raise ValueError(f"version must be {FILE_VERSION}, got {raw.get('version')!r}")
        return [_entry(item) for item in raw["entries"]]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(str(exc)) from None


def entries_document(entries: Sequence[AcceptedDifference]) -> dict[str, Any]:
    return {"version": FILE_VERSION, "entries": [as_json(entry) for entry in entries]}


def _entry(item: dict[str, Any]) -> AcceptedDifference:
    def text(key: str) -> str:
        value = item.get(key)
        if not isinstance(value, str) or not value:
            raise ValueError(f"an entry's {key!r} must be a non-empty string")
        return value

    def optional(key: str) -> str | None:
        return None if item.get(key) is None else text(key)

    kinds = item.get("kinds", [])
    if not isinstance(kinds, list) or not all(isinstance(kind, str) for kind in kinds):
        raise ValueError("an entry's 'kinds' must be a list of strings")
    return AcceptedDifference(
        route=text("route"),
        field=text("field"),
        reason=text("reason"),
        expires=optional("expires"),
        owner=optional("owner"),
        kinds=frozenset(kinds),
        accepted_by=optional("accepted_by"),
        accepted_at=optional("accepted_at"),
        signature=text("signature"),
    )


def _write(path: Path, entries: Sequence[AcceptedDifference]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = entries_document(entries)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
