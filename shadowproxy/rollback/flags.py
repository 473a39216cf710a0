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
from typing import Any, Protocol

import structlog

from shadowproxy.errors import FlagStateError, StoreUnavailable
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
class FlagState:
    """What is persisted (flags.json, or the shared store's document): the overrides and when
    each group was last rolled back automatically."""

    overrides: Mapping[RouteGroup, Override]
    version: int = 0
    automatic: Mapping[RouteGroup, float] | None = (
        None  # group -> epoch s of its last auto rollback
    )


@dataclass(frozen=True, slots=True, eq=False)  # compared by identity: each call its own
class FlagChange:
    """One change asked for: groups to sides (None: clear every override), and its audit."""

    sides: Mapping[RouteGroup, Side] | None
    reason: str
    actor: str
    evidence: tuple[str, ...]
    action: str
    at: str
    now: float

    @property
    def automatic(self) -> bool:
        return self.actor.startswith(_AUTOMATIC)

    def applied(self, state: FlagState) -> FlagState:
        """`state` with this change made (the version is the caller's business)."""
        automatic = dict(state.automatic or {})
        if self.sides is None:
            return FlagState({}, state.version, automatic)
        overrides = dict(state.overrides)
        for group, side in self.sides.items():
            overrides[group] = Override(side, self.reason, self.at)
        if self.action == "rollback" and self.automatic:
            automatic.update(dict.fromkeys(self.sides, self.now))
        return FlagState(overrides, state.version, automatic)


class Shared(Protocol):
    """Where a replica sends its flag changes when the flags are shared (rollback/shared_flags)."""

    @property
    def available(self) -> bool: ...

    def submit(self, change: FlagChange) -> None: ...


