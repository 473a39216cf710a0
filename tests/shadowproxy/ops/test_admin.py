"""Per-group flags, the admin API, health and readiness, and the metrics page."""

from __future__ import annotations

import pytest

from shadowproxy.types import RouteGroup

from ..factories import ProxyFactory


@pytest.mark.parametrize(
    ("path", "group"),
    [
        pytest.param("/api/analysis/tasks", "analysis", id="analysis"),
        pytest.param("/api/reports/list", "reports", id="reports"),
        pytest.param("/api/portfolio/watchlist", "portfolio", id="portfolio"),
        pytest.param("/health", "system", id="system"),
    ],
)
async def test_each_group_answers_from_its_own_flag(
    make_proxy: ProxyFactory, path: str, group: str
) -> None:
    proxy = await make_proxy({"TA_AUTHORITATIVE_REPORTS": "app", "TA_AUTHORITATIVE_SYSTEM": "app"})
    response = await proxy.client.get(path)
    expected = "app" if group in ("reports", "system") else "legacy"
    assert response.headers["X-Shadowproxy-Authoritative"] == expected
    assert (
        proxy.metric(
            "shadowproxy_requests_total",
            route_group=group,
            route=path,
            method="GET",
            authoritative=expected,
            code="200",
        )
        == 1
    )


async def test_app_service_enabled_makes_app_authoritative_everywhere(
    make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy(
        {"TA_APP_SERVICE_ENABLED": "1", "TA_AUTHORITATIVE_PORTFOLIO": "legacy"}
    )
    flags = await (await proxy.admin.get("/flags")).json()
    assert flags["authoritative"] == {
        "analysis": "app",
        "reports": "app",
        "portfolio": "legacy",
        "ws_analysis": "app",
        "ws_orchestrator": "app",
        "system": "app",
    }
    assert flags["overrides"] == {}


async def test_flip_rollback_and_clear(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy({"TA_AUTHORITATIVE_SYSTEM": "app"})
    side_metric = "shadowproxy_authoritative_side"
    assert proxy.metric(side_metric, route_group="reports", side="legacy") == 1

    flipped = await proxy.admin.put("/flags/reports", json={"side": "app", "reason": "parity ok"})
    assert (await flipped.json())["overrides"]["reports"]["reason"] == "parity ok"
    response = await proxy.client.get("/api/reports/list")
    assert response.headers["X-Shadowproxy-Authoritative"] == "app"
    assert proxy.metric(side_metric, route_group="reports", side="app") == 1
    assert proxy.metric(side_metric, route_group="reports", side="legacy") == 0

    rolled = await proxy.admin.post("/rollback", json={"reason": "drift alert"})
    assert set((await rolled.json())["authoritative"].values()) == {"legacy"}
    assert (await proxy.client.get("/health")).headers["X-Shadowproxy-Authoritative"] == "legacy"

    cleared = await proxy.admin.delete("/flags")
    body = await cleared.json()
    assert body["overrides"] == {}
    assert body["authoritative"]["system"] == "app"  # the environment applies again


@pytest.mark.parametrize(
    ("method", "path", "payload", "detail"),
    [
        pytest.param(
            "PUT", "/flags/nope", {"side": "app", "reason": "x"}, "unknown route group", id="group"
        ),
        pytest.param(
            "PUT", "/flags/reports", {"side": "new", "reason": "x"}, "'side' must be", id="side"
        ),
        pytest.param(
            "PUT", "/flags/reports", {"side": "app"}, "'reason' is required", id="no-reason"
        ),
        pytest.param("PUT", "/flags/reports", [1, 2], "JSON object", id="not-object"),
        pytest.param("POST", "/rollback", {}, "'reason' is required", id="rollback-reason"),
    ],
)
async def test_bad_admin_input_is_a_400_with_detail(
    make_proxy: ProxyFactory, method: str, path: str, payload: object, detail: str
) -> None:
    proxy = await make_proxy()
    response = await proxy.admin.request(method, path, json=payload)
    assert response.status == 400
    assert detail in (await response.json())["detail"]
    assert (await (await proxy.admin.get("/flags")).json())["overrides"] == {}


async def test_non_json_admin_body_is_a_400(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy()
    response = await proxy.admin.post("/rollback", data=b"{not json")
    assert response.status == 400
    assert "JSON object" in (await response.json())["detail"]


async def test_health_and_readiness(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy()
    assert (await proxy.admin.get("/healthz")).status == 200
    ready = await proxy.admin.get("/readyz")
    assert ready.status == 200
    assert await ready.json() == {"status": "ready", "shadow_failing": {}}
    assert proxy.app.server is not None
    await proxy.app.server.close()
    # app is only the shadow: the clients do not depend on it, so the proxy stays ready
    shadow_down = await proxy.admin.get("/readyz")
    assert shadow_down.status == 200
    assert set((await shadow_down.json())["shadow_failing"]) == {"app"}
    # ... until app becomes authoritative for one group
    flip = {"side": "app", "reason": "cut over reports"}
    assert (await proxy.admin.put("/flags/reports", json=flip)).status == 200
    not_ready = await proxy.admin.get("/readyz")
    assert not_ready.status == 503
    body = await not_ready.json()
    assert body["detail"] == "app not ready"
    assert set(body["failing"]) == {"app"}
    assert (await proxy.admin.get("/healthz")).status == 200


async def test_an_authoritative_side_that_is_down_makes_the_proxy_unready(
    make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy()
    assert proxy.legacy.server is not None
    await proxy.legacy.server.close()
    not_ready = await proxy.admin.get("/readyz")
    assert not_ready.status == 503
    body = await not_ready.json()
    assert body["detail"] == "legacy not ready"
    assert body["shadow_failing"] == {}


async def test_metrics_page_has_every_name_with_bounded_labels(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy()
    await proxy.client.get("/api/analysis/status/some-raw-id-123")
    await proxy.client.get("/some/raw/path/4567")
    await proxy.sink.wait_for(2)
    page = await (await proxy.admin.get("/metrics")).text()
    for name in (
        "shadowproxy_requests_total",
        "shadowproxy_comparisons_total",
        "shadowproxy_field_mismatches_total",
        "shadowproxy_upstream_duration_seconds_bucket",
        "shadowproxy_shadow_skipped_total",
        "shadowproxy_shadow_inflight",
        "shadowproxy_authoritative_side",
        "shadowproxy_shadow_failures_total",
    ):
        assert name in page
    assert "some-raw-id-123" not in page
    assert "4567" not in page
    assert 'route="/api/analysis/status/{task_id}"' in page
    assert (
        'shadowproxy_upstream_duration_seconds_count{role="shadow",route_group="system",side="app"}'
        in page
    )
    assert (
        len({group.value for group in RouteGroup})
        == page.count('shadowproxy_authoritative_side{route_group="') // 2
    )
