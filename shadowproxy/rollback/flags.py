"""Per-route-group authoritative flags: the one-step rollback lives here.

Initial sides come from Settings (the environment); runtime flips from the admin API are
persisted to `<state_dir>/flags.json` and win over the environment at the next start, because
an operator who rolled back at 3 am must not be silently rolled forward by a restart. That
precedence is logged loudly. The file is a few hundred bytes written atomically (temp file +
rename) on a rare admin action, so it is written inline rather than off the event loop.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

import structlog

from shadowproxy.errors import FlagStateError
from shadowproxy.types import RouteGroup, Side

FLAGS_FILE = "flags.json"

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Override:
    side: Side
    reason: str
    at: str  # ISO-8601 UTC


class Flags:
    """The persisted per-group flags; `on_change(group, side)` runs on each effective change."""

    def __init__(
        self,
        initial: Mapping[RouteGroup, Side],
        state_dir: Path,
        *,
        on_change: Callable[[RouteGroup, Side], None] | None = None,
    ) -> None:
        self._initial = {group: initial.get(group, Side.LEGACY) for group in RouteGroup}
        self._path = state_dir / FLAGS_FILE
        self._on_change = on_change
        self._overrides = _read_overrides(self._path)
        for group, override in self._overrides.items():
            if override.side is not self._initial[group]:
                log.warning(
                    "flag_override_wins_over_environment",
                    route_group=group.value,
                    side=override.side.value,
                    environment_side=self._initial[group].value,
                    reason=override.reason,
                    at=override.at,
                    hint="DELETE /flags on the admin API clears runtime overrides",
                )
        self._sides = self._effective()
        for group, side in self._sides.items():
            self._notify(group, side)

    def authoritative(self, group: RouteGroup) -> Side:
        return self._sides[group]

    def snapshot(self) -> Mapping[RouteGroup, Side]:
        return MappingProxyType(dict(self._sides))

    def overrides(self) -> Mapping[RouteGroup, Override]:
        return MappingProxyType(dict(self._overrides))

    def set_authoritative(self, group: RouteGroup, side: Side, *, reason: str) -> None:
        self.set_many(dict.fromkeys((group,), side), reason=reason)

    def rollback(self, *, reason: str) -> None:
        """Every group back to legacy in one step (one file write, one swap)."""
        self.set_many(dict.fromkeys(RouteGroup, Side.LEGACY), reason=reason)

    def set_many(self, sides: Mapping[RouteGroup, Side], *, reason: str) -> None:
        at = datetime.now(UTC).isoformat(timespec="seconds")
        overrides = dict(self._overrides)
        for group, side in sides.items():
            overrides[group] = Override(side, reason, at)
        self._commit(overrides, reason=reason)

    def clear(self, *, reason: str) -> None:
        """Drop runtime overrides: the environment's sides apply again."""
        self._commit({}, reason=reason)

    def _commit(self, overrides: dict[RouteGroup, Override], *, reason: str) -> None:
        _write_overrides(self._path, overrides)
        before = self._sides
        self._overrides = overrides
        self._sides = self._effective()
        for group, side in self._sides.items():
            if before[group] is not side:
                log.warning(
                    "authoritative_side_changed",
                    route_group=group.value,
                    side=side.value,
                    previous=before[group].value,
                    reason=reason,
                )
            self._notify(group, side)

    def _effective(self) -> dict[RouteGroup, Side]:
        return {
            group: self._overrides[group].side if group in self._overrides else side
            for group, side in self._initial.items()
        }

    def _notify(self, group: RouteGroup, side: Side) -> None:
        if self._on_change is not None:
            self._on_change(group, side)


def _read_overrides(path: Path) -> dict[RouteGroup, Override]:
    """A missing file means no overrides; an unreadable one is refused loudly, not ignored."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise FlagStateError(
            f"flag state {path} cannot be read ({exc}); fix or delete it"
        ) from None
    try:
        return {
            RouteGroup(group): Override(
                Side.parse(entry["side"]), str(entry["reason"]), str(entry["at"])
            )
            for group, entry in raw["overrides"].items()
        }
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise FlagStateError(f"flag state {path} is malformed ({exc}); fix or delete it") from None


def _write_overrides(path: Path, overrides: Mapping[RouteGroup, Override]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "overrides": {
            group.value: {"side": o.side.value, "reason": o.reason, "at": o.at}
            for group, o in overrides.items()
        }
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
