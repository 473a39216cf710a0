"""Per-route-group authoritative flags: the one-step rollback lives here.

Initial sides come from Settings (the environment); runtime flips from the admin API are
persisted to `<state_dir>/flags.json` and win over the environment at the next start, because
an operator who rolled back at 3 am must not be silently rolled forward by a restart. That
precedence is logged loudly. The file is a few hundred bytes written atomically (temp file +
rename) on a rare admin action, so it is written inline rather than off the event loop.

Every change increments `version` (persisted too: it only grows, across restarts) and is an
event of the audit trail (`rollback/audit.py`) naming its actor, reason and evidence; a refused
call is recorded there as well, and every group the change puts back on legacy is reported to
`on_rollback(group, trigger, mode)` (the rollbacks metric, counted in this one place). The time of
each group's last automatic rollback (by the guard
or an alert) is kept for the cooldown before the app may answer that group again.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

import structlog

from shadowproxy.errors import FlagStateError
from shadowproxy.rollback.audit import Change, Event, EventLog
from shadowproxy.rollback.phases import phase_of
from shadowproxy.types import RouteGroup, Side

FLAGS_FILE = "flags.json"

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Override:
    side: Side
    reason: str
    at: str  # ISO-8601 UTC


@dataclass(frozen=True, slots=True)
class _State:
    overrides: dict[RouteGroup, Override]
    version: int = 0
    automatic: dict[RouteGroup, float] | None = None  # group -> epoch s of its last auto rollback


class Flags:
    """The persisted per-group flags; `on_change(group, side)` runs on each effective change."""

    def __init__(
        self,
        initial: Mapping[RouteGroup, Side],
        state_dir: Path,
        *,
        on_change: Callable[[RouteGroup, Side], None] | None = None,
        on_version: Callable[[int], None] | None = None,
        on_rollback: Callable[[RouteGroup, str, str], None] | None = None,
    ) -> None:
        self._initial = {group: initial.get(group, Side.LEGACY) for group in RouteGroup}
        self._path = state_dir / FLAGS_FILE
        self._on_change = on_change
        self._on_version = on_version
        self._on_rollback = on_rollback
        self.events = EventLog(state_dir)
        state = _read_state(self._path)
        self._overrides = state.overrides
        self._version = state.version
        self._automatic = dict(state.automatic or {})
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
        if self._on_version is not None:
            self._on_version(self._version)

    @property
    def version(self) -> int:
        return self._version

    @property
    def phase(self) -> str:
        return phase_of(self._sides)

    def authoritative(self, group: RouteGroup) -> Side:
        return self._sides[group]

    def snapshot(self) -> Mapping[RouteGroup, Side]:
        return MappingProxyType(dict(self._sides))

    def overrides(self) -> Mapping[RouteGroup, Override]:
        return MappingProxyType(dict(self._overrides))

    def rolled_back_at(self, group: RouteGroup) -> float | None:
        """When (epoch seconds) the group was last rolled back automatically, if ever."""
        return self._automatic.get(group)

    def set_authoritative(
        self,
        group: RouteGroup,
        side: Side,
        *,
        reason: str,
        actor: str = "operator",
        evidence: tuple[str, ...] = (),
    ) -> None:
        action = "rollback" if side is Side.LEGACY and actor.startswith(_AUTOMATIC) else "flip"
        self.set_many({group: side}, reason=reason, actor=actor, evidence=evidence, action=action)

    def rollback(
        self,
        *,
        reason: str,
        actor: str = "operator",
        evidence: tuple[str, ...] = (),
        groups: tuple[RouteGroup, ...] = tuple(RouteGroup),
    ) -> None:
        """Every group (or the ones named) back to legacy in one step: one write, one event."""
        sides = dict.fromkeys(groups, Side.LEGACY)
        self.set_many(sides, reason=reason, actor=actor, evidence=evidence, action="rollback")

    def set_many(
        self,
        sides: Mapping[RouteGroup, Side],
        *,
        reason: str,
        actor: str = "operator",
        evidence: tuple[str, ...] = (),
        action: str = "flip",
    ) -> None:
        at = datetime.now(UTC).isoformat(timespec="seconds")
        overrides = dict(self._overrides)
        for group, side in sides.items():
            overrides[group] = Override(side, reason, at)
        automatic = dict(self._automatic)
        if action == "rollback" and actor.startswith(_AUTOMATIC):
            now = time.time()
            automatic.update(dict.fromkeys(sides, now))
        self._commit(
            overrides, automatic, reason=reason, actor=actor, evidence=evidence, action=action
        )

    def clear(self, *, reason: str, actor: str = "operator") -> None:
        """Drop runtime overrides: the environment's sides apply again."""
        self._commit({}, self._automatic, reason=reason, actor=actor, evidence=(), action="clear")

    def refused(
        self, sides: Mapping[RouteGroup, Side], *, reason: str, actor: str, why: str
    ) -> None:
        """Record a call that was refused (the flags do not change)."""
        change = tuple(Change(g.value, self._sides[g].value, s.value) for g, s in sides.items())
        self.record(Event(actor, "refused", f"{reason} (refused: {why})", self._version, change))

    def _commit(
        self,
        overrides: dict[RouteGroup, Override],
        automatic: dict[RouteGroup, float],
        *,
        reason: str,
        actor: str,
        evidence: tuple[str, ...],
        action: str,
    ) -> None:
        version = self._version + 1
        _write_state(self._path, _State(overrides, version, automatic))
        before = self._sides
        self._overrides, self._automatic, self._version = overrides, automatic, version
        self._sides = self._effective()
        change = tuple(
            Change(group.value, before[group].value, side.value)
            for group, side in self._sides.items()
            if before[group] is not side
        )
        for group, side in self._sides.items():
            if before[group] is not side:
                log.warning(
                    "authoritative_side_changed",
                    route_group=group.value,
                    side=side.value,
                    previous=before[group].value,
                    reason=reason,
                    actor=actor,
                    flags_version=version,
                )
            self._notify(group, side)
        if self._on_version is not None:
            self._on_version(version)
        if self._on_rollback is not None:
            trigger, mode = _rollback_cause(actor, action)
            for group, side in self._sides.items():
                if before[group] is Side.APP and side is Side.LEGACY:
                    self._on_rollback(group, trigger, mode)
        self.record(Event(actor, action, reason, version, change, evidence))

    def record(self, event: Event) -> None:
        """Append to the audit trail; a disk that refuses is logged (the change stands)."""
        try:
            self.events.append(event)
        except OSError as exc:  # the change stands (it is in flags.json); say the trail lacks it
            log.error("audit_event_not_written", error=str(exc), action=event.action)

    def _effective(self) -> dict[RouteGroup, Side]:
        return {
            group: self._overrides[group].side if group in self._overrides else side
            for group, side in self._initial.items()
        }

    def _notify(self, group: RouteGroup, side: Side) -> None:
        if self._on_change is not None:
            self._on_change(group, side)


