"""Both answers of one comparison against every configured consumer, and against learned drift.

`Inspector.answers` serves HTTP (one answer per side); `SocketChecks` serves a websocket
connection, checking every frame as it is recorded and handing what it found to the next
comparison the connection publishes. Only answers that are JSON and, for HTTP, 2xx are checked:
a status-code change is the semantic diff's finding, and an error body is no dashboard's view.

A break both sides have (same consumer, message, field and kind) is `shared`: the dashboard
breaks on either backend, so the flip changes nothing (the frontend bugs the reference lists).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import orjson

from shadowproxy.contracts.check import Violation, violations
from shadowproxy.contracts.drift import ShapeLearner
from shadowproxy.contracts.model import Contract, Read, Surface
from shadowproxy.types import (
    ClientFindings,
    ContractBreak,
    DriftFinding,
    JSONValue,
    Observation,
    Role,
    Side,
)

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


@dataclass(frozen=True, slots=True)
class _Reader:
    consumer: str
    reads: tuple[Read, ...]


class Inspector:
    def __init__(self, contracts: Sequence[Contract], learner: ShapeLearner | None) -> None:
        self.contracts = tuple(contracts)
        self.learner = learner
        self._readers: dict[Surface, tuple[_Reader, ...]] = {}
        for contract in contracts:
            for surface, reads in contract.reads.items():
                if reads:
                    entry = _Reader(contract.name, reads)
                    self._readers[surface] = (*self._readers.get(surface, ()), entry)

    def wants(self, method: str, route: str) -> bool:
        """Whether an HTTP exchange is worth parsing: a consumer reads it, or drift learns."""
        return self.learner is not None or Surface(method, route) in self._readers

    def answers(
        self, method: str, route: str, authoritative: Side, legacy: Answer, app: Answer
    ) -> ClientFindings | None:
        """The findings of one HTTP comparison, or None when nothing was checked."""
        surface = Surface(method, route)
        found = _Found()
        for side, answer in ((Side.LEGACY, legacy), (Side.APP, app)):
            if not isinstance(answer, Unchecked):
                self.check(surface, _role(side, authoritative), answer, found)
        self.drift(surface, legacy, app, found)
        return found.findings()

    def check(self, surface: Surface, role: Role, document: JSONValue, found: _Found) -> None:
        for reader in self._readers.get(surface, ()):
            found.consumers.add(reader.consumer)
            for violation in violations(reader.reads, document):
                found.add(reader.consumer, role, violation, surface.message)

    def drift(self, surface: Surface, legacy: Answer, app: Answer, found: _Found) -> None:
        if self.learner is None:
            return
        key = drift_key(surface)  # judged on earlier answers, then this legacy answer is learned
        if not isinstance(app, Unchecked):
            for finding in self.learner.check(key, app, surface.message):
                found.drift_finding(finding)
        if not isinstance(legacy, Unchecked):
            self.learner.learn(key, legacy)


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
        return found.findings()


class _Found:
    """Findings as they are collected: one per (consumer, role, message, field, kind)."""

    def __init__(self) -> None:
        self.consumers: set[str] = set()
        self._breaks: dict[tuple[str, Role, str | None, str, str], ContractBreak] = {}
        self._drift: dict[tuple[str | None, str, str], DriftFinding] = {}

    def add(self, consumer: str, role: Role, violation: Violation, message: str | None) -> None:
        key = (consumer, role, message, violation.field, violation.kind.value)
        if key in self._breaks or len(self._breaks) >= MAX_BREAKS:
            return
        self._breaks[key] = ContractBreak(
            consumer=consumer,
            side=role,
            field=violation.field,
            kind=violation.kind,
            expected=violation.expected,
            got=violation.got,
            message=message,
            known=violation.known,
        )

    def drift_finding(self, finding: DriftFinding) -> None:
        key = (finding.message, finding.field, finding.kind.value)
        if key not in self._drift and len(self._drift) >= MAX_DRIFT:
            return
        self._drift.setdefault(key, finding)

    def findings(self) -> ClientFindings | None:
        if not self.consumers and not self._drift:
            return None
        return ClientFindings(
            consumers=tuple(sorted(self.consumers)),
            breaks=tuple(_shared(self._breaks)),
            drift=tuple(self._drift.values()),
        )


def _shared(
    breaks: dict[tuple[str, Role, str | None, str, str], ContractBreak],
) -> Iterable[ContractBreak]:
    for (consumer, role, message, name, kind), found in breaks.items():
        other = AUTH_OTHER[role]
        if (consumer, other, message, name, kind) in breaks:
            yield replace(found, shared=True)
        else:
            yield found


AUTH_OTHER = {Role.AUTHORITATIVE: Role.SHADOW, Role.SHADOW: Role.AUTHORITATIVE}


def _role(side: Side, authoritative: Side) -> Role:
    return Role.AUTHORITATIVE if side is authoritative else Role.SHADOW
