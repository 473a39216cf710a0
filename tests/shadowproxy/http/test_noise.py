"""The repeated-read sampler on its own: which authoritative answers it remembers (terminal,
200, tracked by path), that a write forgets them all, and that what it keeps is bounded in
answers and in bytes."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from shadowproxy.diff.engine import DiffEngine
from shadowproxy.diff.noise import NoiseTable
from shadowproxy.http import noise as noise_module
from shadowproxy.http.noise import NoiseSampler
from shadowproxy.metrics import ProxyMetrics
from shadowproxy.tasks import BackgroundTasks
from shadowproxy.types import Comparison, Outcome, RouteGroup, Side

from ..factories import aliases, exchange, metric, observation, proxy_settings

REPORT = "/api/reports/{ticker}/{date}"


def sampler(tmp_path: Path) -> tuple[NoiseSampler, CollectorRegistry]:
    settings = proxy_settings(
        "http://127.0.0.1:1", "http://127.0.0.1:2", tmp_path, {"SHADOWPROXY_NOISE_SAMPLE_RATE": "1"}
    )
    registry = CollectorRegistry()
    made = NoiseSampler(
        settings,
        table=NoiseTable(),
        engine=DiffEngine(),
        secondary=None,
        metrics=ProxyMetrics(registry),
        spawn=BackgroundTasks().spawn,
    )
    return made, registry


def read(noise: NoiseSampler, day: int, body: str = "x", *, terminal: bool = True) -> None:
    seen = exchange(
        route=REPORT,
        path=f"/api/reports/AAPL/2026-04-{day:02d}",
        route_group=RouteGroup.REPORTS,
        profile="report_document",
    )
    comparison = Comparison(seen, Outcome.MATCH, terminal=(terminal, terminal))
    noise.read(comparison, observation(Side.LEGACY, 200, {"report": body}), aliases())


def sampled(registry: CollectorRegistry) -> float:
    return metric(
        registry, "shadowproxy_noise_samples_total", route_group="reports", result="sampled"
    )


def test_a_repeat_of_a_terminal_answer_is_a_sample_and_a_running_one_is_not_kept(
    tmp_path: Path,
) -> None:
    noise, registry = sampler(tmp_path)
    read(noise, 1, terminal=False)
    read(noise, 1, terminal=False)
    assert noise.remembered[0] == 0
    read(noise, 1)
    read(noise, 1)  # byte-equal: a sample with no difference
    read(noise, 1, "y")  # a different body: compared, `report` differs
    assert sampled(registry) == 2
    assert [(f.field, f.aa_samples, f.aa_differed) for f in noise.table.fields()] == [
        ("report", 2, 1)
    ]


def test_a_state_changing_request_forgets_every_remembered_answer(tmp_path: Path) -> None:
    noise, registry = sampler(tmp_path)
    read(noise, 1)
    noise.changed_state()
    assert noise.remembered == (0, 0)
    read(noise, 1)
    assert sampled(registry) == 0


def test_what_is_remembered_is_bounded_in_answers_and_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(noise_module, "MAX_REMEMBERED", 50)
    monkeypatch.setattr(noise_module, "MAX_REMEMBERED_TOTAL", 20_000)
    noise, _ = sampler(tmp_path)
    for day in range(1, 31):
        read(noise, day, "x" * 10)
    assert noise.remembered[0] == 30
    for day in range(1, 31):
        read(noise, day, "z" * 2000)  # each about 2 KB: ten fit
    answers, kept = noise.remembered
    assert kept <= 20_000
    assert answers < 30
    read(noise, 30, "z" * 2000)  # the newest is still there: a repeat is a sample
    assert noise.remembered[1] == kept
