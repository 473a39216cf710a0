"""The proxy's vocabulary: value objects and the seams between its parts.

Everything here is pure (no I/O, no aiohttp) so the diff core, the network layer and the
websocket layer can agree on shapes without importing each other. Words follow docs/architecture.md:
side, authoritative, shadow, route group, observation, comparison, outcome, difference,
profile, correlation, trigger.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple, Protocol, TypeAlias

JSONValue: TypeAlias = bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None
Headers: TypeAlias = tuple[tuple[str, str], ...]

_INDEX = re.compile(r"\[[^\]]*\]")


def field_family(field: str) -> str:
    """A field path with its list indexes folded: `tasks[AAPL_1].decision` -> `tasks[].decision`.

    What metrics label and `shadowproxy diffs` group by, so one family is one row however many
    elements differ; the same spelling in Prometheus, in the alerts and in the terminal.
    """
    return _INDEX.sub("[]", field)


class Side(StrEnum):
    LEGACY = "legacy"
    APP = "app"

    @property
    def other(self) -> Side:
        return Side.APP if self is Side.LEGACY else Side.LEGACY

    @classmethod
    def parse(cls, text: str, *, name: str = "side") -> Side:
        value = text.strip().lower()
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"{name} must be 'legacy' or 'app', got {text!r}") from None


class Role(StrEnum):
    AUTHORITATIVE = "authoritative"
    SHADOW = "shadow"


class RouteGroup(StrEnum):
    ANALYSIS = "analysis"
    REPORTS = "reports"
    PORTFOLIO = "portfolio"
    WS_ANALYSIS = "ws_analysis"
    WS_ORCHESTRATOR = "ws_orchestrator"
    SYSTEM = "system"


class Outcome(StrEnum):
    MATCH = "match"
    MISMATCH = "mismatch"
    INFLIGHT_SKEW = "inflight_skew"
    SHADOW_ERROR = "shadow_error"
    AUTHORITATIVE_ERROR = "authoritative_error"
    BOTH_ERROR = "both_error"
    SKIPPED = "skipped"
    # every remaining difference is listed as a known, accepted difference (config)
    ACCEPTED = "accepted"
    # every remaining difference is on a field the legacy side differs on with itself (diff.noise)
    NOISE = "noise"


class DiffKind(StrEnum):
    CHANGED = "changed"
    MISSING = "missing"  # present on legacy, absent on app
    EXTRA = "extra"  # absent on legacy, present on app
    TYPE_CHANGED = "type_changed"
    REORDERED = "reordered"


class SkipReason(StrEnum):
    SHADOW_OFF = "shadow_off"
    SAMPLED_OUT = "sampled_out"
    QUEUE_FULL = "queue_full"
    BODY_TOO_LARGE = "body_too_large"
    SIDE_EFFECT_POLICY = "side_effect_policy"
    UNCORRELATED = "uncorrelated"
    NOT_COMPARABLE = "not_comparable"  # e.g. PDF bytes, streaming bodies
    CLIENT_DISCONNECTED = "client_disconnected"
    FRAMES_DROPPED = "frames_dropped"  # a websocket comparison buffer overflowed
    # a state-changing request the proxy could not send to the shadow (slots and write reserve
    # full): the sides' state now differs by the proxy's doing (http/desync.py)
    WRITE_NOT_SHADOWED = "write_not_shadowed"
    # a comparison that differs only where such a request left the sides apart
    STATE_DIVERGED = "state_diverged"
    # the shadow needed a twin this replica's map lacks and the shared store did not answer
    STORE_UNAVAILABLE = "store_unavailable"


# Skips decided before any shadow call: counted as skips, never as comparisons (publish.py).
UNSHADOWED = frozenset(
    {
        SkipReason.SHADOW_OFF,
        SkipReason.SAMPLED_OUT,
        SkipReason.QUEUE_FULL,
        SkipReason.SIDE_EFFECT_POLICY,
    }
)


class BreakKind(StrEnum):
    """How an answer fails a consumer contract (or, for drift, the shape learned from legacy)."""

    MISSING = "missing"  # a required path is absent or null
    TYPE_CHANGED = "type_changed"  # the value is not of a type the consumer assumes
    UNKNOWN_VALUE = "unknown_value"  # an enum value the consumer does not understand


class ExchangeKind(StrEnum):
    HTTP = "http"
    WS = "ws"


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """One route of the route table: how it is grouped, shadowed and compared.

    `template` is the metric/log label (never a raw path). `profile` names the diff profile
    the engine applies. `id_param` names the path parameter that carries an id minted by a
    backend (rewritten through the correlation map); `creates_id` names the JSON key in the
    response body of a route that mints such an id (learned into the correlation map).
    """

    group: RouteGroup
    template: str
    methods: frozenset[str]
    profile: str
    mirror: bool = True
    id_param: str | None = None
    creates_id: str | None = None
    websocket: bool = False


@dataclass(frozen=True, slots=True)
class RouteMatch:
    spec: RouteSpec
    params: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Observation:
    """One side's answer: status, headers and body bytes, or a transport error."""

    side: Side
    status: int | None
    headers: Headers = ()
    body: bytes = b""
    latency_s: float = 0.0
    error: str | None = None  # transport failure ("timeout", "connection refused"), not HTTP

    @property
    def failed(self) -> bool:
        """A transport failure or a 5xx: the side could not give an answer."""
        return self.error is not None or self.status is None or self.status >= 500

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None


