"""Metric labels stay bounded whatever the traffic sends."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from shadowproxy.metrics import MAX_FIELD_LABELS, ProxyMetrics
from shadowproxy.types import Comparison, Difference, DiffKind, Outcome, RouteGroup, Side

from .factories import exchange, metric

EXCHANGE = exchange(route_group=RouteGroup.PORTFOLIO, route="/x", profile="p")


def test_unknown_methods_fold_to_other() -> None:
    registry = CollectorRegistry()
    metrics = ProxyMetrics(registry)
    metrics.request(RouteGroup.SYSTEM, "/x", "BREW", Side.LEGACY, 200)
    metrics.request(RouteGroup.SYSTEM, "/x", "GET", Side.LEGACY, 200)
    labels = {"route_group": "system", "route": "/x", "authoritative": "legacy", "code": "200"}
    assert metric(registry, "shadowproxy_requests_total", method="other", **labels) == 1
    assert metric(registry, "shadowproxy_requests_total", method="GET", **labels) == 1


def test_field_labels_fold_indexes_and_are_capped() -> None:
    registry = CollectorRegistry()
    metrics = ProxyMetrics(registry)
    differences = tuple(
        Difference(f"signals[T{n}].rating", DiffKind.CHANGED, "BUY", "SELL") for n in range(3)
    ) + tuple(Difference(f"field_{n}", DiffKind.MISSING) for n in range(MAX_FIELD_LABELS + 5))
    metrics.comparison(Comparison(EXCHANGE, Outcome.MISMATCH, differences=differences))
    name = "shadowproxy_field_mismatches_total"
    assert metric(registry, name, route_group="portfolio", field="signals[].rating") == 3
    assert metric(registry, name, route_group="portfolio", field="other") == 6
    assert (
        metric(
            registry,
            "shadowproxy_comparisons_total",
            route_group="portfolio",
            route="/x",
            outcome="mismatch",
        )
        == 1
    )


def test_skipped_comparisons_also_count_as_skipped_shadows() -> None:
    registry = CollectorRegistry()
    metrics = ProxyMetrics(registry)
    metrics.comparison(Comparison(EXCHANGE, Outcome.SKIPPED, reason="uncorrelated"))
    assert (
        metric(
            registry,
            "shadowproxy_shadow_skipped_total",
            route_group="portfolio",
            reason="uncorrelated",
        )
        == 1
    )


def test_known_differences_are_counted_by_state() -> None:
    registry = CollectorRegistry()
    metrics = ProxyMetrics(registry)
    metrics.watch_known(lambda: (3, 1))
    assert registry.get_sample_value("shadowproxy_known_differences", {"state": "active"}) == 3
    assert registry.get_sample_value("shadowproxy_known_differences", {"state": "expired"}) == 1
