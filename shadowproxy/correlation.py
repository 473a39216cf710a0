"""Stateful id correlation: which id the other side minted for the same create request.

The two backends mint different random ids for the same analysis task (or portfolio batch,
or position). The proxy learns each `legacy id <-> app id` pair from the two answers of a
create route, then rewrites the id in every later request to the side it is sent to: the
shadow's request, and also the authoritative's when the client still holds an id the other
side minted before a flag flip (so a rollback is transparent to open dashboards).

The map is bounded (LRU on use, plus a TTL) and survives restarts through an append-only
JSONL file under the state dir, compacted when the proxy starts. Each learned pair is one
short line written and flushed inline: a few dozen bytes per create request.

In a scale-out (`share`, with the Redis store) every pair is also written to the store and
announced, so each replica's map holds every replica's pairs, and a shadow that needs a twin
this map lacks asks the store, waiting (bounded) while creates in flight on any replica run.
With the store unreachable such a shadow raises StoreUnavailable (`store_unavailable`): it is
skipped, never guessed. The authoritative call's `target` stays local: it never waits.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO
from urllib.parse import quote, quote_plus, unquote, unquote_plus

import structlog

from shadowproxy.store.pairs import SharedPairs
from shadowproxy.types import RouteMatch, RouteSpec, Side

CORRELATION_FILE = "correlation.jsonl"
DEFAULT_MAX_ENTRIES = 100_000
DEFAULT_TTL_S = 7 * 24 * 3600.0
MAX_FLOWS = 10_000  # ids a FlowSet keeps
POLL_S = 0.05  # how often a shadow waiting for another replica's create looks again

log = structlog.get_logger(__name__)


class CorrelationMap:
    def __init__(
        self,
        state_dir: Path | None = None,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        ttl_s: float = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._max = max_entries
        self._ttl = ttl_s
        self._clock = clock
        self._pairs: OrderedDict[str, tuple[str, float]] = OrderedDict()  # legacy -> (app, at)
        self._by_app: dict[str, str] = {}  # app -> legacy
        self._creating: set[asyncio.Future[None]] = set()
        self._members: dict[asyncio.Future[None], str] = {}  # a create's name in the store
        self._shared: SharedPairs | None = None
        self._sampled_out = FlowSet()  # flows whose create was sampled out (their ids)
        self._file: IO[str] | None = None
        if state_dir is not None:
            path = state_dir / CORRELATION_FILE
            self._load(path)
            self._file = _compact(path, self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)

    @property
    def ttl_s(self) -> float:
        return self._ttl

    def share(self, shared: SharedPairs) -> None:
        """Write every pair learned here to the store (and learn theirs through `remote`)."""
        self._shared = shared

    def mark_sampled_out(self, flow: str) -> None:
        """A flow whose create was sampled out: its later requests are sampled out too, on
        every replica (the store keeps the mark as long as a pair)."""
        self._sampled_out.add(flow)
        if self._shared is not None:
            self._shared.put_sampled_out(flow)

    @property
    def has_sampled_out(self) -> bool:
        """Whether any flow is marked sampled out (none while every rate has been 1)."""
        return len(self._sampled_out) > 0

    def is_sampled_out(self, flow: str) -> bool:
        return flow in self._sampled_out

    def remote(self, legacy_id: str, app_id: str, at: float) -> None:
        """A pair another replica learned (announced by the store)."""
        if self._clock() - at <= self._ttl:
            self._insert(legacy_id, app_id, at)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    # ------------------------------------------------------------------ learning

    def learn(self, legacy_id: str, app_id: str) -> None:
        at = self._clock()
        self._insert(legacy_id, app_id, at)
        if self._file is not None:
            self._file.write(json.dumps({"legacy": legacy_id, "app": app_id, "at": at}) + "\n")
            self._file.flush()
        if self._shared is not None:
            self._shared.put(legacy_id, app_id, at)

    def begin_create(self) -> asyncio.Future[None]:
        """Mark a create exchange in flight: lookups of unknown ids wait for it to finish."""
        token: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._creating.add(token)
        if self._shared is not None:
            self._members[token] = self._shared.begin_create()
        return token

    def end_create(self, token: asyncio.Future[None]) -> None:
        self._creating.discard(token)
        member = self._members.pop(token, None)
        if member is not None and self._shared is not None:
            self._shared.end_create(member)
        if not token.done():
            token.set_result(None)

    # ------------------------------------------------------------------ lookup

    def twin(self, id_: str, side: Side) -> str | None:
        """The id `side` knows for the entity the client calls `id_`; None when not correlated."""
        legacy = self.canonical(id_)
        if legacy is None:
            return None
        return legacy if side is Side.LEGACY else self._pairs[legacy][0]

    def canonical(self, id_: str) -> str | None:
        """The legacy id of the pair `id_` (either side's id) belongs to; refreshes its LRU slot."""
        legacy = id_ if id_ in self._pairs else self._by_app.get(id_)
        if legacy is None:
            return None
        _, at = self._pairs[legacy]
        if self._clock() - at > self._ttl:
            self._remove(legacy)
            return None
        self._pairs.move_to_end(legacy)
        return legacy

    async def resolve(self, id_: str, side: Side, *, timeout_s: float) -> str | None:
        """Like `twin`, but waits (bounded) while create exchanges that may have minted it run.

        Only creates already in flight when the lookup starts can have minted an id the client
        holds (it got the id from an answer): later ones are not waited for, or on a busy proxy
        there is always a create in flight and every uncorrelated id waited the whole timeout,
        holding a shadow slot.
        """
        if self._shared is not None and self.twin(id_, side) is None:
            return await self._resolve_shared(self._shared, id_, side, timeout_s=timeout_s)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        earlier = set(self._creating)
        while True:
            found = self.twin(id_, side)
            earlier = {token for token in earlier if not token.done()}
            remaining = deadline - loop.time()
            if found is not None or not earlier or remaining <= 0:
                return found
            await asyncio.wait(earlier, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)

    async def _resolve_shared(
        self, shared: SharedPairs, id_: str, side: Side, *, timeout_s: float
    ) -> str | None:
        """`resolve` across replicas: the store's pairs, and its creates in flight anywhere.

        Raises StoreUnavailable when the store does not answer (this map had no twin)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        elsewhere = await shared.creating()
        while True:
            found = self.twin(id_, side)
            if found is not None:
                return found
            pair, out = await shared.get(id_)
            if pair is not None:
                self._insert(*pair, self._clock())
                return self.twin(id_, side)
            if out:  # its create was sampled out on another replica
                self._sampled_out.add(id_)
                return None
            remaining = deadline - loop.time()
            if not elsewhere or remaining <= 0:  # none in flight when the pair was looked for
                return None
            await asyncio.sleep(min(POLL_S, remaining))
            # a create seen ending now may have stored its pair after the look above (a pair
            # and its create's end go in one queue, in order): one more look decides
            elsewhere = await shared.creating(elsewhere)

    # ------------------------------------------------------------------ request targets

    def key(self, match: RouteMatch, raw_path_qs: str) -> str | None:
        """The id the request carries, in legacy terms when it is correlated (sampling, logs)."""
        held = id_in_request(match.spec, match.params, raw_path_qs)
        return None if held is None else self.canonical(held) or held

    def target(self, match: RouteMatch, raw_path_qs: str, side: Side) -> str:
        """The request target `side` must get, for the authoritative call: never waits.

        The client may hold an id the other side minted (it started the task before a flag
        flip): that id is swapped for its twin, so a rollback is transparent to an open
        dashboard. An id the map does not know goes as sent: it is `side`'s own, or nobody's.
        """
        held = id_in_request(match.spec, match.params, raw_path_qs)
        twin = None if held is None else self.twin(held, side)
        if held is None or twin is None:
            return raw_path_qs
        return rewrite_id(match.spec, raw_path_qs, held, twin)

    async def shadow_target(
        self, match: RouteMatch, raw_path_qs: str, side: Side, *, timeout_s: float
    ) -> str | None:
        """The request target for the shadow call, or None when its id has no twin.

        Waits (bounded) while create exchanges that may mint the twin are in flight; with no
        twin there is nothing to compare (`uncorrelated`), since the shadow side would only
        answer 404 for an id it never minted.
        """
        held = id_in_request(match.spec, match.params, raw_path_qs)
        if held is None:
            return raw_path_qs
        twin = await self.resolve(held, side, timeout_s=timeout_s)
        return None if twin is None else rewrite_id(match.spec, raw_path_qs, held, twin)

    @property
    def aliases(self) -> AppAliases:
        return AppAliases(self._by_app)

    # ------------------------------------------------------------------ internals

    def _insert(self, legacy_id: str, app_id: str, at: float) -> None:
        for stale in (legacy_id, self._by_app.get(app_id)):
            if stale is not None and stale in self._pairs:
                self._remove(stale)
        self._pairs[legacy_id] = (app_id, at)
        self._by_app[app_id] = legacy_id
        while len(self._pairs) > self._max:
            self._remove(next(iter(self._pairs)))

    def _remove(self, legacy_id: str) -> None:
        app_id, _ = self._pairs.pop(legacy_id)
        if self._by_app.get(app_id) == legacy_id:
            del self._by_app[app_id]

    def _load(self, path: Path) -> None:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return
        now, skipped = self._clock(), 0
        for line in lines:
            try:
                record = json.loads(line)
                legacy_id, app_id, at = (
                    str(record["legacy"]),
                    str(record["app"]),
                    float(record["at"]),
                )
            except (ValueError, KeyError, TypeError):
                skipped += 1  # a torn last line after a crash is expected; anything else is logged
                continue
            if now - at <= self._ttl:
                self._insert(legacy_id, app_id, at)
        if skipped:
            log.warning("correlation_lines_skipped", path=str(path), count=skipped)
        if self._pairs:
            log.info("correlation_restored", path=str(path), pairs=len(self._pairs))


class FlowSet:
    """A bounded set of flow ids (the newest `MAX_FLOWS`), each kept as long as a pair is."""

    def __init__(
        self, ttl_s: float = DEFAULT_TTL_S, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl_s
        self._clock = clock
        self._ids: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, flow: str) -> None:
        self._ids[flow] = self._clock()
        self._ids.move_to_end(flow)
        while len(self._ids) > MAX_FLOWS:
            self._ids.popitem(last=False)

    def __contains__(self, flow: object) -> bool:
        if not isinstance(flow, str) or (at := self._ids.get(flow)) is None:
            return False
        if self._clock() - at > self._ttl:
            del self._ids[flow]
            return False
        return True


class AppAliases:
    """The engine's read view (IdAliases): app id -> legacy id, without touching LRU order."""

    __slots__ = ("_by_app",)

    def __init__(self, by_app: Mapping[str, str]) -> None:
        self._by_app = by_app  # the live dict: pairs learned later are visible

    def __getitem__(self, key: str, /) -> str:
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def __contains__(self, key: object, /) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def get(self, key: str, default: str | None = None, /) -> str | None:
        return self._by_app.get(key, default)


def _compact(path: Path, pairs: OrderedDict[str, tuple[str, float]]) -> IO[str]:
    """Rewrite the log with only live pairs (oldest first), then reopen it for appending."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        for legacy_id, (app_id, at) in pairs.items():
            out.write(json.dumps({"legacy": legacy_id, "app": app_id, "at": at}) + "\n")
    os.replace(tmp, path)
    return path.open("a", encoding="utf-8")


# ---------------------------------------------------------------------- request rewriting


def id_in_request(spec: RouteSpec, params: Mapping[str, str], raw_path_qs: str) -> str | None:
    """The backend-minted id a request carries: a path parameter, else a query parameter."""
    name = spec.id_param
    if name is None:
        return None
    if name in params:
        return params[name] or None
    _, _, query = raw_path_qs.partition("?")
    for part in query.split("&"):
        key, sep, value = part.partition("=")
        if sep and unquote_plus(key) == name and value:
            return unquote_plus(value)
    return None


def rewrite_id(spec: RouteSpec, raw_path_qs: str, old: str, new: str) -> str:
    """The same raw request target with the id swapped; every other byte is left as sent."""
    if old == new or spec.id_param is None:
        return raw_path_qs
    path, sep, query = raw_path_qs.partition("?")
    placeholder = "{" + spec.id_param + "}"
    if placeholder in spec.template:
        segments = path.split("/")
        for index, segment in enumerate(segments):
            if unquote(segment) == old:
                segments[index] = quote(new, safe="")
                break
        return "/".join(segments) + sep + query
    parts = query.split("&")
    for index, part in enumerate(parts):
        key, eq, value = part.partition("=")
        if eq and unquote_plus(key) == spec.id_param and unquote_plus(value) == old:
            parts[index] = key + "=" + quote_plus(new)
    return path + sep + "&".join(parts)
