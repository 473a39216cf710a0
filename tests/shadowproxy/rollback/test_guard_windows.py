"""The window triggers in the guard: the app's error rate or parity crosses its threshold, and
the group goes back to legacy within one comparison, with an audit event naming its evidence.

Real flags in tmp_path, real metrics; the last test drives a real proxy in front of two backends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from shadowproxy.metrics import ProxyMetrics
from shadowproxy.rollback.audit import EventLog
from shadowproxy.rollback.flags import FLAGS_FILE, Flags
from shadowproxy.rollback.guard import RollbackGuard
from shadowproxy.rollback.windows import WindowSettings
from shadowproxy.types import Comparison, ExchangeKind, Observation, Outcome, RouteGroup, Side

from ..contracts.shapes import ShapeBackend, legacy_status, serve
from ..factories import ServerFactory, changed, comparison, exchange, metric, observation

ANALYSIS, REPORTS = RouteGroup.ANALYSIS, RouteGroup.REPORTS
PARITY, ERRORS = "parity_below_threshold", "app_error_rate"
STATUS = "/api/analysis/status/{task_id}"


@dataclass
class Rig:
    guard: RollbackGuard
    flags: Flags
    registry: CollectorRegistry
    now: list[float]

    def feed(self, comparisons: Iterable[Comparison]) -> list[Side]:
        """Publish each; the group's side after each one."""
        sides = []
        for one in comparisons:
            self.guard.publish(one)
            sides.append(self.flags.authoritative(one.exchange.route_group))
        return sides

    def triggers(self, trigger: str, action: str, group: RouteGroup = ANALYSIS) -> float:
        labels = {"route_group": group.value, "trigger": trigger, "action": action}
        return metric(self.registry, "shadowproxy_rollback_triggers_total", **labels)

    def rollbacks(self, trigger: str, group: RouteGroup = ANALYSIS) -> float:
        labels = {"route_group": group.value, "trigger": trigger, "mode": "auto"}
        return metric(self.registry, "shadowproxy_rollbacks_total", **labels)


def rig(tmp_path: Path, *, enabled: bool = True, side: Side = Side.APP) -> Rig:
    now = [1000.0]
    registry = CollectorRegistry()
    metrics = ProxyMetrics(registry)
    # as the app wires them: the flags count every rollback, whoever asked for it
    flags = Flags(dict.fromkeys(RouteGroup, side), tmp_path, on_rollback=metrics.rolled_back)
    guard = RollbackGuard(
        flags,
        metrics,
        enabled=enabled,
        after=1,
        windows=WindowSettings(),  # 300 s, at least 20, 5% each
        clock=lambda: now[0],
    )
    return Rig(guard, flags, registry, now)


def seen(
    n: int,
    outcome: Outcome = Outcome.MATCH,
    app: Observation | None = None,
    *,
    group: RouteGroup = ANALYSIS,
    kind: ExchangeKind = ExchangeKind.HTTP,
    authoritative: Side = Side.APP,
) -> Comparison:
    """Comparison `c<n>`; a mismatch differs on `progress`: no per-comparison trigger fires."""
    differences = (changed("progress", 40, 60),) if outcome is Outcome.MISMATCH else ()
    base = comparison(group, *differences, outcome=outcome)
    seen_as = exchange(
        comparison_id=f"c{n}", route_group=group, kind=kind, authoritative=authoritative
    )
    return replace(
        base,
        exchange=seen_as,
        legacy=observation(Side.LEGACY, 200),
        app=app or observation(Side.APP, 200),
    )


def good(
    start: int,
    count: int,
    *,
    group: RouteGroup = ANALYSIS,
    kind: ExchangeKind = ExchangeKind.HTTP,
    authoritative: Side = Side.APP,
) -> list[Comparison]:
    """`count` matches, `c<start>` on."""
    ids = range(start, start + count)
    return [seen(n, group=group, kind=kind, authoritative=authoritative) for n in ids]


def mismatch(n: int, group: RouteGroup = ANALYSIS) -> Comparison:
    return seen(n, Outcome.MISMATCH, group=group)


def app_error(n: int, group: RouteGroup = ANALYSIS) -> Comparison:
    return seen(n, Outcome.AUTHORITATIVE_ERROR, observation(Side.APP, 502), group=group)


APP, LEGACY = Side.APP, Side.LEGACY