_AUTOMATIC = ("auto:", "alertmanager:")


def _rollback_cause(actor: str, action: str) -> tuple[str, str]:
    """(trigger, mode) of a group put back on legacy: what `shadowproxy_rollbacks_total` says."""
    kind, _, name = actor.partition(":")
    if kind == "auto":
        return name, "auto"
    if kind == "alertmanager":
        return name, "alert"
    return (
        "phase" if action == "phase" else "clear" if action == "clear" else "operator"
    ), "manual"


def _read_state(path: Path) -> _State:
    """A missing file means no overrides; an unreadable one is refused loudly, not ignored."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return _State({})
    except (OSError, ValueError) as exc:
        raise FlagStateError(
            f"flag state {path} cannot be read ({exc}); fix or delete it"
        ) from None
    try:
        overrides = {
            RouteGroup(group): Override(
                Side.parse(entry["side"]), str(entry["reason"]), str(entry["at"])
            )
            for group, entry in raw["overrides"].items()
        }
        version = raw.get("version", 0)
        if type(version) is not int or version < 0:
            raise ValueError(f"version must be a count, got {version!r}")
        automatic = {RouteGroup(group): float(at) for group, at in raw.get("automatic", {}).items()}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise FlagStateError(f"flag state {path} is malformed ({exc}); fix or delete it") from None
    return _State(overrides, version, automatic)


def _write_state(path: Path, state: _State) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "overrides": {
            group.value: {"side": o.side.value, "reason": o.reason, "at": o.at}
            for group, o in state.overrides.items()
        },
        "version": state.version,
        "automatic": {group.value: at for group, at in (state.automatic or {}).items()},
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
