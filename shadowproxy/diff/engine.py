"""The diff engine: two observations of one exchange in, one `Comparison` out.

`DiffEngine` satisfies `types.Comparator` for HTTP exchanges; `compare_values` is the same
pipeline on already-parsed values, for websocket frames. The order of the rules lives in
`diff.outcome`; this module wires parsing, profiles, comparison and the secondary report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from shadowproxy.diff import outcome as rules
from shadowproxy.diff.compare import compare_views
from shadowproxy.diff.config import DEFAULT_CONFIG, DiffConfig
from shadowproxy.diff.known import KnownDifferences
from shadowproxy.diff.lifecycle import Sorted, sort_by_lifecycle
from shadowproxy.diff.noise import NoiseSplit, NoiseTable
from shadowproxy.diff.profile import (
    BODY_ONLY,
    MAX_DEPTH,
    BodyKind,
    Profile,
    ProjectionContext,
    parse_body,
    too_deep,
)
from shadowproxy.diff.profiles import PROFILES
from shadowproxy.diff.profiles.generic import JsonFields
from shadowproxy.diff.secondary import MAX_BODY_BYTES, secondary_report
from shadowproxy.diff.view import View
from shadowproxy.types import (
    Comparison,
    Difference,
    Exchange,
    IdAliases,
    JSONValue,
    Observation,
    Outcome,
    Side,
)

_TOLERANT = frozenset({"confidence"})
# Python 3.11 looks an enum member up on its class through `EnumType.__getattr__`'s slow hook
# (~0.2 µs, ten times a plain attribute): the per-comparison paths use these names instead.
_MATCH, _MISMATCH = Outcome.MATCH, Outcome.MISMATCH
_SKEW, _ACCEPTED, _NOISE = Outcome.INFLIGHT_SKEW, Outcome.ACCEPTED, Outcome.NOISE
_JSON = BodyKind.JSON


@dataclass(frozen=True, slots=True)
class ValueComparison:
    """One pair of parsed values compared (a websocket frame pair, or a 2xx body pair).

    `differences` are what remains after known differences and noise; `inflight` is True when
    every one of them is in-flight skew, so the pair's outcome is `inflight_skew`. `terminal` is
    per side (legacy, app): whether that side's document has reached a terminal state.
    """

    differences: tuple[Difference, ...]
    accepted: tuple[Difference, ...]
    inflight: bool
    terminal: tuple[bool, bool]
    task_id: str | None
    ticker: str | None
    date: str | None
    reason: str | None = None
    noise: tuple[Difference, ...] = ()

    @property
    def outcome(self) -> Outcome:
        if self.inflight:
            return _SKEW
        if self.differences:
            return _MISMATCH
        if self.noise:
            return _NOISE
        return _ACCEPTED if self.accepted else _MATCH


class DiffEngine:
    def __init__(
        self,
        config: DiffConfig = DEFAULT_CONFIG,
        *,
        today: Callable[[], dt.date] = dt.date.today,
        secondary_for: Callable[[Outcome], bool] = lambda _: True,
        known: KnownDifferences | None = None,
        noise: NoiseTable | None = None,
    ) -> None:
        """`secondary_for` says which outcomes get the (costly, informative) secondary report.

        The proxy passes its diff-log policy: the full-body report costs about twice the whole
        key-field comparison, so it is not run for a comparison whose record will not be
        written. `known` is the proxy's one set of known differences, which the admin API adds
        to at runtime (by default, the config's). `noise`, when the proxy measures noise, counts
        every legacy-vs-app comparison and excuses the differences on fields it found noisy.
        """
        self._config = config
        self._noise = noise
        self._secondary_for = secondary_for
        self._known = known or KnownDifferences(config.known_differences, today)
        self._last_contexts: tuple[ProjectionContext, ProjectionContext] | None = None
        self._by_route: dict[str, Profile] = {
            route.spec.template: JsonFields(route.key_fields)
            for route in config.routes
            if route.spec.profile == JsonFields.name
        }

    @property
    def known(self) -> KnownDifferences:
        return self._known

    @property
    def noise(self) -> NoiseTable | None:
        return self._noise

    def self_differences(
        self, profile: str, route: str, first: Observation, second: Observation, ids: IdAliases
    ) -> tuple[Difference, ...] | None:
        """How two 2xx answers of one side to one read differ on key fields (an A/A sample), or
        None while either document is still in flight (its changes are its lifecycle's, not
        noise). Raises ValueError for a body the profile cannot read, or one nested too deep.

        Both answers are projected as `first`'s side; in-flight skew never counts, and neither
        do known differences: noise is what the old system does by itself.
        """
        chosen = self.profile(profile, route)
        context = ProjectionContext(first.side, ids)
        left_view = chosen(parse_body(chosen.body, first), context)
        same = first.body == second.body  # the usual case: one parse, one view, no difference
        right_view = left_view if same else chosen(parse_body(chosen.body, second), context)
        if not (left_view.terminal and right_view.terminal):
            return None
        found = compare_views(
            left_view, right_view, tolerant=_TOLERANT, tolerance=self._config.confidence_tolerance
        )
        return sort_by_lifecycle(found, left_view, right_view).mismatches

    def profile(self, name: str, route: str) -> Profile:
        """The profile for a route: configured `json_fields` routes carry their own key fields."""
        if name == JsonFields.name and route in self._by_route:
            return self._by_route[route]
        try:
            return PROFILES[name]
        except KeyError:
            raise ValueError(f"no diff profile named {name!r} (route {route})") from None

    def __call__(
        self, exchange: Exchange, legacy: Observation, app: Observation, ids: IdAliases
    ) -> Comparison:
        profile = self.profile(exchange.profile, exchange.route)
        failure = rules.transport_failure(exchange.authoritative, legacy, app)
        if failure is not None:  # no comparison, but the side that answered names the analysis
            answered = [side for side in (legacy, app) if rules.answered_ok(side)]
            identity = self._identity(profile, answered[0], ids) if answered else None
            return Comparison(
                exchange,
                failure[0],
                legacy,
                app,
                reason=failure[1],
                task_id=identity.task_id if identity else None,
                ticker=identity.ticker if identity else None,
                date=identity.date if identity else None,
            )
        status = rules.status_difference(legacy, app)
        if status is not None:
            ok_side = legacy if rules.answered_ok(legacy) else app
            identity = self._identity(profile, ok_side, ids)
            return self._finish(
                exchange, legacy, app, self._strict(exchange.route, [status], identity)
            )
        assert legacy.status is not None
        if rules.status_class(legacy.status) != 2:
            found: list[Difference] = []
            if rules.status_class(legacy.status) == 4:
                detail = rules.detail_difference(legacy, app)
                found = [] if detail is None else [detail]
            return self._finish(exchange, legacy, app, self._strict(exchange.route, found, None))
        profile, legacy_value, app_value = _parse(profile, legacy, app)
        values = self._values(profile, legacy_value, app_value, ids, route=exchange.route)
        secondary = (
            secondary_report(legacy_value, app_value, limit=self._config.max_differences)
            if profile.body is _JSON
            and len(legacy.body) + len(app.body) <= MAX_BODY_BYTES
            and self._secondary_for(values.outcome)
            else ()
        )
        return self._finish(exchange, legacy, app, values, secondary, terminal=values.terminal)

    def compare_values(
        self, profile: str, legacy: JSONValue, app: JSONValue, ids: IdAliases, *, route: str
    ) -> ValueComparison:
        """The key-field comparison of two parsed bodies (rules 3 to 6, without the secondary).

        Raises ValueError for a value nested deeper than `MAX_DEPTH`: the caller parsed it, and
        walking it would exhaust the stack.
        """
        chosen = self.profile(profile, route)
        for side, value in ((Side.LEGACY, legacy), (Side.APP, app)):
            if too_deep(value):
                raise ValueError(f"the {side} value nests deeper than {MAX_DEPTH} levels")
        return self._values(chosen, legacy, app, ids, route=route)

    def _values(
        self, profile: Profile, legacy: JSONValue, app: JSONValue, ids: IdAliases, *, route: str
    ) -> ValueComparison:
        legacy_context, app_context = self._contexts(ids)
        legacy_view = profile(legacy, legacy_context)
        # one value (byte-equal bodies parsed once) is one view, unless the side or ids matter
        same = app is legacy and profile.side_free
        app_view = legacy_view if same else profile(app, app_context)
        found = compare_views(
            legacy_view,
            app_view,
            tolerant=_TOLERANT,
            tolerance=self._config.confidence_tolerance,
        )
        lifecycle = sort_by_lifecycle(found, legacy_view, app_view)
        if self._noise is not None:  # every comparison of two bodies is an L/A sample
            self._noise.compared(route, lifecycle.mismatches)
        identity = legacy_view if legacy_view.task_id or legacy_view.ticker else app_view
        return self._judge(route, lifecycle, identity, (legacy_view.terminal, app_view.terminal))

    def _contexts(self, ids: IdAliases) -> tuple[ProjectionContext, ProjectionContext]:
        """Both sides' projection contexts, kept while the proxy passes the same id map."""
        contexts = self._last_contexts
        if contexts is None or contexts[0].ids is not ids:
            contexts = ProjectionContext(Side.LEGACY, ids), ProjectionContext(Side.APP, ids)
            self._last_contexts = contexts
        return contexts

    def _judge(
        self,
        route: str,
        lifecycle: Sorted,
        identity: View | None,
        terminal: tuple[bool, bool] = (True, True),
    ) -> ValueComparison:
        """Rules 5 and 6 on differences already sorted by lifecycle."""
        noise_table = self._noise
        if not (lifecycle.mismatches or lifecycle.skew):  # a match: no known difference to ask
            return ValueComparison(
                differences=(),
                accepted=(),
                inflight=False,
                terminal=terminal,
                task_id=identity.task_id if identity else None,
                ticker=identity.ticker if identity else None,
                date=identity.date if identity else None,
                reason=_withheld(lifecycle),
            )
        mismatches = self._known.split(route, lifecycle.mismatches)
        skew = self._known.split(route, lifecycle.skew)
        accepted = mismatches.accepted + skew.accepted
        noise = (
            NoiseSplit(mismatches.remaining, ())
            if noise_table is None
            else noise_table.split(route, mismatches.remaining)
        )
        outcome = rules.decide(noise.remaining, skew.remaining, accepted, noise.noise)
        if outcome is _MISMATCH:
            reason: str | None = rules.summarise(noise.remaining)
        elif outcome is _SKEW:
            reason = lifecycle.reason
        elif outcome is _NOISE:
            reason = "noise: " + ", ".join(dict.fromkeys(d.field for d in noise.noise[:5]))
        elif outcome is _ACCEPTED:
            reason = "known: " + "; ".join(dict.fromkeys(mismatches.reasons + skew.reasons))
        else:
            reason = _withheld(lifecycle)
        limit = self._config.max_differences
        return ValueComparison(
            differences=(noise.remaining + skew.remaining)[:limit],
            accepted=accepted[:limit],
            noise=noise.noise[:limit],
            inflight=outcome is _SKEW,
            terminal=terminal,
            task_id=identity.task_id if identity else None,
            ticker=identity.ticker if identity else None,
            date=identity.date if identity else None,
            reason=reason,
        )

    def _strict(
        self, route: str, found: list[Difference], identity: View | None
    ) -> ValueComparison:
        """Differences found before any body was projected (status, detail) are never in flight."""
        return self._judge(route, Sorted(tuple(found), (), 0, None), identity)

    def _identity(self, profile: Profile, observation: Observation, ids: IdAliases) -> View | None:
        try:
            value = parse_body(profile.body, observation)
        except ValueError:
            return None
        return profile(value, ProjectionContext(observation.side, ids))

    def _finish(
        self,
        exchange: Exchange,
        legacy: Observation,
        app: Observation,
        values: ValueComparison,
        secondary: tuple[Difference, ...] = (),
        *,
        terminal: tuple[bool, bool] | None = None,
    ) -> Comparison:
        return Comparison(
            exchange,
            values.outcome,
            legacy,
            app,
            differences=values.differences,
            secondary=secondary,
            accepted=values.accepted,
            noise=values.noise,
            terminal=terminal,
            reason=values.reason,
            task_id=values.task_id,
            ticker=values.ticker,
            date=values.date,
        )


def _parse(
    profile: Profile, legacy: Observation, app: Observation
) -> tuple[Profile, JSONValue, JSONValue]:
    """Both bodies as the profile reads them; a body it cannot read sends both through
    `bytes_equal`. Byte-equal bodies are parsed once, both sides holding the one value (the
    byte-equal fast path: profiles never modify what they project)."""
    try:
        legacy_value = parse_body(profile.body, legacy)
        if profile.body in BODY_ONLY and app.body == legacy.body:
            return profile, legacy_value, legacy_value
        return profile, legacy_value, parse_body(profile.body, app)
    except ValueError:
        bytes_equal = PROFILES["bytes_equal"]
        return bytes_equal, parse_body(BodyKind.BYTES, legacy), parse_body(BodyKind.BYTES, app)


def _withheld(lifecycle: Sorted) -> str | None:
    """The reason of a comparison with nothing left to judge: result fields not compared."""
    if lifecycle.withheld:
        return f"{lifecycle.withheld} result field(s) not compared while in flight"
    return None
