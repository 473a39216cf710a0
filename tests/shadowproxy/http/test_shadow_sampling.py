"""Sampling per route group, decided once per flow: a sampled analysis is shadowed whole, a
sampled-out one not at all (never an `uncorrelated` skip), other groups at their own rate, and
the decision is the same in every process. Real proxy, fake backends on port 0."""

from __future__ import annotations

import subprocess
import sys

from shadowproxy.rollback.sampling import sampled
from shadowproxy.types import Outcome, Side

from ..factories import ProxyFactory

ANALYSES = 200
POLLS = 3


async def test_a_sampled_analysis_is_shadowed_whole_and_a_sampled_out_one_not_at_all(
    make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy(
        {"SHADOWPROXY_SAMPLE_RATE_ANALYSIS": "0.3", "SHADOWPROXY_SAMPLE_RATE_REPORTS": "1"}
    )
    legacy, app = proxy.legacy, proxy.app
    tasks = []
    for n in range(ANALYSES):
        start = await proxy.client.post(
            "/api/analysis/start", json={"ticker": "AAPL"}, headers={"X-Request-ID": f"start-{n}"}
        )
        tasks.append((await start.json())["task_id"])
    await proxy.wait_idle()
    shadowed_starts = sum(1 for seen in app.seen if seen.raw_path == "/api/analysis/start")
    for task in tasks:
        for _ in range(POLLS):
            assert (await proxy.client.get(f"/api/analysis/status/{task}")).status == 200
    for n in range(50):
        reports = await proxy.client.get("/api/reports/list", headers={"X-Request-ID": f"r-{n}"})
        assert reports.status == 200
    await proxy.wait_idle()

    assert 0.15 * ANALYSES < shadowed_starts < 0.45 * ANALYSES  # 0.3 of the flows, by hash
    polls = [seen.raw_path for seen in app.seen if seen.raw_path.startswith("/api/analysis/status")]
    assert len(polls) == POLLS * shadowed_starts  # every poll of a sampled flow, no other one
    assert all(path.split("/")[-1].startswith(Side.APP.value) for path in polls)  # rewritten
    assert sum(1 for seen in app.seen if seen.raw_path == "/api/reports/list") == 50
    assert len([s for s in legacy.seen if s.raw_path.startswith("/api/analysis/status")]) == (
        POLLS * ANALYSES
    )
    reasons = {c.reason for c in proxy.sink.comparisons if c.outcome is Outcome.SKIPPED}
    assert "uncorrelated" not in reasons
    assert "state_diverged" not in reasons
    sampled_out = ANALYSES - shadowed_starts
    assert proxy.metric(
        "shadowproxy_shadow_skipped_total", route_group="analysis", reason="sampled_out"
    ) == sampled_out * (1 + POLLS)


async def test_a_poll_sent_while_its_shadowed_start_is_still_in_flight_is_shadowed_too(
    make_proxy: ProxyFactory,
) -> None:
    """The flow is decided at its start; a poll the dashboard sends at once, before the shadow
    answered the start (so before the pair is known), follows that decision, not its id's hash."""
    proxy = await make_proxy({"SHADOWPROXY_SAMPLE_RATE_ANALYSIS": "0.3"})
    proxy.app.delays["/api/analysis/start"] = 0.1  # the shadow answers starts later
    for n in range(40):
        start = await proxy.client.post(
            "/api/analysis/start", json={}, headers={"X-Request-ID": f"start-{n}"}
        )
        task = (await start.json())["task_id"]
        assert (await proxy.client.get(f"/api/analysis/status/{task}")).status == 200
    await proxy.wait_idle()
    starts = [s for s in proxy.app.seen if s.raw_path == "/api/analysis/start"]
    polls = [s for s in proxy.app.seen if s.raw_path.startswith("/api/analysis/status/")]
    assert 0 < len(starts) < 40
    assert len(polls) == len(starts)  # before the fix: 7 shadowed starts, 0 shadowed polls
    reasons = {c.reason for c in proxy.sink.comparisons if c.outcome is Outcome.SKIPPED}
    assert "uncorrelated" not in reasons


async def test_a_sample_rate_changed_at_runtime_applies_to_new_flows_and_is_audited(
    make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy({"SHADOWPROXY_SAMPLE_RATE": "1"})
    kept = await (await proxy.client.post("/api/analysis/start", json={})).json()
    changed = await proxy.admin.put("/sampling/analysis", json={"rate": 0, "reason": "too chatty"})
    assert changed.status == 200
    groups = (await changed.json())["groups"]
    assert groups["analysis"] == {
        "rate": 0.0,
        "environment": 1.0,
        "source": "runtime",
        "reason": "too chatty",
        "at": groups["analysis"]["at"],
    }
    await proxy.client.post("/api/analysis/start", json={})  # a new flow: sampled out
    await proxy.client.get(f"/api/analysis/status/{kept['task_id']}")  # an old flow: still whole
    await proxy.wait_idle()
    app_paths = proxy.app.paths()
    assert app_paths.count("/api/analysis/start") == 1
    assert any(path.startswith("/api/analysis/status/") for path in app_paths)
    events = (await (await proxy.admin.get("/events")).json())["events"]
    assert events[-1]["action"] == "sample"
    assert events[-1]["change"] == [{"group": "analysis", "from": "1", "to": "0"}]

    assert (await proxy.admin.put("/sampling/analysis", json={"rate": 2})).status == 400
    assert (await proxy.admin.put("/sampling/nope", json={"rate": 0.5})).status == 400
    cleared = await (await proxy.admin.delete("/sampling")).json()
    assert cleared["groups"]["analysis"]["source"] == "environment"


def test_every_process_makes_the_same_decisions_for_the_same_flow_keys() -> None:
    keys = [f"task-{n}" for n in range(500)]
    here = "".join("1" if sampled(key, 0.3) else "0" for key in keys)
    program = (
        "from shadowproxy.rollback.sampling import sampled\n"
        f"print(''.join('1' if sampled(k, 0.3) else '0' for k in {keys!r}))"
    )
    for seed in ("0", "12345"):  # str hashing differs per process: the decision must not
        other = subprocess.run(
            [sys.executable, "-c", program],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed},
        ).stdout.strip()
        assert other == here
    assert 100 < here.count("1") < 200
