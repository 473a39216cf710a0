"""Rule 5: configured known differences, accepted until they expire.

A difference is accepted when an unexpired entry names its route template (or `*`) and its field;
`*` in a field pattern matches any run of characters (`tasks[*].error.code`), everything else is
literal, so the brackets of collection members need no escaping; an entry with `kinds` accepts
only differences of those kinds (a `changed` decision accepted is not a `missing` one). An entry
expires at the end of its `expires` day; after that the same difference is a mismatch again,
which is the point: a known difference is a debt with a due date, not a permanent mute.

The configured entries are fixed for the process; entries accepted at runtime (the admin API's
`POST /known`, what `shadowproxy diffs accept` calls) are added and withdrawn by `add` and
`withdraw`, which swap the whole entry tuple, so a comparison running meanwhile sees the old set
or the new one, never half of a change. Each accepted difference carries its entry's reason.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from shadowproxy.types import AcceptedDifference, Difference


@dataclass(frozen=True, slots=True)
class _Entry:
    route: str
    field: re.Pattern[str]
    kinds: frozenset[str]
    expires: dt.date | None
    reason: str
    source: AcceptedDifference
    literal: str | None = None  # the field when its pattern has no `*`: compared, not matched

    @classmethod
    def of(cls, entry: AcceptedDifference) -> _Entry:
        return cls(
            route=entry.route,
            field=re.compile(".*".join(re.escape(part) for part in entry.field.split("*"))),
            kinds=entry.kinds,
            expires=_expiry(entry),
            reason=entry.reason,
            source=entry,
            literal=None if "*" in entry.field else entry.field,
        )

    def accepts(self, difference: Difference) -> bool:
        if self.kinds and difference.kind.value not in self.kinds:
            return False
        if self.literal is not None:
            return difference.field == self.literal
        return bool(self.field.fullmatch(difference.field))


@dataclass(frozen=True, slots=True)
class Split:
    remaining: tuple[Difference, ...]
    accepted: tuple[Difference, ...]
    reasons: tuple[str, ...]  # of the entries that accepted something, for the comparison's reason


_NOTHING = Split((), (), ())


class KnownDifferences:
    def __init__(
        self, entries: Iterable[AcceptedDifference], today: Callable[[], dt.date] = dt.date.today
    ) -> None:
        self._today = today
        self._entries = tuple(_Entry.of(entry) for entry in entries)
        # the entries per route, for one entry tuple (see `_for_route`)
        self._routes: tuple[tuple[_Entry, ...], dict[str, tuple[_Entry, ...]]] = ((), {})

    def entries(self) -> tuple[AcceptedDifference, ...]:
        return tuple(e.source for e in self._entries)

    def add(self, entries: Iterable[AcceptedDifference]) -> None:
        """Accept more differences from now on; raises ValueError for a bad `expires`."""
        self._entries = (*self._entries, *(_Entry.of(entry) for entry in entries))

    def withdraw(
        self, signature: str, replacement: Iterable[AcceptedDifference] = ()
    ) -> tuple[AcceptedDifference, ...]:
        """Drop the runtime entries accepted under `signature` (putting `replacement` in their
        place, in the same swap); the ones dropped."""
        gone = tuple(e.source for e in self._entries if e.source.signature == signature)
        kept = tuple(e for e in self._entries if e.source.signature != signature)
        self._entries = (*kept, *(_Entry.of(entry) for entry in replacement))
        return gone

    def expired(self) -> tuple[AcceptedDifference, ...]:
        """The entries past their `expires` day: they no longer accept anything."""
        today = self._today()
        return tuple(e.source for e in self._entries if e.expires is not None and today > e.expires)

    def counts(self) -> tuple[int, int]:
        """(active, expired) entries, for the metric."""
        expired = len(self.expired())
        return len(self._entries) - expired, expired

    def split(self, route: str, differences: Iterable[Difference]) -> Split:
        """Remaining and accepted differences of one comparison on `route`.

        The first entry for the route that matches a difference and has not expired accepts
        it. The date is asked only of an entry that matches and has an `expires`: most
        mismatches match no entry, and a match has no difference to look up at all.
        """
        if isinstance(differences, tuple | list) and not differences:
            return _NOTHING
        candidates = self._for_route(route)
        today: dt.date | None = None
        remaining: list[Difference] = []
        accepted: list[Difference] = []
        reasons: list[str] = []
        for difference in differences:
            for entry in candidates:
                if not entry.accepts(difference):
                    continue
                if entry.expires is not None:
                    today = self._today() if today is None else today
                    if today > entry.expires:
                        continue
                accepted.append(replace(difference, reason=entry.reason))
                if entry.reason not in reasons:
                    reasons.append(entry.reason)
                break
            else:
                remaining.append(difference)
        return Split(tuple(remaining), tuple(accepted), tuple(reasons))

    def _for_route(self, route: str) -> tuple[_Entry, ...]:
        """The entries for `route` (or `*`), in entry order, expired or not.

        Remembered per route for the current entry tuple, since every mismatch asks: `add` and
        `withdraw` swap the tuple, which starts afresh, so a comparison never sees an entry set
        that was replaced.
        """
        entries, by_route = self._routes
        if entries is not self._entries:
            entries, by_route = self._entries, {}
            self._routes = (entries, by_route)
        found = by_route.get(route)
        if found is None:
            found = by_route[route] = tuple(e for e in entries if e.route in ("*", route))
        return found


def _expiry(entry: AcceptedDifference) -> dt.date | None:
    if entry.expires is None:
        return None
    try:
        return dt.date.fromisoformat(entry.expires)
    except ValueError:
        raise ValueError(
            f"known difference ({entry.route}, {entry.field}): expires must be a date like"
            f" 2026-06-30, got {entry.expires!r}"
        ) from None
