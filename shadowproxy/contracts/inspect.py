"""Both answers of one comparison against every configured consumer, and against learned drift.

`Inspector.answers` serves HTTP (one answer per side); `SocketChecks` serves a websocket
connection, checking every frame as it is recorded and handing what it found to the next
comparison the connection publishes. Only answers that are JSON and, for HTTP, 2xx are checked:
a status-code change is the semantic diff's finding, and an error body is no dashboard's view.

A break both sides have (same consumer, message, field and kind) is `shared`: the dashboard
breaks on either backend, so the flip changes nothing (the frontend bugs the reference lists).

Exemplars: findings that hurt the client while the app answers (a counted break of the app's
authoritative answer: what the `client_contract_broken` trigger acts on) are always written to the
diff log; any other finding (what legacy's answers already break, a break the shadow would cause,
drift) is written for the first comparison of its route that has it in each `EXEMPLAR_S`, so the
diff log holds an example of everything cutover readiness reports without a record per request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

import orjson

from shadowproxy.contracts.check import Plan, Violation
from shadowproxy.contracts.drift import Shape, ShapeLearner, flatten
from shadowproxy.contracts.model import Contract, Read, Surface
from shadowproxy.types import (
    BreakKind,
    ClientFindings,
    ContractBreak,
    DriftFinding,
    JSONValue,
    Observation,
    Role,
    Side,
)

EXEMPLAR_S = 60.0
MAX_EXEMPLAR_KEYS = 4096  # (route, finding) keys remembered; beyond, every finding is an exemplar
MEMO_SIZE = 512  # distinct answer bodies remembered, over every route
MEMO_MAX_BODY = 65_536  # bigger bodies are checked every time (and never kept)
MAX_BREAKS = 50  # per comparison: a whole list of broken rows is one finding per read anyway
MAX_DRIFT = 20


class Unchecked:
    """Stands for an answer that is not checked (not 2xx, not JSON, absent)."""


UNCHECKED = Unchecked()
Answer = JSONValue | Unchecked


def http_answer(observation: Observation | None) -> Answer:
    if observation is None or observation.status is None or not 200 <= observation.status < 300:
        return UNCHECKED
    try:
        value: JSONValue = orjson.loads(observation.body)
    except orjson.JSONDecodeError:
        return UNCHECKED
    return value


@dataclass(slots=True)
class _Memo:
    """What one distinct answer body gave: violations per consumer, and its flattened shape."""

    violations: tuple[tuple[str, tuple[Violation, ...]], ...]
    shape: Shape | None  # for drift (None: no learner)
    # an app body's drift findings, and how many legacy answers the learner had then: they
    # hold until it learns another one
    drift: tuple[DriftFinding, ...] = ()
    drift_at: int = -1


@dataclass(frozen=True, slots=True)
class _Readers:
    """Every configured consumer's reads of one surface, in one plan: a read two consumers share
    (both Monitors read `progress` and `stages[].status` alike) is evaluated once."""

    consumers: tuple[str, ...]
    plan: Plan
    owners: tuple[tuple[str, ...], ...]  # per read of the plan, the consumers that have it

    @classmethod
    def of(cls, reads: list[tuple[str, Read]]) -> _Readers:
        unique: dict[tuple[object, ...], tuple[Read, list[str]]] = {}
        for consumer, item in reads:
            unique.setdefault(_identity(item), (item, []))[1].append(consumer)
        consumers = tuple(dict.fromkeys(consumer for consumer, _ in reads))
        plan = Plan(item for item, _ in unique.values())
        return cls(consumers, plan, tuple(tuple(owners) for _, owners in unique.values()))

    def violations(self, document: JSONValue) -> tuple[tuple[str, tuple[Violation, ...]], ...]:
        per: dict[str, list[Violation]] = {consumer: [] for consumer in self.consumers}
        for index, violation in self.plan.found(document):
            for consumer in self.owners[index]:
                per[consumer].append(violation)
        return tuple((consumer, tuple(found)) for consumer, found in per.items())


def _identity(item: Read) -> tuple[object, ...]:
    return (
        item.name,
        item.scope,
        item.paths,
        item.required,
        item.types,
        item.enum,
        tuple(sorted(item.known.items())),
        item.when,
    )


class Inspector:
    def __init__(
        self,
        contracts: Sequence[Contract],
        learner: ShapeLearner | None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.contracts = tuple(contracts)
        self.learner = learner
        self._clock = clock
        self._exemplars: dict[tuple[str, ...], float] = {}
        self._memo: dict[MemoKey, _Memo] = {}
        self._pairs: dict[
            tuple[MemoKey | None, MemoKey | None, Side],
            tuple[ClientFindings | None, tuple[tuple[str, ...], ...]],
        ] = {}
        collected: dict[Surface, list[tuple[str, Read]]] = {}
        for contract in contracts:
            for surface, reads in contract.reads.items():
                collected.setdefault(surface, []).extend((contract.name, r) for r in reads)
        self._readers = {
            surface: _Readers.of(reads) for surface, reads in collected.items() if reads
        }

    def wants(self, method: str, route: str) -> bool:
        """Whether an HTTP exchange is worth parsing: a consumer reads it, or drift learns."""
        return self.learner is not None or Surface(method, route) in self._readers

    def answers(
        self, method: str, route: str, authoritative: Side, legacy: Answer, app: Answer
    ) -> ClientFindings | None:
        """The findings of one comparison of parsed answers; None when nothing was checked."""
        surface = Surface(method, route)
        found = _Found()
        for side, answer in ((Side.LEGACY, legacy), (Side.APP, app)):
            if not isinstance(answer, Unchecked):
                self.check(surface, _role(side, authoritative), answer, found)
        self.drift(surface, legacy, app, found)
        return self.exemplar(route, found.findings(), authoritative)

    def observations(
        self,
        method: str,
        route: str,
        authoritative: Side,
        legacy: Observation | None,
        app: Observation | None,
    ) -> ClientFindings | None:
        """`answers` for the two sides' raw answers, remembering what recent bodies gave.

        Dashboards re-read the same documents (a finished analysis, the task list every five
        seconds), so a body identical to one of the last `MEMO_SIZE` of its route is not parsed
        or checked again: its contract violations are the same, and its drift findings are those
        found when it was first seen. Drift therefore learns and judges distinct answers only.
        """
        surface = Surface(method, route)
        sides = ((Side.LEGACY, legacy), (Side.APP, app))
        memos = [self._remembered(surface, side, observation) for side, observation in sides]
        pair = (memos[0][0], memos[1][0], authoritative)
        known = self._pairs.get(pair) if None not in pair[:2] else None
        if known is None:
            found = _Found()
            for (side, _), (_, entry) in zip(sides, memos, strict=True):
                if entry is None:
                    continue
                role = _role(side, authoritative)
                for consumer, violations in entry.violations:
                    found.consumers.add(consumer)
                    for violation in violations:
                        found.add(consumer, role, violation, None)
            findings = found.findings()
            known = (findings, _exemplar_keys(route, findings))
            if None not in pair[:2]:
                _bounded_put(self._pairs, pair, known)
        findings, keys = known
        drift = self._drift_shapes(surface, memos[0][1], memos[1][1])
        if drift:
            findings = replace(findings or ClientFindings(consumers=()), drift=drift[:MAX_DRIFT])
            keys = (*keys, *((route, "drift", d.field, d.kind) for d in drift))
        return self._exemplar(findings, keys, authoritative)

    def _drift_shapes(
        self, surface: Surface, legacy: _Memo | None, app: _Memo | None
    ) -> tuple[DriftFinding, ...]:
        """Judge the app answer on what legacy taught so far, then learn the legacy answer."""
        if self.learner is None:
            return ()
        key = drift_key(surface)
        found: tuple[DriftFinding, ...] = ()
        if app is not None and app.shape is not None:
            learned = self.learner.learned(key)
            if app.drift_at != learned:
                app.drift = tuple(self.learner.check_shape(key, app.shape, surface.message))
                app.drift_at = learned
            found = app.drift
        if legacy is not None and legacy.shape is not None:
            self.learner.learn_shape(key, legacy.shape)
        return found

    def _remembered(
        self, surface: Surface, side: Side, observation: Observation | None
    ) -> tuple[MemoKey | None, _Memo | None]:
        if observation is None or observation.status is None:
            return None, None
        if not 200 <= observation.status < 300:
            return None, None
        body = observation.body
        key = (surface, side, hash(body), len(body)) if len(body) <= MEMO_MAX_BODY else None
        entry = self._memo.get(key) if key is not None else None
        if entry is not None:
            return key, entry
        document = http_answer(observation)
        if isinstance(document, Unchecked):
            entry = _Memo((), None)
        else:
            entry = _Memo(
                self.violations(surface, document),
                None if self.learner is None else flatten(document),
            )
        if key is not None:
            _bounded_put(self._memo, key, entry)
        return key, entry

    def exemplar(
        self, route: str, findings: ClientFindings | None, authoritative: Side
    ) -> ClientFindings | None:
        """Mark the findings the diff log must write (see the module docstring)."""
        return self._exemplar(findings, _exemplar_keys(route, findings), authoritative)

    def _exemplar(
        self,
        findings: ClientFindings | None,
        keys: tuple[tuple[str, ...], ...],
        authoritative: Side,
    ) -> ClientFindings | None:
        if findings is None:
            return None
        if findings.hurt and authoritative is Side.APP:  # the migration hurt the client
            return replace(findings, exemplar=True)
        now, fresh = self._clock(), False
        for key in keys:
            last = self._exemplars.get(key)
            if last is None or now - last >= EXEMPLAR_S:
                if last is None and len(self._exemplars) >= MAX_EXEMPLAR_KEYS:
                    self._exemplars.clear()  # bounded: forgetting only writes a few more records
                self._exemplars[key] = now
                fresh = True
        return replace(findings, exemplar=True) if fresh else findings

    def violations(
        self, surface: Surface, document: JSONValue
    ) -> tuple[tuple[str, tuple[Violation, ...]], ...]:
        """Per configured consumer that reads the surface, what the document fails."""
        readers = self._readers.get(surface)
        return () if readers is None else readers.violations(document)

    def check(self, surface: Surface, role: Role, document: JSONValue, found: _Found) -> None:
        for consumer, violations in self.violations(surface, document):
            found.consumers.add(consumer)
            for violation in violations:
                found.add(consumer, role, violation, surface.message)

    def drift(self, surface: Surface, legacy: Answer, app: Answer, found: _Found) -> None:
        """Judge the app answer on what legacy taught so far, then learn the legacy answer."""
        if self.learner is None:
            return
        key = drift_key(surface)
        if not isinstance(app, Unchecked):
            for finding in self.learner.check(key, app, surface.message)[:MAX_DRIFT]:
                found.drift_finding(finding)
        if not isinstance(legacy, Unchecked):
            self.learner.learn(key, legacy)


MemoKey = tuple[Surface, Side, int, int]
K = TypeVar("K")
V = TypeVar("V")


def _bounded_put(memo: dict[K, V], key: K, value: V) -> None:
    if len(memo) >= MEMO_SIZE:
        del memo[next(iter(memo))]  # the oldest entry
    memo[key] = value


def _exemplar_keys(route: str, findings: ClientFindings | None) -> tuple[tuple[str, ...], ...]:
    if findings is None:
        return ()
    breaks = [(route, b.consumer, b.side, b.field, b.kind) for b in findings.breaks]
    drift = [(route, "drift", d.field, d.kind) for d in findings.drift]
    return (*breaks, *drift)


def drift_key(surface: Surface) -> str:
    key = f"{surface.method} {surface.route}"
    return key if surface.message is None else f"{key} #{surface.message}"


class SocketChecks:
    """One websocket connection's findings, frame by frame, until the next comparison takes them."""

    def __init__(self, inspector: Inspector, route: str, authoritative: Side) -> None:
        self._inspector = inspector
        self._route = route
        self._authoritative = authoritative
        self._found = _Found()

    def frame(self, side: Side, document: JSONValue) -> None:
        kind = document.get("type") if isinstance(document, dict) else None
        if not isinstance(kind, str):
            return
        surface = Surface("GET", self._route, kind[:64])
        inspector = self._inspector
        inspector.check(surface, _role(side, self._authoritative), document, self._found)
        legacy, app = (document, UNCHECKED) if side is Side.LEGACY else (UNCHECKED, document)
        inspector.drift(surface, legacy, app, self._found)

    def take(self) -> ClientFindings | None:
        found, self._found = self._found, _Found()
        return self._inspector.exemplar(self._route, found.findings(), self._authoritative)


