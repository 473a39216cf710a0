"""Shadow sampling per route group, and one decision per flow.

`SHADOWPROXY_SAMPLE_RATE` is every group's share of shadowed requests, and
`SHADOWPROXY_SAMPLE_RATE_<GROUP>` overrides one group; the admin API changes either at runtime
(`PUT /sampling/{group}`, `DELETE /sampling`: audited, kept in `<state_dir>/sampling.json`, and
in a scale-out in the shared store, so every replica samples alike).

The decision is made once per flow, not per request, so a flow is shadowed whole or not at all:
`sampled(key, rate)` hashes the flow's key (blake2b, the same on every replica and every run)
against the rate. The key is the id a request names (a task id, a batch id, in legacy terms when
correlated), or the request's own id for a request that names none — a create, whose flow is
then decided by that one request: the shadow dispatcher remembers the id a sampled-out create
minted, so its later requests are sampled out too, and treats a flow whose create was shadowed
(its ids are correlated) as sampled in, whatever the rate of the group a later request is in.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from shadowproxy.errors import StateFileError
from shadowproxy.rollback.audit import Change, Event
from shadowproxy.types import RouteGroup

SAMPLING_FILE = "sampling.json"


def sampled(key: str, rate: float) -> bool:
    """Whether the flow `key` is shadowed at `rate`: deterministic, the same on every replica."""
    if rate >= 1.0:
        return True
    if rate <= 0.0:
        return False
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") < rate * 2**64


@dataclass(frozen=True, slots=True)
class RateOverride:
    rate: float
    reason: str
    at: str  # ISO-8601 UTC


class SampleRates:
    """Every group's sample rate: the environment's, under the runtime overrides."""

    def __init__(
        self,
        default: float,
        initial: Mapping[RouteGroup, float],
        state_dir: Path,
        *,
        record: Callable[[Event], None],
        version: Callable[[], int],
    ) -> None:
        self._initial = {group: initial.get(group, default) for group in RouteGroup}
        self.path = state_dir / SAMPLING_FILE
        self._record = record
        self._version = version
        self._overrides = read_overrides(self.path)
        self._rates = self._effective()

    def rate(self, group: RouteGroup) -> float:
        return self._rates[group]

    def overrides(self) -> Mapping[RouteGroup, RateOverride]:
        return MappingProxyType(dict(self._overrides))

    def describe(self) -> dict[str, Any]:
        """What `GET /sampling` answers."""
        groups: dict[str, Any] = {}
        for group, rate in self._rates.items():
            override = self._overrides.get(group)
            entry: dict[str, Any] = {"rate": rate, "environment": self._initial[group]}
            if override is not None:
                entry |= {"source": "runtime", "reason": override.reason, "at": override.at}
            else:
                entry["source"] = "environment"
            groups[group.value] = entry
        return {"groups": groups}

    def changed(
        self, group: RouteGroup | None, rate: float | None, reason: str
    ) -> dict[RouteGroup, RateOverride]:
        """The overrides after setting `group` to `rate` (None, None: clearing every one)."""
        if group is None:
            return {}
        if rate is None or not 0.0 <= rate <= 1.0:
            raise ValueError(f"a sample rate is a share between 0 and 1, got {rate!r}")
        at = datetime.now(UTC).isoformat(timespec="seconds")
        return {**self._overrides, group: RateOverride(rate, reason, at)}

    def change(
        self, group: RouteGroup | None, rate: float | None, *, reason: str, actor: str
    ) -> None:
        """Set one group's rate (None, None: clear every override): ValueError for a bad rate,
        OSError when it cannot be kept (nothing changed)."""
        self.apply(self.changed(group, rate, reason), reason=reason, actor=actor)

    def apply(
        self,
        overrides: Mapping[RouteGroup, RateOverride],
        *,
        reason: str,
        actor: str,
        persist: bool = True,
    ) -> None:
        """Make `overrides` the runtime ones, written first (OSError: nothing changed), and
        record the change as one `sample` event."""
        if persist:
            write_overrides(self.path, overrides)
        before = self._rates
        self.adopt(overrides)
        change = tuple(
            Change(group.value, f"{before[group]:g}", f"{rate:g}")
            for group, rate in self._rates.items()
            if before[group] != rate
        )
        self._record(Event(actor, "sample", reason, self._version(), change))

    def adopt(self, overrides: Mapping[RouteGroup, RateOverride]) -> None:
        """Make `overrides` the runtime ones (the shared store's): no event, no file."""
        self._overrides = dict(overrides)
        self._rates = self._effective()

    def _effective(self) -> dict[RouteGroup, float]:
        return {
            group: self._overrides[group].rate if group in self._overrides else rate
            for group, rate in self._initial.items()
        }


def overrides_document(overrides: Mapping[RouteGroup, RateOverride]) -> dict[str, Any]:
    return {
        "overrides": {
            group.value: {"rate": o.rate, "reason": o.reason, "at": o.at}
            for group, o in overrides.items()
        }
    }


def overrides_from_document(raw: Any) -> dict[RouteGroup, RateOverride]:
    """ValueError when `raw` is not a sampling document."""
    try:
        found = {
            RouteGroup(group): RateOverride(float(e["rate"]), str(e["reason"]), str(e["at"]))
            for group, e in raw["overrides"].items()
        }
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(str(exc)) from None
    if any(not 0.0 <= o.rate <= 1.0 for o in found.values()):
        raise ValueError("a sample rate is a share between 0 and 1")
    return found


def read_overrides(path: Path) -> dict[RouteGroup, RateOverride]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise StateFileError(f"{path} cannot be read ({exc}); fix or delete it") from None
    try:
        return overrides_from_document(raw)
    except ValueError as exc:
        raise StateFileError(f"{path} is malformed ({exc}); fix or delete it") from None


def write_overrides(path: Path, overrides: Mapping[RouteGroup, RateOverride]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    text = json.dumps(overrides_document(overrides), indent=2, sort_keys=True) + "\n"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
