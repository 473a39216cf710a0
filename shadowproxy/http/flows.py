"""Sampling per flow: whether a request is shadowed, decided once for the flow it belongs to.

A flow is what one task id (an analysis and its websocket) or batch id names, or else the
request alone (rollback/sampling.py). The decision rides on the correlation map: a flow whose
create was shadowed has a pair, one whose create was sampled out is marked, and everything
else is decided by a deterministic hash, so every replica decides alike.
"""

from __future__ import annotations

from shadowproxy.correlation import CorrelationMap, FlowSet
from shadowproxy.rollback.sampling import SampleRates, sampled
from shadowproxy.types import Exchange, RouteMatch, SkipReason


class Flows:
    def __init__(self, correlation: CorrelationMap, rates: SampleRates, desync: FlowSet) -> None:
        self._correlation = correlation
        self._rates = rates
        self._desync = desync  # the flows a write the shadow never saw left apart

    def sampled(self, exchange: Exchange, match: RouteMatch) -> bool:
        """Once per flow (rollback/sampling.py): a flow whose create was shadowed is in, one
        whose create was sampled out is out, a request naming no flow is decided by its id's
        hash. A flow that is neither yet is in for now: its create may still be in flight here
        or on another replica, so the shadow task decides once the twin is resolved
        (`unresolved`) — deciding by the hash now would split a flow whose create was shadowed
        but not answered yet (a websocket opened at once, a poll right after the start)."""
        rate = self._rates.rate(exchange.route_group)
        if rate >= 1.0 and not self._correlation.has_sampled_out:
            return True  # the default: no id to parse, no flow to look up
        key = self._correlation.key(match, exchange.path)
        if key is None:
            return sampled(exchange.request_id, rate)
        return not self._correlation.is_sampled_out(key)

    def unresolved(self, exchange: Exchange, match: RouteMatch) -> SkipReason:
        """Why a shadow whose request names an id without a twin is not sent (HTTP and ws)."""
        flow = self._correlation.key(match, exchange.path)
        if flow is None:
            return SkipReason.UNCORRELATED
        if self._correlation.is_sampled_out(flow):
            return SkipReason.SAMPLED_OUT  # its create was sampled out (maybe on another replica)
        if flow in self._desync:
            return SkipReason.STATE_DIVERGED
        if not sampled(flow, self._rates.rate(exchange.route_group)):
            return SkipReason.SAMPLED_OUT  # a flow no create through the proxy named: by its id
        return SkipReason.UNCORRELATED
