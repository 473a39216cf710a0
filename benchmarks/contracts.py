"""The consumer contracts' cost per status document, and the drift learner's per comparison.

Contracts, with the two built-in contracts (`legacy-dashboard`, `v1alpha1-dashboard`) on the
status route and no drift; parsing is not included (the proxy parses each body once, for the
diff):
- the check: one document (legacy's, then the app's v1alpha1 one) against both contracts —
  the figure with the 30 µs target;
- the findings of one comparison: both documents checked, and the breaks built, each marked
  authoritative or shadow, shared or not, as the diff log and the metrics receive them;
- a repeated comparison: the same two bodies again (a finished analysis re-read, the task list
  polled), which the inspector remembers instead of parsing and checking them again.
Drift: one comparison's `ShapeLearner` work (check the app answer, then learn the legacy one,
as the inspector does) with default settings, after a warm-up past `min_responses`, so learning
is sampled one answer in `learn_every`: for new answer bodies (flattened first) and for bodies
the inspector remembers (their flattened shapes kept).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from benchmarks.documents import app_status, legacy_status
from shadowproxy.contracts.builtin import BUILTIN_CONTRACTS
from shadowproxy.contracts.drift import ShapeLearner, flatten
from shadowproxy.contracts.inspect import Inspector, drift_key
from shadowproxy.contracts.model import Surface
from shadowproxy.types import JSONValue, Observation, Side

ROUTE = "/api/analysis/status/{task_id}"
TARGET_US = 30.0  # per status document, both built-in contracts, one core


@dataclass(frozen=True, slots=True)
class ContractCost:
    legacy_document_us: float  # the check: legacy's status document against both contracts
    app_document_us: float  # the check: the app's v1alpha1 status document against both
    both_documents_us: float  # one comparison's findings: both checked, breaks built
    repeated_comparison_us: float  # the same two answer bodies again (remembered)
    breaks: int  # what that comparison finds (each dashboard breaks on the other's shape)
    drift_us: float  # one comparison's drift work, amortized: check app + learn legacy
    drift_repeated_us: float  # the same for answer bodies the inspector remembers (no flatten)
    drift_check_us: float
    drift_learn_us: float
    drift_findings: int  # what the drift check of the app document finds
    target_us: float = TARGET_US


def measure(*, iterations: int) -> ContractCost:
    legacy: JSONValue = legacy_status()
    app: JSONValue = app_status()
    surface = Surface("GET", ROUTE)
    inspector = Inspector(tuple(BUILTIN_CONTRACTS.values()), None)
    findings = inspector.answers("GET", ROUTE, Side.LEGACY, legacy, app)
    breaks = 0 if findings is None else len(findings.breaks)
    answers = [
        Observation(side, 200, (("Content-Type", "application/json"),), orjson.dumps(document))
        for side, document in ((Side.LEGACY, legacy), (Side.APP, app))
    ]

    learner = ShapeLearner()
    key = drift_key(surface)
    warm_up = learner.settings.min_responses + 10 * learner.settings.learn_every
    for _ in range(warm_up):
        learner.learn(key, legacy)

    def comparison() -> None:
        learner.check(key, app)
        learner.learn(key, legacy)

    legacy_shape, app_shape = flatten(legacy), flatten(app)

    def repeated() -> None:
        learner.check_shape(key, app_shape)
        learner.learn_shape(key, legacy_shape)

    return ContractCost(
        legacy_document_us=_per_call_us(lambda: inspector.violations(surface, legacy), iterations),
        app_document_us=_per_call_us(lambda: inspector.violations(surface, app), iterations),
        both_documents_us=_per_call_us(
            lambda: inspector.answers("GET", ROUTE, Side.LEGACY, legacy, app), iterations
        ),
        repeated_comparison_us=_per_call_us(
            lambda: inspector.observations("GET", ROUTE, Side.LEGACY, *answers), iterations
        ),
        breaks=breaks,
        drift_us=_per_call_us(comparison, iterations),
        drift_repeated_us=_per_call_us(repeated, iterations),
        drift_check_us=_per_call_us(lambda: learner.check(key, app), iterations),
        drift_learn_us=_per_call_us(lambda: learner.learn(key, legacy), iterations),
        drift_findings=len(learner.check(key, app)),
    )


def _per_call_us(call: Callable[[], object], iterations: int) -> float:
    """Best of five rounds: mean microseconds per call, after up to 100 warm-up calls.

    The best round is the one least disturbed by the rest of the machine, which is what a
    per-call cost on one core means.
    """
    for _ in range(min(iterations, 100)):
        call()
    rounds = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(max(iterations // 5, 1)):
            call()
        rounds.append((time.perf_counter() - started) / max(iterations // 5, 1) * 1e6)
    return min(rounds)
