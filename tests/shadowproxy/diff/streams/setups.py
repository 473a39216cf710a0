"""Builders shared by the stream tests: the Setup a stream is built from, both sides upgraded."""

from __future__ import annotations

from shadowproxy.correlation import CorrelationMap
from shadowproxy.diff.engine import DiffEngine
from shadowproxy.diff.streams.base import Setup, Stream, Timers
from shadowproxy.types import ExchangeKind, Observation, RouteGroup, Side

from ...factories import exchange


def stream_setup(group: RouteGroup, route: str, profile: str, **timers: float) -> Setup:
    """A websocket exchange (comparison c1, task T1) opened at 0 s, default timers unless given."""
    asked = exchange(
        comparison_id="c1",
        request_id="r1",
        kind=ExchangeKind.WS,
        route_group=group,
        route=route,
        path="/ws/analysis/T1",
        profile=profile,
    )
    return Setup(
        exchange=asked,
        engine=DiffEngine(),
        ids=CorrelationMap().aliases,
        timers=Timers(stall_s=timers.get("stall_s", 5.0), settle_s=timers.get("settle_s", 10.0)),
        opened_at=0.0,
        task_id="T1",
    )


def upgraded(stream: Stream) -> None:
    """Both sides answered the upgrade (101)."""
    for side in Side:
        stream.connected(Observation(side=side, status=101))
