"""The diff engine's cost per status-document comparison, relative to parsing both bodies."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from benchmarks.documents import APP_ID, LEGACY_ID, app_status, legacy_status
from shadowproxy.correlation import AppAliases
from shadowproxy.diff.engine import DiffEngine
from shadowproxy.types import Exchange, ExchangeKind, Observation, RouteGroup, Side

JSON = (("Content-Type", "application/json"),)


@dataclass(frozen=True, slots=True)
class DiffCost:
    parse_us: float  # orjson.loads of both bodies
    key_fields_us: float  # the proxy's default for a match: parse, project, judge
    with_secondary_us: float  # the same plus the full-body deepdiff report
    outcome: str


def measure(*, iterations: int) -> DiffCost:
    legacy_body, app_body = orjson.dumps(legacy_status()), orjson.dumps(app_status())
    legacy = Observation(Side.LEGACY, 200, JSON, legacy_body)
    app = Observation(Side.APP, 200, JSON, app_body)
    exchange = Exchange(
        comparison_id="bench",
        request_id="bench",
        kind=ExchangeKind.HTTP,
        route_group=RouteGroup.ANALYSIS,
        route="/api/analysis/status/{task_id}",
        method="GET",
        path=f"/api/analysis/status/{LEGACY_ID}",
        authoritative=Side.LEGACY,
        profile="status_document",
    )
    full = DiffEngine()
    lean = DiffEngine(secondary_for=lambda _: False)
    aliases = AppAliases({APP_ID: LEGACY_ID})
    outcome = full(exchange, legacy, app, aliases).outcome.value

    def parse() -> None:
        orjson.loads(legacy_body)
        orjson.loads(app_body)

    return DiffCost(
        parse_us=_per_call_us(parse, iterations),
        key_fields_us=_per_call_us(lambda: lean(exchange, legacy, app, aliases), iterations),
        with_secondary_us=_per_call_us(lambda: full(exchange, legacy, app, aliases), iterations),
        outcome=outcome,
    )


def _per_call_us(call: Callable[[], object], iterations: int) -> float:
    for _ in range(min(iterations, 100)):
        call()
    started = time.perf_counter()
    for _ in range(iterations):
        call()
    return (time.perf_counter() - started) / iterations * 1e6
