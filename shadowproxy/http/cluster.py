"""The scale-out wiring (`SHADOWPROXY_STORE=redis`): one store, and what the replicas share on it.

`Cluster` connects this replica's flags, correlation map, rollback guard and audit trail to the
shared store (`shadowproxy.store`): flag changes serialised across replicas and obeyed by every
one within a second, correlation pairs and creates in flight seen by every replica, the window
triggers and the noise classification judged on every replica's evidence, the runtime known
differences, the sample rates and the audit trail kept once for all. It is built
only with the Redis store; with the local store the embedded state is all there is.
"""

from __future__ import annotations

from shadowproxy.correlation import CorrelationMap
from shadowproxy.diff.noise import NoiseTable
from shadowproxy.metrics import ProxyMetrics
from shadowproxy.rollback.accepted import Acceptances
from shadowproxy.rollback.flags import Flags
from shadowproxy.rollback.guard import RollbackGuard
from shadowproxy.rollback.sampling import SampleRates
from shadowproxy.rollback.shared_flags import SharedFlags
from shadowproxy.rollback.shared_known import SharedAcceptances
from shadowproxy.rollback.shared_sampling import SharedSampling
from shadowproxy.settings import Settings
from shadowproxy.store.client import Store
from shadowproxy.store.pairs import SharedPairs
from shadowproxy.store.stream import SharedEvents
from shadowproxy.store.tallies import SharedTallies
from shadowproxy.types import RouteGroup

SETTLE_S = 2.0  # how long an admin call waits for the store to confirm its flag change
NOISE_TOTALS = "all"  # the noise totals are one set per replica (keyed by route inside)
NOISE_TICK_S = 2.0  # noise is judged over an hour: its totals need not travel 4 times a second


class Cluster:
    def __init__(
        self,
        settings: Settings,
        *,
        flags: Flags,
        acceptances: Acceptances,
        rates: SampleRates,
        correlation: CorrelationMap,
        guard: RollbackGuard,
        metrics: ProxyMetrics,
        noise: NoiseTable,
    ) -> None:
        if settings.redis_url is None:
            raise ValueError("the Redis store needs SHADOWPROXY_REDIS_URL")
        self.replica = settings.replica
        self.store = store = Store(
            settings.redis_url,
            replica=settings.replica,
            on_health=lambda up: metrics.store_up.set(int(up)),
        )
        metrics.store_up.set(0)
        self.flags = SharedFlags(flags, store)
        self.known = SharedAcceptances(acceptances, store)
        self.sampling = SharedSampling(rates, store, rates.path)
        self.pairs = SharedPairs(store, ttl_s=correlation.ttl_s, on_pair=correlation.remote)
        correlation.share(self.pairs)
        self.tallies = SharedTallies(
            store,
            groups=tuple(group.value for group in RouteGroup),
            window_s=settings.parity_window_s,
            own=guard.totals,
        )
        guard.share(self.tallies.others)
        self.noise = SharedTallies(  # the noise table's window totals: judged on the cluster's
            store,
            kind="noise",
            groups=(NOISE_TOTALS,),
            window_s=settings.noise.window_s,
            own=lambda _: noise.totals(),
            tick_s=NOISE_TICK_S,
        )
        noise.share(lambda: self.noise.others(NOISE_TOTALS))
        self.events = SharedEvents(store)
        flags.events.share(settings.replica, self.events.append)
        pending = metrics.store_pending
        pending.labels("flags").set_function(lambda: flags.pending)
        pending.labels("events").set_function(lambda: self.events.pending)
        pending.labels("pairs").set_function(lambda: self.pairs.pending)

    @property
    def available(self) -> bool:
        return self.store.available

    def describe(self) -> dict[str, str]:
        """What `GET /flags` and `/readyz` say about the store (never its URL's password)."""
        state = "available" if self.store.available else "unavailable"
        return {"store": "redis", "store_state": state, "replica": self.replica}

    async def start(self) -> None:
        parts = (
            self.flags,
            self.known,
            self.sampling,
            self.pairs,
            self.tallies,
            self.noise,
            self.events,
        )
        for part in parts:
            part.start()
        await self.store.start()

    async def close(self) -> None:
        """Give queued writes a moment to reach the store, then disconnect."""
        await self.flags.settled(SETTLE_S)
        await self.store.close()
