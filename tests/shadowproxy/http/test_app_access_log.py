"""SHADOWPROXY_ACCESS_LOG: one `access` line per client request, in the proxy's log shape, with
the route template and a redacted path (never a raw secret from the query string)."""

from __future__ import annotations

from structlog.testing import capture_logs

from ..factories import ProxyFactory


async def test_the_access_log_has_one_redacted_line_per_request(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy({"SHADOWPROXY_ACCESS_LOG": "1"})
    with capture_logs() as logs:
        answer = await proxy.client.get(
            "/api/analysis/status/AAPL_20260413_120000_aaaaaa?api_key=hunter2&x=1"
        )
        await answer.read()
    [line] = [entry for entry in logs if entry["event"] == "access"]
    assert line["method"] == "GET"
    assert line["route"] == "/api/analysis/status/{task_id}"
    assert line["route_group"] == "analysis"
    assert line["status"] == answer.status
    assert line["side"] == "legacy"
    assert line["request_id"] == answer.headers["X-Request-ID"]
    assert line["latency_ms"] > 0
    assert "hunter2" not in str(line)
    assert line["path"].startswith("/api/analysis/status/AAPL_20260413_120000_aaaaaa?")


async def test_no_access_log_by_default(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy()
    with capture_logs() as logs:
        await (await proxy.client.get("/health")).read()
    assert [entry for entry in logs if entry["event"] == "access"] == []
