"""W3C trace context through the proxy: one trace, a child span per side, in the diff record."""

from __future__ import annotations

import re

from shadowproxy.types import Side

from ..factories import ProxyFactory

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


async def test_each_side_gets_its_own_child_span_of_the_clients_trace(
    make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy()
    response = await proxy.client.get("/r", headers={"traceparent": PARENT})
    assert response.status == 200
    (comparison,) = await proxy.sink.wait_for(1)
    sent = {
        side: TRACEPARENT.fullmatch(proxy.backend(side).seen[-1].headers["traceparent"])
        for side in Side
    }
    assert all(found is not None for found in sent.values())
    legacy, app = sent[Side.LEGACY], sent[Side.APP]
    assert legacy is not None
    assert app is not None
    assert legacy[1] == app[1] == "4bf92f3577b34da6a3ce929d0e0e4736"  # the client's trace
    assert legacy[3] == app[3] == "01"
    assert len({legacy[2], app[2], "00f067aa0ba902b7"}) == 3  # two new spans, not the parent
    trace = comparison.exchange.trace
    assert trace is not None
    assert (trace.legacy_span, trace.app_span) == (legacy[2], app[2])


async def test_a_trace_is_started_when_none_or_a_broken_one_arrives(
    make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy()
    for headers in ({}, {"traceparent": "00-" + "0" * 32 + "-00f067aa0ba902b7-01"}):
        await proxy.client.get("/r", headers=headers)
    comparisons = await proxy.sink.wait_for(2)
    traces = [c.exchange.trace for c in comparisons]
    assert all(t is not None and re.fullmatch("[0-9a-f]{32}", t.trace_id) for t in traces)
    assert len({t.trace_id for t in traces if t is not None}) == 2
    assert "0" * 32 not in {t.trace_id for t in traces if t is not None}