@pytest.mark.parametrize(
    ("offender", "trigger", "group"),
    [
        pytest.param(mismatch, PARITY, ANALYSIS, id="parity"),
        pytest.param(app_error, ERRORS, ANALYSIS, id="app-errors"),
        pytest.param(mismatch, PARITY, RouteGroup.WS_ANALYSIS, id="parity-websocket"),
    ],
)
def test_the_comparison_that_crosses_the_threshold_rolls_the_group_back(
    tmp_path: Path,
    offender: Callable[[int, RouteGroup], Comparison],
    trigger: str,
    group: RouteGroup,
) -> None:
    rig_ = rig(tmp_path)
    kind = ExchangeKind.WS if group is RouteGroup.WS_ANALYSIS else ExchangeKind.HTTP
    traffic = [*good(0, 18, group=group, kind=kind), offender(18, group), offender(19, group)]
    # 2 of 20 is 10% > 5%: the 20th comparison flips the group, not one later
    assert rig_.feed(traffic) == [APP] * 19 + [LEGACY]
    assert rig_.flags.authoritative(REPORTS if group is ANALYSIS else ANALYSIS) is APP
    assert rig_.triggers(trigger, "rolled_back", group) == 1
    assert rig_.rollbacks(trigger, group) == 1
    [event] = rig_.flags.events.read()
    assert event["actor"] == f"auto:{trigger}"
    assert event["action"] == "rollback"
    assert event["evidence"] == ["c18", "c19"]
    assert event["change"] == [{"group": group.value, "from": "app", "to": "legacy"}]
    assert "2 of 20" in event["reason"]
    assert "10.0% > 5.0%" in event["reason"]
    assert "last 300 s" in event["reason"]
    assert rig_.flags.rolled_back_at(group) is not None  # the admin API's cooldown starts


def test_the_audit_event_keeps_the_last_five_offenders(tmp_path: Path) -> None:
    rig_ = rig(tmp_path)
    assert set(rig_.feed([mismatch(n) for n in range(19)])) == {APP}  # 19 < 20 compared
    assert rig_.feed([mismatch(19)]) == [LEGACY]
    [event] = rig_.flags.events.read()
    assert event["evidence"] == ["c15", "c16", "c17", "c18", "c19"]
    assert "20 of 20 mismatched" in event["reason"]


def test_nothing_is_counted_while_legacy_answers(tmp_path: Path) -> None:
    rig_ = rig(tmp_path, side=LEGACY)
    offenders = [seen(n, Outcome.MISMATCH, authoritative=LEGACY) for n in range(30)]
    offenders += [
        seen(n, Outcome.SHADOW_ERROR, observation(Side.APP, 500), authoritative=LEGACY)
        for n in range(30, 60)
    ]
    assert set(rig_.feed(offenders)) == {LEGACY}
    assert rig_.flags.events.read() == []
    for trigger in (PARITY, ERRORS):
        for action in ("observed", "disabled", "rolled_back"):
            assert rig_.triggers(trigger, action) == 0


def test_answers_legacy_gave_before_a_flip_to_the_app_are_not_the_apps(tmp_path: Path) -> None:
    rig_ = rig(tmp_path)  # the flag says app, but these exchanges were answered by legacy
    late = [seen(n, Outcome.MISMATCH, authoritative=LEGACY) for n in range(30)]
    assert set(rig_.feed([*late, *good(30, 19)])) == {APP}


def test_disabled_only_counts_and_starts_the_window_over(tmp_path: Path) -> None:
    rig_ = rig(tmp_path, enabled=False)
    traffic = [*good(0, 18), app_error(18), app_error(19)]
    assert set(rig_.feed(traffic)) == {APP}
    assert rig_.triggers(ERRORS, "disabled") == 1
    assert rig_.triggers(ERRORS, "rolled_back") == 0
    assert rig_.rollbacks(ERRORS) == 0
    assert rig_.flags.events.read() == []
    # one report per window's worth: the next offender does not report again at once
    assert rig_.feed([app_error(20)]) == [APP]
    assert rig_.triggers(ERRORS, "disabled") == 1


def test_a_rollback_resets_the_window_for_the_flip_back(tmp_path: Path) -> None:
    rig_ = rig(tmp_path)
    assert rig_.feed([*good(0, 18), app_error(18), app_error(19)])[-1] is LEGACY
    rig_.flags.set_authoritative(ANALYSIS, APP, reason="fixed")
    # had the window kept its 2 errors in 20, this one error would fire again at once
    assert set(rig_.feed([app_error(20), *good(21, 18)])) == {APP}  # 1 of 19
    assert rig_.feed([good(39, 1)[0]]) == [APP]  # 1 of 20 = 5%: not above
    assert rig_.feed([app_error(40)]) == [LEGACY]  # 2 of 21
    assert rig_.rollbacks(ERRORS) == 2