@dataclass(frozen=True, slots=True)
class Exchange:
    """What the client asked, as far as a comparison needs to know."""

    comparison_id: str
    request_id: str
    kind: ExchangeKind
    route_group: RouteGroup
    route: str  # the template, e.g. /api/analysis/status/{task_id}
    method: str
    path: str  # raw path + query, as the client sent it (redacted before logging)
    authoritative: Side
    profile: str
    flags_version: int = 0  # the flags' version when the request arrived (which flip it saw)
    trace: Trace | None = None  # W3C trace context: the client's trace, a span per side


@dataclass(frozen=True, slots=True)
class Trace:
    """The W3C trace context of one exchange: the trace the client's `traceparent` names (or
    one the proxy started), and the child span each side's call is sent as."""

    trace_id: str  # 32 lower-case hex digits
    flags: str  # 2 hex digits, the client's (sampled `01` when the proxy started the trace)
    legacy_span: str  # 16 hex digits each
    app_span: str

    def span(self, side: Side) -> str:
        return self.legacy_span if side is Side.LEGACY else self.app_span

    def traceparent(self, side: Side) -> str:
        return f"00-{self.trace_id}-{self.span(side)}-{self.flags}"


_PLAIN_KEY = re.compile(r'[^.\[\]"]+')


def child_path(parent: str, key: str | int) -> str:
    """The field path of `key` (an object member or an array index) under `parent`.

    Members are dotted (`result.decision`, `it's`, `é`); a key that is empty or holds a dot,
    bracket or double quote is bracketed as a JSON string (`["600519.SS"]`, `["a[0]"]`) so that
    every key has a path of its own; indices are `[i]`.
    """
    if isinstance(key, int):
        return f"{parent}[{key}]"
    if _PLAIN_KEY.fullmatch(key):
        return f"{parent}.{key}" if parent else key
    quoted = key.replace("\\", "\\\\").replace('"', '\\"')
    return f'{parent}["{quoted}"]'


@dataclass(frozen=True, slots=True)
class Difference:
    field: str  # dotted path in the canonical view (see child_path), e.g. result.decision
    kind: DiffKind
    legacy: JSONValue = None
    app: JSONValue = None
    # set on an accepted difference (the known difference's reason) or a noise one (its rate)
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class AcceptedDifference:
    """A configured, known difference: (route, field) with the reason it is accepted."""

    route: str  # template, or "*" for every route
    field: str
    reason: str
    expires: str | None = None  # ISO date; after it the difference counts as a mismatch again
    owner: str | None = None  # who answers for it (a person or a team), shown when it expires
    kinds: frozenset[str] = frozenset()  # DiffKind values it accepts; empty: every kind
    # an acceptance made at runtime through the admin API (`diffs accept`): its id, who, when
    accepted_by: str | None = None
    accepted_at: str | None = None
    signature: str | None = None  # the diff-log signature it was accepted from, if any


@dataclass(frozen=True, slots=True)
class SentRequest:
    """What the shadow was sent, minus what the proxy adds per hop (forwarding headers, the
    request id, the trace span): kept on a comparison so its record can be replayed."""

    headers: Headers
    body: bytes | None


