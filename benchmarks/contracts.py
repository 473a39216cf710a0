"""The consumer contracts' cost per status document, and the drift learner's per comparison.

Contracts: `Inspector.answers` without drift (learner None) on the status route, with the two
built-in contracts (`legacy-dashboard`, `v1alpha1-dashboard`), for the legacy document alone,
the app (v1alpha1) document alone and both sides of one comparison; parsing is not included
(the proxy parses each body once, for the diff). Drift: one comparison's `ShapeLearner` work
(check the app answer, then learn the legacy one, as the inspector does) with default settings,
after a warm-up past `min_responses`, so learning is sampled one answer in `learn_every`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.documents import app_status, legacy_status
from shadowproxy.contracts.builtin import BUILTIN_CONTRACTS
from shadowproxy.contracts.drift import ShapeLearner
from shadowproxy.contracts.inspect import UNCHECKED, Inspector, drift_key
from shadowproxy.contracts.model import Surface
from shadowproxy.types import JSONValue, Side

ROUTE = "/api/analysis/status/{task_id}"
TARGET_US = 30.0  # per status document, both built-in contracts, one core


@dataclass(frozen=True, slots=True)
class ContractCost:
    legacy_document_us: float  # the legacy status document against both contracts
    app_document_us: float  # the app's v1alpha1 status document against both contracts
    both_documents_us: float  # one comparison: both sides against both contracts
    breaks: int  # what that comparison finds (each dashboard breaks on the other's shape)
    drift_us: float  # one comparison's drift work, amortized: check app + learn legacy
    drift_check_us: float
    drift_learn_us: float
    drift_findings: int  # what the drift check of the app document finds
    target_us: float = TARGET_US


def measure(*, iterations: int) -> ContractCost:
    legacy: JSONValue = legacy_status()
    app: JSONValue = app_status()
    inspector = Inspector(tuple(BUILTIN_CONTRACTS.values()), None)

    def both() -> object:
        return inspector.answers("GET", ROUTE, Side.LEGACY, legacy, app)

    findings = inspector.answers("GET", ROUTE, Side.LEGACY, legacy, app)
    breaks = 0 if findings is None else len(findings.breaks)

    learner = ShapeLearner()
    key = drift_key(Surface("GET", ROUTE))
    warm_up = learner.settings.min_responses + 10 * learner.settings.learn_every
    for _ in range(warm_up):
        learner.learn(key, legacy)

    def comparison() -> None:
        learner.check(key, app)
        learner.learn(key, legacy)

    return ContractCost(
        legacy_document_us=_per_call_us(
            lambda: inspector.answers("GET", ROUTE, Side.LEGACY, legacy, UNCHECKED), iterations
        ),
        app_document_us=_per_call_us(
            lambda: inspector.answers("GET", ROUTE, Side.LEGACY, UNCHECKED, app), iterations
        ),
        both_documents_us=_per_call_us(both, iterations),
        breaks=breaks,
        drift_us=_per_call_us(comparison, iterations),
        drift_check_us=_per_call_us(lambda: learner.check(key, app), iterations),
        drift_learn_us=_per_call_us(lambda: learner.learn(key, legacy), iterations),
        drift_findings=len(learner.check(key, app)),
    )


def _per_call_us(call: Callable[[], object], iterations: int) -> float:
    """Mean microseconds per call over `iterations` calls, after up to 100 warm-up calls."""
    for _ in range(min(iterations, 100)):
        call()
    started = time.perf_counter()
    for _ in range(iterations):
        call()
    return (time.perf_counter() - started) / iterations * 1e6
