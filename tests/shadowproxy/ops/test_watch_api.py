"""The admin API's watches through a real in-process proxy: `POST /watch` registers request ids,
`GET /watch/{request_id}` answers the records of their comparisons, skips included."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import ClientResponse

from shadowproxy.difflog.watch import MAX_WATCHED
from shadowproxy.ops.watch_api import MAX_IDS

from ..factories import Proxy, ProxyFactory

TOKEN = "watch-test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
STATUS_ROUTE = "/api/analysis/status/{task_id}"


async def body_of(response: ClientResponse) -> dict[str, Any]:
    found = await response.json()
    assert isinstance(found, dict)
    return found


async def watch(proxy: Proxy[Any], *ids: str) -> None:
    registered = await proxy.admin.post("/watch", json={"request_ids": list(ids)})
    assert registered.status == 201
    assert await registered.json() == {"watching": len(ids)}


async def result(proxy: Proxy[Any], rid: str, wait: str = "5") -> dict[str, Any]:
    answer = await proxy.admin.get(f"/watch/{rid}", params={"wait": wait})
    assert answer.status == 200
    return await body_of(answer)


async def test_a_watched_request_answers_its_record(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy()
    await watch(proxy, "replay-status-1")
    sent = await proxy.client.get(
        "/api/analysis/status/x", headers={"X-Request-ID": "replay-status-1"}
    )
    assert sent.status == 200
    found = await result(proxy, "replay-status-1")
    assert (found["request_id"], found["done"]) == ("replay-status-1", True)
    [record] = found["records"]
    assert record["request_id"] == "replay-status-1"
    assert (record["route"], record["path"]) == (STATUS_ROUTE, "/api/analysis/status/x")
    # `x` is no task id the proxy saw created: the shadow cannot be correlated
    assert (record["outcome"], record["reason"]) == ("skipped", "uncorrelated")
    await proxy.wait_idle()
    [published] = proxy.sink.comparisons
    assert record["comparison_id"] == published.exchange.comparison_id
    assert record["outcome"] == published.outcome.value


async def test_a_compared_request_answers_a_match(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy()
    await watch(proxy, "replay-start-1", "replay-read-1")
    started = await proxy.client.post(
        "/api/analysis/start", json={"ticker": "AAPL"}, headers={"X-Request-ID": "replay-start-1"}
    )
    task_id = (await started.json())["task_id"]
    found = await result(proxy, "replay-start-1")
    [record] = found["records"]
    assert (record["method"], record["outcome"]) == ("POST", "match")
    assert record["request"]["encoding"] == "json"
    assert record["request"]["body"] == {"ticker": "AAPL"}
    await proxy.wait_idle()  # the task id pair is learned: the status read is correlated
    await proxy.client.get(
        f"/api/analysis/status/{task_id}", headers={"X-Request-ID": "replay-read-1"}
    )
    [read] = (await result(proxy, "replay-read-1"))["records"]
    assert (read["route"], read["outcome"], read["differences"]) == (STATUS_ROUTE, "match", [])
    assert read["legacy"]["status"] == read["app"]["status"] == 200


async def test_only_watched_requests_are_answered(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy()
    await watch(proxy, "watched-1")
    await proxy.client.get("/api/analysis/status/x", headers={"X-Request-ID": "other-1"})
    await proxy.wait_idle()
    assert len(proxy.sink.comparisons) == 1  # compared, and written as usual
    assert (await proxy.admin.get("/watch/other-1?wait=0")).status == 404
    assert await result(proxy, "watched-1", wait="0") == {
        "request_id": "watched-1",
        "done": False,
        "records": [],
    }


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        pytest.param({"SHADOWPROXY_SAMPLE_RATE": "0"}, "sampled_out", id="sampled-out"),
        pytest.param({"SHADOWPROXY_SHADOW": "off"}, "shadow_off", id="shadow-off"),
    ],
)
async def test_a_request_never_shadowed_answers_why(
    make_proxy: ProxyFactory, env: dict[str, str], reason: str
) -> None:
    proxy = await make_proxy(env)
    await watch(proxy, "unshadowed-1")
    sent = await proxy.client.get(
        "/api/analysis/status/x", headers={"X-Request-ID": "unshadowed-1"}
    )
    assert sent.status == 200
    found = await result(proxy, "unshadowed-1")
    assert found["done"] is True
    [record] = found["records"]
    assert (record["request_id"], record["outcome"], record["reason"]) == (
        "unshadowed-1",
        "skipped",
        reason,
    )
    assert (record["legacy"], record["app"], record["request"]) == (None, None, None)
    await proxy.wait_idle()
    assert proxy.sink.comparisons == []  # no comparison: nothing for the diff log
    assert proxy.app.paths() == []  # the shadow side was never called


async def test_an_unknown_id_is_a_404(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy()
    answer = await proxy.admin.get("/watch/never-registered?wait=0")
    assert answer.status == 404
    assert "'never-registered' is not watched" in (await body_of(answer))["detail"]


@pytest.mark.parametrize("wait", ["61", "-1", "abc", "", "nan", "inf"])
async def test_a_wait_out_of_range_is_a_400(make_proxy: ProxyFactory, wait: str) -> None:
    proxy = await make_proxy()
    await watch(proxy, "rid-1")
    answer = await proxy.admin.get("/watch/rid-1", params={"wait": wait})
    assert answer.status == 400
    assert (await body_of(answer))["detail"] == "'wait' must be a number of seconds, 0-60"


@pytest.mark.parametrize("wait", ["0", "0.01", "60"])
async def test_a_wait_in_range_is_served(make_proxy: ProxyFactory, wait: str) -> None:
    proxy = await make_proxy()
    await watch(proxy, "rid-1")
    await proxy.client.get("/api/analysis/status/x", headers={"X-Request-ID": "rid-1"})
    await proxy.wait_idle()  # published already: even wait=60 answers at once
    found = await result(proxy, "rid-1", wait=wait)
    assert (found["done"], len(found["records"])) == (True, 1)


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        pytest.param(["rid-1"], "the body must be a JSON object", id="not-an-object"),
        pytest.param({}, "'request_ids' must be a list", id="missing"),
        pytest.param({"request_ids": "rid-1"}, "'request_ids' must be a list", id="a-string"),
        pytest.param({"request_ids": []}, "1-200 request ids", id="empty"),
        pytest.param(
            {"request_ids": [f"rid-{n}" for n in range(MAX_IDS + 1)]},
            "1-200 request ids",
            id="too-many",
        ),
        pytest.param({"request_ids": ["rid-1", "has space"]}, "no spaces", id="space"),
        pytest.param({"request_ids": ["rid-1", 7]}, "'request_ids' must be a list", id="number"),
        pytest.param({"request_ids": ["x" * 201]}, "at most 200 characters", id="too-long"),
        pytest.param({"request_ids": ["tab\tid"]}, "printable", id="control-char"),
    ],
)
async def test_a_bad_watch_body_is_a_400_and_watches_nothing(
    make_proxy: ProxyFactory, payload: object, problem: str
) -> None:
    proxy = await make_proxy()
    answer = await proxy.admin.post("/watch", json=payload)
    assert answer.status == 400
    assert problem in (await body_of(answer))["detail"]
    assert (await proxy.admin.get("/watch/rid-1?wait=0")).status == 404


async def test_a_body_that_is_not_json_is_a_400(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy()
    answer = await proxy.admin.post("/watch", data=b"{not json")
    assert answer.status == 400
    assert "JSON object" in (await body_of(answer))["detail"]


async def test_the_most_ids_of_one_call_are_watched(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy()
    longest, odd = "x" * 200, "replay-~!#$%&'*+.^_`|:/=?@"  # printable, no spaces
    ids = [longest, odd, *(f"rid-{n}" for n in range(MAX_IDS - 2))]
    await watch(proxy, *ids)
    for rid in (longest, "rid-0", ids[-1]):
        assert (await result(proxy, rid, wait="0"))["done"] is False
    sent = await proxy.client.get("/api/analysis/status/x", headers={"X-Request-ID": odd})
    assert sent.status == 200
    found = await proxy.admin.get("/watch/" + quote(odd, safe=""), params={"wait": "5"})
    assert found.status == 200
    assert [r["request_id"] for r in (await body_of(found))["records"]] == [odd]


async def test_more_watches_than_the_bound_is_a_400(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy()
    for batch in range(MAX_WATCHED // MAX_IDS):
        await watch(proxy, *(f"rid-{batch}-{n}" for n in range(MAX_IDS)))
    answer = await proxy.admin.post("/watch", json={"request_ids": ["one-more"]})
    assert answer.status == 400
    assert f"at most {MAX_WATCHED} request ids are watched" in (await body_of(answer))["detail"]
    assert (await proxy.admin.get("/watch/one-more?wait=0")).status == 404
    assert (await result(proxy, "rid-0-0", wait="0"))["done"] is False  # the others stay


async def test_with_a_token_both_endpoints_need_it(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy({"SHADOWPROXY_ADMIN_TOKEN": TOKEN})
    body = {"request_ids": ["rid-1"]}
    wrong = {"Authorization": "Bearer not-the-token"}

    missing = await proxy.admin.post("/watch", json=body)
    assert missing.status == 401
    assert "bearer token is required" in (await body_of(missing))["detail"]
    refused = await proxy.admin.post("/watch", json=body, headers=wrong)
    assert refused.status == 401
    assert "wrong" in (await body_of(refused))["detail"]
    # nothing was registered by the refused calls
    assert (await proxy.admin.get("/watch/rid-1?wait=0", headers=AUTH)).status == 404

    registered = await proxy.admin.post("/watch", json=body, headers=AUTH)
    assert registered.status == 201
    await proxy.client.get("/api/analysis/status/x", headers={"X-Request-ID": "rid-1"})

    for headers in ({}, wrong):
        denied = await proxy.admin.get("/watch/rid-1?wait=0", headers=headers)
        assert denied.status == 401
        assert "detail" in await body_of(denied)
    answer = await proxy.admin.get("/watch/rid-1?wait=5", headers=AUTH)
    assert answer.status == 200
    found = await body_of(answer)
    assert found["done"] is True
    assert [r["request_id"] for r in found["records"]] == ["rid-1"]
    assert proxy.metric("shadowproxy_admin_denied_total", endpoint="/watch") == 2
    assert proxy.metric("shadowproxy_admin_denied_total", endpoint="/watch/{request_id}") == 2