@dataclass(frozen=True, slots=True)
class Comparison:
    exchange: Exchange
    outcome: Outcome
    legacy: Observation | None = None
    app: Observation | None = None
    differences: tuple[Difference, ...] = ()
    # full-body structural report for bodies that share a shape: informative, never an outcome
    secondary: tuple[Difference, ...] = ()
    accepted: tuple[Difference, ...] = ()
    # differences on fields measured as noisy (diff.noise), each with its measured rate as reason
    noise: tuple[Difference, ...] = ()
    reason: str | None = None  # skip reason, error summary, or why it is inflight_skew
    task_id: str | None = None
    ticker: str | None = None
    date: str | None = None
    frames: Mapping[str, int] = field(default_factory=dict)  # ws only: frames per side
    client: ClientFindings | None = None  # consumer contracts and wire drift, when checked
    request: SentRequest | None = None  # HTTP comparisons: the request, for fixtures and replay
    # (legacy, app): whether each body's document is terminal, when two bodies were projected
    terminal: tuple[bool, bool] | None = None


class ContractBreak(NamedTuple):
    """One consumer contract one side's answer does not satisfy (a tuple: cheap to build, and
    every status read before a cutover has several).

    `side` is the role (authoritative: what the client got; shadow: what it would get after a
    flip). `field` is the contract's path (arrays as `[]`, the first alternative of a fallback).
    A `shared` break is one the other side's answer has too (same consumer, field and kind): the
    client breaks with either backend, so it is not the migration's doing. A `known` break is a
    frontend defect the contract documents; both are reported and never acted on.
    """

    consumer: str
    side: Role
    field: str
    kind: BreakKind
    expected: str
    got: JSONValue
    message: str | None = None  # websocket: the message `type` the read applies to
    shared: bool = False
    known: str | None = None

    @property
    def counts(self) -> bool:
        """Whether it is a difference the flip makes (metrics, trigger, cutover readiness)."""
        return not self.shared and self.known is None


@dataclass(frozen=True, slots=True)
class DriftFinding:
    """An app answer lacks a path (or changes its type) legacy's answers carry at least 99%."""

    field: str  # the learned path, arrays folded as `[*]`
    kind: BreakKind  # MISSING or TYPE_CHANGED
    legacy_presence: float  # share of legacy's answers (whose parent was present) that had it
    expected: str  # the JSON types legacy sent there, e.g. "string|null"
    got: str | None  # the app's JSON type there, None when absent
    message: str | None = None


@dataclass(frozen=True, slots=True)
class ClientFindings:
    """What the client would see: the consumers that read this route, their breaks, drift."""

    consumers: tuple[str, ...]  # every configured consumer that reads this route or message
    breaks: tuple[ContractBreak, ...] = ()
    drift: tuple[DriftFinding, ...] = ()
    # the diff log writes this comparison whatever its outcome: the client was hurt, or it is the
    # first comparison of its route with one of these findings for a while (the exemplar)
    exemplar: bool = False

    def broken(self, consumer: str, side: Role) -> bool:
        return any(b.counts and b.consumer == consumer and b.side is side for b in self.breaks)

    @property
    def hurt(self) -> tuple[ContractBreak, ...]:
        """Counted breaks of the authoritative answer: the client was hurt."""
        return tuple(b for b in self.breaks if b.counts and b.side is Role.AUTHORITATIVE)


class IdAliases(Protocol):
    """Read view of the correlation map used while diffing: app-side id -> legacy-side id."""

    def __getitem__(self, key: str, /) -> str: ...
    def __contains__(self, key: object, /) -> bool: ...
    def get(self, key: str, default: str | None = None, /) -> str | None: ...


class Comparator(Protocol):
    """The diff engine's entry point (shadowproxy.diff.engine.compare)."""

    def __call__(
        self,
        exchange: Exchange,
        legacy: Observation,
        app: Observation,
        ids: IdAliases,
    ) -> Comparison: ...


@dataclass(frozen=True, slots=True)
class DiffLogStats:
    """What became of the records a diff sink was given (Prometheus reads it at each scrape)."""

    written: int = 0
    dropped: int = 0  # the writer's queue was full, or the record came after aclose()
    failed: int = 0  # a record could not be built or rendered
    write_errors: int = 0  # records the disk refused (full, unwritable, a file-size limit)


class DiffSink(Protocol):
    """Where comparisons go (diff log). publish() never blocks the event loop and never raises."""

    def publish(self, comparison: Comparison) -> None: ...

    @property
    def stats(self) -> DiffLogStats: ...

    async def aclose(self) -> None: ...