def test_a_per_comparison_rollback_resets_the_window_too(tmp_path: Path) -> None:
    rig_ = rig(tmp_path)
    rig_.feed([app_error(0), app_error(1), *good(2, 10)])
    lost = replace(mismatch(12), differences=(changed("decision", "BUY", "SELL"),))
    assert rig_.feed([lost]) == [LEGACY]
    assert rig_.rollbacks("analysis_result_lost") == 1
    rig_.flags.set_authoritative(ANALYSIS, APP, reason="fixed")
    assert set(rig_.feed(good(13, 19))) == {APP}
    assert rig_.feed([app_error(32)]) == [APP]  # 1 of 20: the earlier 2 errors are forgotten


def test_an_operator_rollback_resets_the_window(tmp_path: Path) -> None:
    rig_ = rig(tmp_path)
    rig_.feed([app_error(0), *good(1, 10)])
    rig_.flags.set_authoritative(ANALYSIS, LEGACY, reason="by hand")
    rig_.feed(good(11, 1, authoritative=LEGACY))  # a comparison while legacy answers
    rig_.flags.set_authoritative(ANALYSIS, APP, reason="again")
    assert set(rig_.feed([*good(12, 19), app_error(31)])) == {APP}  # 1 of 20


def test_comparisons_older_than_the_window_do_not_count(tmp_path: Path) -> None:
    rig_ = rig(tmp_path)
    rig_.feed([app_error(0), app_error(1)])
    rig_.now[0] += 300.0
    assert set(rig_.feed(good(2, 30))) == {APP}


def test_a_failed_flip_is_retried_on_the_next_comparison(tmp_path: Path) -> None:
    rig_ = rig(tmp_path)
    blocker = tmp_path / (FLAGS_FILE + ".tmp")
    blocker.mkdir()  # the flags' temp file cannot be written: the flip raises OSError
    assert rig_.feed([*good(0, 18), app_error(18), app_error(19)])[-1] is APP
    assert rig_.triggers(ERRORS, "failed") == 1
    blocker.rmdir()
    assert rig_.feed(good(20, 1)) == [LEGACY]  # 2 of 21 still: the window was kept
    assert rig_.triggers(ERRORS, "rolled_back") == 1


# ---------------------------------------------------------------- through a real proxy


@dataclass
class FailingStatus(ShapeBackend):
    """An app whose status route answers 500 while `failing`."""

    failing: bool = True

    async def _document(self, request: web.Request) -> web.Response:
        if self.failing and request.path.startswith("/api/analysis/status/"):
            return web.json_response({"detail": "internal error"}, status=500)
        return await super()._document(request)


async def test_app_errors_through_the_proxy_roll_the_group_back(
    tmp_path: Path, aiohttp_server: ServerFactory
) -> None:
    legacy, app = ShapeBackend(Side.LEGACY), FailingStatus(Side.APP)
    legacy.documents[("GET", STATUS)] = legacy_status()
    env = {"TA_AUTHORITATIVE_ANALYSIS": "app"}
    statuses: list[tuple[int, str]] = []
    async with serve(tmp_path, aiohttp_server, legacy, app, env) as served:
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{served.url}/api/analysis/start", json={"ticker": "AAPL"}):
                pass
            await served.sink.wait_for(1)
            # the start and 19 failed reads: 19 of 20 asked > 5%, at the 20th comparison
            for n in range(20):
                async with session.get(f"{served.url}/api/analysis/status/app-1") as response:
                    statuses.append(
                        (response.status, response.headers["X-Shadowproxy-Authoritative"])
                    )
                await served.sink.wait_for(n + 2)
            async with session.get(f"{served.admin}/flags") as response:
                flags = await response.json()
        rolled_back = served.metric(
            "shadowproxy_rollback_triggers_total",
            route_group="analysis",
            trigger=ERRORS,
            action="rolled_back",
        )
        other_triggers = sum(
            served.metric(
                "shadowproxy_rollback_triggers_total",
                route_group="analysis",
                trigger=name,
                action="rolled_back",
            )
            for name in ("client_contract_broken", "task_status_lost", PARITY)
        )
        comparisons = list(served.sink.comparisons)
    assert statuses == [(500, "app")] * 19 + [(200, "legacy")]
    assert [c.outcome for c in comparisons[1:20]] == [Outcome.AUTHORITATIVE_ERROR] * 19
    assert flags["authoritative"]["analysis"] == "legacy"
    assert flags["authoritative"]["reports"] == "legacy"  # untouched: the environment's side
    reason = flags["overrides"]["analysis"]["reason"]
    assert "app_error_rate: 19 of 20 app answers failed in the last 300 s" in reason
    assert comparisons[19].exchange.comparison_id in reason  # the evidence, the last offender
    assert (rolled_back, other_triggers) == (1, 0)
    [event] = EventLog(tmp_path / "state").read()
    assert (event["actor"], event["action"]) == ("auto:app_error_rate", "rollback")
    assert event["evidence"] == [c.exchange.comparison_id for c in comparisons[15:20]]