class _Found:
    """Findings as they are collected: one per (consumer, role, message, field, kind)."""

    def __init__(self) -> None:
        self.consumers: set[str] = set()
        self._breaks: dict[tuple[str, Role, str | None, str, BreakKind], Violation] = {}
        self._drift: dict[tuple[str | None, str, str], DriftFinding] = {}

    def add(self, consumer: str, role: Role, violation: Violation, message: str | None) -> None:
        key = (consumer, role, message, violation.field, violation.kind)
        if key not in self._breaks and len(self._breaks) < MAX_BREAKS:
            self._breaks[key] = violation

    def drift_finding(self, finding: DriftFinding) -> None:
        key = (finding.message, finding.field, finding.kind.value)
        if key not in self._drift and len(self._drift) >= MAX_DRIFT:
            return
        self._drift.setdefault(key, finding)

    def findings(self) -> ClientFindings | None:
        if not self.consumers and not self._drift:
            return None
        breaks = self._breaks
        return ClientFindings(
            consumers=tuple(sorted(self.consumers)),
            breaks=tuple(
                ContractBreak(
                    consumer,
                    role,
                    name,
                    kind,
                    violation.expected,
                    violation.got,
                    message,
                    (consumer, AUTH_OTHER[role], message, name, kind) in breaks,  # shared
                    violation.known,
                )
                for (consumer, role, message, name, kind), violation in breaks.items()
            ),
            drift=tuple(self._drift.values()),
        )


AUTH_OTHER = {Role.AUTHORITATIVE: Role.SHADOW, Role.SHADOW: Role.AUTHORITATIVE}


def _role(side: Side, authoritative: Side) -> Role:
    return Role.AUTHORITATIVE if side is authoritative else Role.SHADOW
