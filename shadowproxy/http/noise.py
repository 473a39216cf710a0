"""The A/A samples the noise table learns from (diff/noise.py), taken beside the shadow calls.

With a secondary legacy instance (`--legacy-secondary URL`), a share of the shadowed *reads*
(`SHADOWPROXY_NOISE_SAMPLE_RATE`, decided by the request id's hash) is also sent to it, at the
same time as the shadow call, and its answer is compared with the primary legacy's: one A/A
sample. Writes never go there (two legacy instances must not both act on one), so the secondary
only knows what it shares with the primary through the legacy data directory: a pair where the
secondary has no 2xx answer (a task created since it started) says nothing about noise and is
counted as `unusable`, never as a difference.

Without a secondary, two reads of one resource by the authoritative side stand in for it: the
answer to a read of a tracked path (the same share, by the path's hash) is remembered, and the
next read of that path, by the same side with no state-changing request through this proxy in
between, is compared with it — a sample only when both documents are terminal (a running
analysis changes by its lifecycle, not by noise). At most `MAX_REMEMBERED` answers of up to
`MAX_REMEMBERED_BYTES` each and `MAX_REMEMBERED_TOTAL` bytes in all are kept, the oldest
forgotten first.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import replace

import aiohttp
from multidict import CIMultiDict

from shadowproxy.diff.config import SAFE_METHODS
from shadowproxy.diff.engine import DiffEngine
from shadowproxy.diff.noise import NoiseTable
from shadowproxy.http.upstream import Body, Upstream, decoded_body, new_session, observe
from shadowproxy.metrics import ProxyMetrics
from shadowproxy.rollback.sampling import sampled
from shadowproxy.routing import RouteTable
from shadowproxy.settings import Settings
from shadowproxy.tasks import Spawn
from shadowproxy.types import Comparison, Exchange, IdAliases, Observation, Side

MAX_REMEMBERED = 512
MAX_REMEMBERED_BYTES = 262_144
MAX_REMEMBERED_TOTAL = 4_194_304

SECONDARY, REPEATED_READS, OFF = "secondary", "repeated_reads", "off"


def noise_source(settings: Settings) -> str:
    """Where A/A samples come from: the secondary, repeated reads, or nowhere (rate 0)."""
    if settings.noise_sample_rate <= 0:
        return OFF
    return SECONDARY if settings.legacy_secondary_url else REPEATED_READS


class NoiseSampler:
    def __init__(
        self,
        settings: Settings,
        *,
        table: NoiseTable,
        engine: DiffEngine,
        secondary: Upstream | None,
        metrics: ProxyMetrics,
        spawn: Spawn,
    ) -> None:
        self.table = table
        self.source = noise_source(settings)
        self._rate = settings.noise_sample_rate
        self._limit = settings.max_diff_bytes
        self._timeout = aiohttp.ClientTimeout(total=settings.shadow_timeout_s)
        self._engine = engine
        self._secondary = secondary
        self._metrics = metrics
        self._spawn = spawn
        self._remembered: OrderedDict[tuple[Side, str], Observation] = OrderedDict()
        self._remembered_bytes = 0

    def changed_state(self) -> None:
        """A state-changing request went through: what a read answered before may now differ."""
        self._remembered.clear()
        self._remembered_bytes = 0

    # ------------------------------------------------------------------ the secondary

    def ask_secondary(
        self, exchange: Exchange, path: str, headers: CIMultiDict[str], body: Body
    ) -> asyncio.Task[Observation] | None:
        """Send this read to the secondary too (`path` in legacy's ids), when it is sampled."""
        upstream = self._secondary
        if (
            upstream is None
            or not isinstance(body, bytes | None)  # a streamed body can be sent once only
            or exchange.method not in SAFE_METHODS
            or not sampled(exchange.request_id, self._rate)
        ):
            return None
        return self._spawn(
            self._observe(upstream, exchange.method, path, headers, body),
            name=f"secondary {exchange.comparison_id}",
        )

    async def _observe(
        self, upstream: Upstream, method: str, path: str, headers: CIMultiDict[str], body: Body
    ) -> Observation:
        observation, _ = await observe(
            upstream, method, path, headers, body, client_timeout=self._timeout, limit=self._limit
        )
        return observation

    async def secondary_answered(
        self,
        exchange: Exchange,
        legacy: Observation,
        secondary: asyncio.Task[Observation],
        ids: IdAliases,
        turn: asyncio.Lock,
    ) -> None:
        """One A/A sample from the primary legacy's and the secondary's answers to one read,
        compared under `turn` (the shadow comparisons' lock: one comparison per loop turn)."""
        answer = await secondary
        body = decoded_body(answer, self._limit)
        if body is None:  # not decodable, or over the diff limit
            self._metrics.noise_sample(exchange.route_group, "unusable")
            return
        async with turn:
            await asyncio.sleep(0)
            self._sample(exchange, legacy, replace(answer, body=body), ids)

    # ------------------------------------------------------------------ repeated reads

    def read(self, comparison: Comparison, answer: Observation, ids: IdAliases) -> None:
        """The authoritative answer to a read: compared with the last one of its path, if any.

        Only a terminal document is remembered or compared (`comparison.terminal`: the engine
        projected it already), so a running analysis's polls cost one look here; a byte-equal
        repeat is a sample without differences, without parsing anything."""
        exchange, terminal = comparison.exchange, comparison.terminal
        if (
            self.source != REPEATED_READS
            or terminal is None
            or not terminal[0 if answer.side is Side.LEGACY else 1]
            or exchange.method not in SAFE_METHODS
            or answer.status != 200
            or len(answer.body) > MAX_REMEMBERED_BYTES
            or not sampled(exchange.route + " " + exchange.path, self._rate)
        ):
            return
        where = (answer.side, exchange.path)
        earlier = self._forget(where)
        self._remembered[where] = answer
        self._remembered_bytes += len(answer.body)
        while (
            len(self._remembered) > MAX_REMEMBERED or self._remembered_bytes > MAX_REMEMBERED_TOTAL
        ):
            self._forget(next(iter(self._remembered)))
        if earlier is None:  # a state-changing request since forgot every earlier answer
            return
        if earlier.body == answer.body:
            self.table.sampled(exchange.route, ())
            self._metrics.noise_sample(exchange.route_group, "sampled")
        else:
            self._sample(exchange, earlier, answer, ids)

    def _forget(self, where: tuple[Side, str]) -> Observation | None:
        entry = self._remembered.pop(where, None)
        if entry is not None:
            self._remembered_bytes -= len(entry.body)
        return entry

    @property
    def remembered(self) -> tuple[int, int]:
        """(answers, bytes) kept for repeated reads."""
        return len(self._remembered), self._remembered_bytes

    # ------------------------------------------------------------------ both

    def _sample(
        self, exchange: Exchange, first: Observation, second: Observation, ids: IdAliases
    ) -> None:
        group = exchange.route_group
        if first.failed or second.failed or first.status != second.status:
            self._metrics.noise_sample(group, "unusable")
            return
        try:
            differences = self._engine.self_differences(
                exchange.profile, exchange.route, first, second, ids
            )
        except ValueError:  # a body the route's profile cannot read
            self._metrics.noise_sample(group, "unusable")
            return
        if differences is None:
            self._metrics.noise_sample(group, "in_flight")
            return
        self.table.sampled(exchange.route, differences)
        self._metrics.noise_sample(group, "sampled")

    async def close(self) -> None:
        if self._secondary is not None:
            await self._secondary.session.close()


def build_sampler(
    settings: Settings,
    *,
    table: NoiseTable,
    engine: DiffEngine,
    routes: RouteTable,
    metrics: ProxyMetrics,
    spawn: Spawn,
    pool_size: int,
) -> NoiseSampler | None:
    """The sampler for the settings (None when noise is not measured), its metric exported."""
    if noise_source(settings) == OFF:
        return None
    url = settings.legacy_secondary_url
    secondary = None if url is None else Upstream(Side.LEGACY, url, new_session(pool_size))
    groups = {spec.template: spec.group.value for spec in routes.specs}
    metrics.watch_noise(
        lambda: (
            (groups.get(found.route, "unknown"), found.field, found.rate)
            for found in table.fields()
        )
    )
    return NoiseSampler(
        settings, table=table, engine=engine, secondary=secondary, metrics=metrics, spawn=spawn
    )
