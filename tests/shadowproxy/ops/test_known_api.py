"""`GET/POST /known`, `DELETE /known/{signature}`: accept a difference at runtime, audited."""

from __future__ import annotations

from typing import Any

import pytest

from shadowproxy.diff.config import BUILTIN_KNOWN_DIFFERENCES, ConfigRoute, DiffConfig
from shadowproxy.types import AcceptedDifference, Outcome, RouteGroup, RouteSpec

from ..factories import ListSink, Proxy, ProxyFactory

ECHO = "/echo/{name}"
CONFIG = DiffConfig(
    known_differences=(
        *BUILTIN_KNOWN_DIFFERENCES,
        AcceptedDifference("*", "confidence", "rounding", owner="quant"),
    ),
    routes=(
        ConfigRoute(
            RouteSpec(RouteGroup.REPORTS, ECHO, frozenset({"GET"}), "json_fields"),
            key_fields=("side", "method"),
        ),
    ),
)
SIGNATURE = "0123456789ab"
ACCEPT = {
    "signature": SIGNATURE,
    "route": ECHO,
    "differences": [{"field": "side", "kind": "changed"}],
    "reason": "each side names itself",
    "owner": "proxy-team",
    "expires": "2099-12-31",
}


async def compared(proxy: Proxy[ListSink]) -> Outcome:
    """Send one request on the echo route (the fake sides answer their own `side`)."""
    assert (await proxy.client.get("/echo/a")).status == 200
    await proxy.wait_idle()
    return proxy.sink.comparisons[-1].outcome


async def test_an_accepted_signature_makes_later_comparisons_accepted(
    make_proxy: ProxyFactory,
) -> None:
    proxy = await make_proxy(config=CONFIG)
    assert await compared(proxy) is Outcome.MISMATCH
    answer = await proxy.admin.post("/known", json=ACCEPT)
    assert answer.status == 201
    document = await answer.json()
    assert document["signature"] == SIGNATURE
    assert document["replaced"] is False
    [entry] = document["entries"]
    assert (entry["route"], entry["field"], entry["kinds"]) == (ECHO, "side", ["changed"])
    assert (entry["accepted_by"], entry["owner"], entry["expires"]) == (
        "loopback",
        "proxy-team",
        "2099-12-31",
    )

    assert await compared(proxy) is Outcome.ACCEPTED
    [difference] = proxy.sink.comparisons[-1].accepted
    assert (difference.field, difference.reason) == ("side", "each side names itself")
    assert (
        proxy.metric("shadowproxy_known_differences", state="active")
        == len(CONFIG.known_differences) + 1
    )

    events = (await (await proxy.admin.get("/events")).json())["events"]
    assert events[-1]["action"] == "accept"
    assert events[-1]["reason"] == "each side names itself"
    assert "field side (changed)" in events[-1]["evidence"]

    renewed = await proxy.admin.post("/known", json=ACCEPT | {"reason": "renewed"})
    assert (await renewed.json())["replaced"] is True

    gone = await proxy.admin.delete(f"/known/{SIGNATURE}", json={"reason": "fixed upstream"})
    assert gone.status == 200
    assert [e["field"] for e in (await gone.json())["withdrawn"]] == ["side"]
    assert await compared(proxy) is Outcome.MISMATCH
    events = (await (await proxy.admin.get("/events")).json())["events"]
    assert (events[-1]["action"], events[-1]["reason"]) == ("withdraw", "fixed upstream")
    again = await proxy.admin.delete(f"/known/{SIGNATURE}", json={"reason": "twice"})
    assert again.status == 404


async def test_an_acceptance_of_other_kinds_does_not_apply(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy(config=CONFIG)
    missing = ACCEPT | {"differences": [{"field": "side", "kind": "missing"}]}
    assert (await proxy.admin.post("/known", json=missing)).status == 201
    assert await compared(proxy) is Outcome.MISMATCH
    any_kind = ACCEPT | {"differences": [{"field": "side", "kind": None}]}
    assert (await proxy.admin.post("/known", json=any_kind)).status == 201
    assert await compared(proxy) is Outcome.ACCEPTED


async def test_the_list_names_each_entry_source_and_state(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy(config=CONFIG)
    by_hand = {key: value for key, value in ACCEPT.items() if key != "signature"}
    made = await (await proxy.admin.post("/known", json=by_hand)).json()
    assert len(made["signature"]) == 12  # one made from what is accepted
    listed = await (await proxy.admin.get("/known")).json()
    sources = [entry["source"] for entry in listed["known"]]
    assert sources == ["builtin"] * len(BUILTIN_KNOWN_DIFFERENCES) + ["config", "runtime"]
    assert listed["active"] == len(sources)
    assert listed["expired"] == 0
    assert listed["known"][-2]["owner"] == "quant"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        pytest.param({"route": "/nowhere"}, "'route' must be '*' or a route template", id="route"),
        pytest.param({"differences": []}, "'differences' must be a list of 1-50", id="none"),
        pytest.param({"differences": [{"field": ""}]}, "'field' must be a path", id="field"),
        pytest.param(
            {"differences": [{"field": "a", "kind": "odd"}]}, "'kind' must be one of", id="kind"
        ),
        pytest.param(
            {"differences": [{"field": "a", "value": 1}]}, "with 'field' and 'kind'", id="keys"
        ),
        pytest.param({"reason": " "}, "'reason' is required", id="reason"),
        pytest.param({"expires": "2020-01-01"}, "is in the past", id="past"),
        pytest.param({"expires": "soon"}, "must be a date like", id="date"),
        pytest.param({"owner": 3}, "'owner' must be a string", id="owner"),
        pytest.param({"signature": "XYZ"}, "12 lower-case hex digits", id="signature"),
    ],
)
async def test_bad_input_is_a_400_and_changes_nothing(
    make_proxy: ProxyFactory, change: dict[str, Any], problem: str
) -> None:
    proxy = await make_proxy(config=CONFIG)
    answer = await proxy.admin.post("/known", json=ACCEPT | change)
    assert answer.status == 400
    assert problem in (await answer.json())["detail"]
    listed = await (await proxy.admin.get("/known")).json()
    assert [e for e in listed["known"] if e["source"] == "runtime"] == []
    events = (await (await proxy.admin.get("/events")).json())["events"]
    assert [e for e in events if e["action"] == "accept"] == []


async def test_every_known_endpoint_needs_the_token(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy({"SHADOWPROXY_ADMIN_TOKEN": "known-token-0123456789"}, config=CONFIG)
    for method, path in (("GET", "/known"), ("POST", "/known"), ("DELETE", "/known/x")):
        answer = await proxy.admin.request(method, path, json=ACCEPT)
        assert answer.status == 401, (method, path)
    good = {"Authorization": "Bearer known-token-0123456789"}
    answer = await proxy.admin.post("/known", json=ACCEPT, headers=good)
    assert answer.status == 201
    assert (await answer.json())["entries"][0]["accepted_by"] == "admin-token"
