"""The admin API of a replica sharing its state through a real Redis (SHADOWPROXY_STORE=redis):
what it says about the store, and how it degrades while the store does not answer."""

from __future__ import annotations

from shadowproxy.types import RouteGroup
from tests.shadowproxy.redis_server import RedisServer, until

from ..factories import ProxyFactory


def store_env(redis_server: RedisServer) -> dict[str, str]:
    return {
        "SHADOWPROXY_STORE": "redis",
        "SHADOWPROXY_REDIS_URL": redis_server.url,
        "SHADOWPROXY_REPLICA": "replica-a",
    }


async def test_a_replica_says_where_its_state_lives_and_keeps_the_trail_there(
    make_proxy: ProxyFactory, redis_server: RedisServer
) -> None:
    proxy = await make_proxy(store_env(redis_server))
    flags = await (await proxy.admin.get("/flags")).json()
    assert flags["store"] == "redis"
    assert flags["store_state"] == "available"
    assert flags["replica"] == "replica-a"
    assert redis_server.url.split("//")[1] not in str(flags)  # never the URL

    moved = await proxy.admin.put("/flags/reports", json={"side": "app", "reason": "canary"})
    assert moved.status == 200
    assert "store" not in await moved.json()  # confirmed by the store before the answer
    events = await (await proxy.admin.get("/events")).json()
    assert events["source"] == "store"
    assert [(e["action"], e["replica"]) for e in events["events"]] == [("flip", "replica-a")]
    assert proxy.metric("shadowproxy_store_up") == 1


async def test_without_the_store_a_replica_is_degraded_refuses_flips_and_still_rolls_back(
    make_proxy: ProxyFactory, redis_server: RedisServer
) -> None:
    proxy = await make_proxy({**store_env(redis_server), "TA_AUTHORITATIVE_SYSTEM": "app"})
    redis_server.kill()
    await until(lambda: proxy.metric("shadowproxy_store_up") == 0)

    ready = await proxy.admin.get("/readyz")
    assert ready.status == 200  # clients never depend on the store
    assert (await ready.json())["status"] == "degraded"
    assert (await proxy.client.get("/health")).status == 200

    refused = await proxy.admin.put("/flags/reports", json={"side": "app", "reason": "now"})
    assert refused.status == 503
    assert "shared store" in (await refused.json())["detail"]

    rolled = await proxy.admin.post("/rollback", json={"reason": "incident"})
    assert rolled.status == 200
    body = await rolled.json()
    assert body["store"] == "pending"
    assert body["authoritative"][RouteGroup.SYSTEM.value] == "legacy"  # applied here at once
    assert proxy.metric("shadowproxy_store_pending", kind="flags") == 1

    redis_server.start()
    await until(lambda: proxy.metric("shadowproxy_store_pending", kind="flags") == 0)
    await until(lambda: proxy.metric("shadowproxy_store_up") == 1)
    assert (await (await proxy.admin.get("/readyz")).json())["status"] == "ready"
    assert (
        await proxy.admin.put("/flags/reports", json={"side": "app", "reason": "back"})
    ).status == 200