class Flags:
    """The persisted per-group flags; `on_change(group, side)` runs on each effective change.

    With a shared store attached (`share`), a change applies here at once (so traffic obeys it
    without a round trip) and is sent to the store, which serialises every replica's changes;
    the change is confirmed — versioned, audited and counted, exactly once in the cluster — when
    the store has it (`adopt`). A move to the app is refused while the store is unreachable (the
    replicas could not agree on it); a move back to legacy always applies, and waits for the store.
    """

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
        self._shared: Shared | None = None
        self._provisional: list[FlagChange] = []  # sent to the shared store, not confirmed yet
        self.events = EventLog(state_dir)
        self._confirmed = _read_state(self._path)
        self._version = self._confirmed.version
        self._view = self._confirmed
        for group, override in self._view.overrides.items():
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
        self._sides = self._effective(self._view)
        for group, side in self._sides.items():
            self._notify(group, side)
        if self._on_version is not None:
            self._on_version(self._version)

    def share(self, shared: Shared) -> None:
        """Send every later change to `shared` (the store of a scale-out) before confirming it."""
        self._shared = shared

    @property
    def version(self) -> int:
        return self._version

    @property
    def confirmed(self) -> FlagState:
        """The state as last persisted or confirmed by the shared store (what is seeded)."""
        return self._confirmed

    @property
    def pending(self) -> int:
        """Changes applied here that the shared store has not confirmed yet."""
        return len(self._provisional)

    @property
    def phase(self) -> str:
        return phase_of(self._sides)

    def authoritative(self, group: RouteGroup) -> Side:
        return self._sides[group]

    def snapshot(self) -> Mapping[RouteGroup, Side]:
        return MappingProxyType(dict(self._sides))

    def overrides(self) -> Mapping[RouteGroup, Override]:
        return MappingProxyType(dict(self._view.overrides))

    def rolled_back_at(self, group: RouteGroup) -> float | None:
        """When (epoch seconds) the group was last rolled back automatically, if ever."""
        return (self._view.automatic or {}).get(group)

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
        self._commit(_change(dict(sides), reason, actor, evidence, action))

    def clear(self, *, reason: str, actor: str = "operator") -> None:
        """Drop runtime overrides: the environment's sides apply again."""
        self._commit(_change(None, reason, actor, (), "clear"))

    def refused(
        self, sides: Mapping[RouteGroup, Side], *, reason: str, actor: str, why: str
    ) -> None:
        """Record a call that was refused (the flags do not change)."""
        change = tuple(Change(g.value, self._sides[g].value, s.value) for g, s in sides.items())
        self.record(Event(actor, "refused", f"{reason} (refused: {why})", self._version, change))

    def _commit(self, change: FlagChange) -> None:
        if self._shared is None:
            after = change.applied(self._confirmed)
            version = self._version + 1
            _write_state(self._path, FlagState(after.overrides, version, after.automatic))
            self.adopt(after, version, change=change, before=self._confirmed)
            return
        if not self._shared.available and self._moves_to_app(change):
            raise StoreUnavailable(
                "the shared store is unreachable: a move to the app waits for it (the replicas"
                " could not agree on it); a rollback to legacy applies at once"
            )
        self._provisional.append(change)
        self._show(actor=f"{change.actor} (unconfirmed)", reason=change.reason)
        self._shared.submit(change)

    def adopt(
        self,
        state: FlagState,
        version: int,
        *,
        change: FlagChange | None = None,
        before: FlagState | None = None,
    ) -> None:
        """Make `state` (at `version`) the confirmed state. With `change` (and the state it was
        made on) it is this replica's change, now confirmed: logged, counted and audited here."""
        if change is not None and change in self._provisional:
            self._provisional.remove(change)
        self._confirmed, self._version = state, version
        if self._shared is not None:
            try:
                _write_state(self._path, FlagState(state.overrides, version, state.automatic))
            except OSError as exc:  # the last known flags for a start without the store
                log.warning("flag_cache_not_written", path=str(self._path), error=str(exc))
        self._show(
            actor=change.actor if change else "store", reason=change.reason if change else ""
        )
        if self._on_version is not None:
            self._on_version(version)
        if change is None or before is None:
            return
        sides_before, sides_after = self._effective(before), self._effective(state)
        moved = tuple(
            Change(group.value, sides_before[group].value, side.value)
            for group, side in sides_after.items()
            if sides_before[group] is not side
        )
        if self._on_rollback is not None:
            trigger, mode = _rollback_cause(change.actor, change.action)
            for group, side in sides_after.items():
                if sides_before[group] is Side.APP and side is Side.LEGACY:
                    self._on_rollback(group, trigger, mode)
        self.record(
            Event(change.actor, change.action, change.reason, version, moved, change.evidence)
        )

    def drop(self, change: FlagChange) -> None:
        """Forget an unconfirmed change the shared store had no use for (made already)."""
        if change in self._provisional:
            self._provisional.remove(change)
            self._show(actor=change.actor, reason=change.reason)

    def _show(self, *, actor: str = "", reason: str = "") -> None:
        """Recompute what traffic obeys: the confirmed state with the unconfirmed changes on it."""
        view = self._confirmed
        for change in self._provisional:
            view = change.applied(view)
        before, self._view = self._sides, view
        self._sides = self._effective(view)
        for group, side in self._sides.items():
            if before[group] is not side:
                log.warning(
                    "authoritative_side_changed",
                    route_group=group.value,
                    side=side.value,
                    previous=before[group].value,
                    reason=reason,
                    actor=actor,
                    flags_version=self._version,
                )
            self._notify(group, side)

    def _moves_to_app(self, change: FlagChange) -> bool:
        after = self._effective(change.applied(self._view))
        return any(
            side is Side.APP and self._sides[group] is not Side.APP for group, side in after.items()
        )

    def record(self, event: Event) -> None:
        """Append to the audit trail; a disk that refuses is logged (the change stands)."""
        try:
            self.events.append(event)
        except OSError as exc:  # the change stands (it is in flags.json); say the trail lacks it
            log.error("audit_event_not_written", error=str(exc), action=event.action)

    def _effective(self, state: FlagState) -> dict[RouteGroup, Side]:
        return {
            group: state.overrides[group].side if group in state.overrides else side
            for group, side in self._initial.items()
        }

    def _notify(self, group: RouteGroup, side: Side) -> None:
        if self._on_change is not None:
            self._on_change(group, side)


def _change(
    sides: Mapping[RouteGroup, Side] | None,
    reason: str,
    actor: str,
    evidence: tuple[str, ...],
    action: str,
) -> FlagChange:
    at = datetime.now(UTC).isoformat(timespec="seconds")
    return FlagChange(sides, reason, actor, evidence, action, at, time.time())


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


def _read_state(path: Path) -> FlagState:
    """A missing file means no overrides; an unreadable one is refused loudly, not ignored."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return FlagState({})
    except (OSError, ValueError) as exc:
        raise FlagStateError(
            f"flag state {path} cannot be read ({exc}); fix or delete it"
        ) from None
    try:
        return state_from_document(raw)
    except ValueError as exc:
        raise FlagStateError(f"flag state {path} is malformed ({exc}); fix or delete it") from None


def state_from_document(raw: Any) -> FlagState:
    """The state a flags document (the file's, or the shared store's) holds; ValueError if bad."""
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
        raise ValueError(str(exc)) from None
    return FlagState(overrides, version, automatic)


def state_document(state: FlagState) -> dict[str, Any]:
    return {
        "overrides": {
            group.value: {"side": o.side.value, "reason": o.reason, "at": o.at}
            for group, o in state.overrides.items()
        },
        "version": state.version,
        "automatic": {group.value: at for group, at in (state.automatic or {}).items()},
    }


def _write_state(path: Path, state: FlagState) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = state_document(state)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
