"""`shadowproxy demo` in a subprocess: its exit code follows settled-state parity.

The fast tests put the real proxy (`shadowproxy run`, a subprocess) in front of two fake
dashboard backends (aiohttp servers on port 0 in this test) that agree or diverge on purpose;
the slow one drives the real embedded stack (`shadowproxy up`).
"""

import asyncio
import re
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from .commands import cli, stack_up

STAGES = ("analysts", "research", "trading", "risk", "portfolio")
DATE = "2026-04-13"


@dataclass(frozen=True)
class Behaviour:
    decision: str = "OVERWEIGHT"
    running_polls: int = 0  # status polls answered "running" before the task completes
    api_key: str | None = None  # the `api-key` header the dashboard requires, if any


def status_document(task_id: str, ticker: str, decision: str, *, done: bool) -> dict[str, Any]:
    return {
        "task_id": task_id,
        "ticker": ticker,
        "date": DATE,
        "status": "completed" if done else "running",
        "progress": 100 if done else 0,
        "current_stage": "portfolio" if done else "analysts",
        "stages": [
            {"status": "completed" if done or i < 0 else "running" if i == 0 else "pending"}
            for i in range(len(STAGES))
        ],
        "decision": decision if done else None,
        "confidence": 0.6 if done else None,
        "error": None,
    }


def fake_dashboard(behaviour: Behaviour) -> web.Application:
    """Just enough of the dashboard API for the demo's session, in the legacy shape."""
    polls: Counter[str] = Counter()
    tickers: dict[str, str] = {}
    routes = web.RouteTableDef()

    @routes.post("/api/analysis/start")
    async def start(request: web.Request) -> web.Response:
        body = await request.json()
        task_id = f"{body['ticker']}_20260413_120000_abc123"
        tickers[task_id] = body["ticker"]
        payload = {"task_id": task_id, "ticker": body["ticker"], "date": DATE}
        return web.json_response(payload | {"status": "running"})

    @routes.get("/api/analysis/status/{task_id}")
    async def status(request: web.Request) -> web.Response:
        task_id = request.match_info["task_id"]
        if task_id.startswith("port_"):
            batch = {"task_id": task_id, "type": "portfolio", "status": "completed", "total": 1}
            batch |= {"completed": 1, "failed": 0, "current_ticker": None, "results": []}
            return web.json_response(batch | {"error": None})
        polls[task_id] += 1
        done = polls[task_id] > behaviour.running_polls
        document = status_document(task_id, tickers[task_id], behaviour.decision, done=done)
        return web.json_response(document)

    def constant(body: Any) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handler(request: web.Request) -> web.StreamResponse:
            if isinstance(body, str):
                return web.Response(text=body, content_type="text/csv")
            return web.json_response(body)

        return handler

    page = {"total": 0, "limit": 50, "offset": 0}
    table: list[tuple[str, str, Any]] = [
        ("GET", "/api/analysis/tasks", {"tasks": [], "total": 0}),
        ("DELETE", "/api/analysis/cancel/{task_id}", {"status": "cancelled"}),
        ("GET", "/api/reports/list", {"reports": []} | page),
        ("GET", "/api/reports/{ticker}/{date}", {"report": "# report"}),
        ("GET", "/api/reports/export", "ticker,date,decision,summary\r\n"),
        ("POST", "/api/portfolio/watchlist", {"ticker": "AAPL", "name": "AAPL"}),
        ("GET", "/api/portfolio/watchlist", {"watchlist": []}),
        ("DELETE", "/api/portfolio/watchlist/{ticker}", {"ok": True}),
        ("POST", "/api/portfolio/accounts", {"account_name": "demo"}),
        ("GET", "/api/portfolio/accounts", {"accounts": []}),
        ("DELETE", "/api/portfolio/accounts/{name}", {"ok": True}),
        ("POST", "/api/portfolio/positions", {"position_id": "pos_abc123", "shares": 10}),
        ("GET", "/api/portfolio/positions", {"positions": []}),
        ("GET", "/api/portfolio/positions/export", "ticker,shares\r\n"),
        ("DELETE", "/api/portfolio/positions/{ticker}", {"ok": True}),
        ("POST", "/api/portfolio/analyze", {"task_id": "port_2026-04-13_abc123", "total": 1}),
        ("GET", "/api/portfolio/recommendations", {"recommendations": []} | page),
    ]

    @web.middleware
    async def auth(request: web.Request, handler: Any) -> web.StreamResponse:
        if behaviour.api_key and request.headers.get("api-key") != behaviour.api_key:
            detail = "Unauthorized: valid X-API-Key header required"
            return web.json_response({"detail": detail}, status=401)
        response: web.StreamResponse = await handler(request)
        return response

    app = web.Application(middlewares=[auth])
    app.add_routes(routes)
    for method, path, body in table:
        app.router.add_route(method, path, constant(body))
    return app


@pytest.fixture
async def proxy_factory(
    tmp_path: Path,
) -> AsyncIterator[Callable[[Behaviour, Behaviour], Awaitable[tuple[str, str]]]]:
    """Start fake legacy + app servers and the real proxy in front; yields (proxy, admin) URLs."""
    cleanups: list[Callable[[], Awaitable[Any]]] = []

    async def start(legacy: Behaviour, app: Behaviour) -> tuple[str, str]:
        urls = []
        for behaviour in (legacy, app):
            server = TestServer(fake_dashboard(behaviour), host="127.0.0.1")
            await server.start_server()
            cleanups.append(server.close)
            urls.append(str(server.make_url("")).rstrip("/"))
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "shadowproxy", "run", "--legacy", urls[0], "--app", urls[1],
            "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
            "--diff-log-dir", "diff_logs", "--state-dir", "state",
            cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        assert process.stdout is not None

        async def stop() -> None:
            process.send_signal(signal.SIGTERM)
            await process.wait()

        cleanups.append(stop)
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        match = re.search(r"listening on (\S+) \(admin (\S+)\)", line)
        assert match, line
        return match[1], match[2]

    yield start
    for cleanup in reversed(cleanups):
        await cleanup()


@pytest.mark.parametrize(
    ("legacy", "app", "code", "expected"),
    [
        pytest.param(Behaviour(), Behaviour(), 0, "parity: no mismatches", id="agree"),
        pytest.param(
            Behaviour(),
            Behaviour(decision="SELL"),
            3,
            "mismatch /api/analysis/status/{task_id}: decision",
            id="settled-decision-differs",
        ),
        pytest.param(
            Behaviour(running_polls=1),
            Behaviour(),
            0,
            "mismatches on in-flight reads: lifecycle skew",
            id="only-in-flight-skew",
        ),
        pytest.param(
            Behaviour(),
            Behaviour(running_polls=2),
            0,
            "mismatches on in-flight reads: lifecycle skew",
            id="the-shadow-twin-finishes-later",
        ),
    ],
)
async def test_demo_exit_code_follows_settled_parity(
    proxy_factory: Callable[[Behaviour, Behaviour], Awaitable[tuple[str, str]]],
    tmp_path: Path,
    legacy: Behaviour,
    app: Behaviour,
    code: int,
    expected: str,
) -> None:
    proxy, admin = await proxy_factory(legacy, app)
    args = ["demo", "--proxy", proxy, "--admin", admin, "--tickers", "2"]
    returncode, out, err = await cli(*args, "--diff-log-dir", "diff_logs", cwd=tmp_path)
    assert returncode == code, out + err
    assert expected in out
    assert "analyses: AAPL completed, MSFT completed, portfolio batch completed" in out
    assert re.search(r"^analysis\s+\d+", out, re.MULTILINE)
    assert re.search(r"^portfolio\s+\d+", out, re.MULTILINE)
    assert "POST /api/portfolio/positions" in err  # the progress, one line per step when piped


async def test_demo_json_is_one_document_and_its_progress_fits_the_terminal(
    proxy_factory: Callable[[Behaviour, Behaviour], Awaitable[tuple[str, str]]], tmp_path: Path
) -> None:
    proxy, admin = await proxy_factory(Behaviour(), Behaviour(decision="SELL"))
    args = ["demo", "--proxy", proxy, "--admin", admin, "--tickers", "1", "--json"]
    returncode, out, err = await cli(*args, cwd=tmp_path, COLUMNS="40")
    assert returncode == 3, out + err  # the gate: mismatches on settled state
    report = orjson.loads(out)
    assert report["passed"] is False
    assert report["analyses"] == {"AAPL": "completed", "portfolio batch": "completed"}
    assert report["parity"]["analysis"]["mismatch"] >= 1
    settled = report["mismatches"]["settled"]
    assert report["mismatches"]["counted"] == len(settled) >= 1
    assert "decision" in settled[0]["fields"]
    assert report["diff_log_dir"] == "diff_logs"
    assert "analysis" in report["cutover"]["groups"]
    progress = err.splitlines()
    assert len(progress) >= 20  # piped: one plain line per step
    assert "\r" not in err
    assert all(len(line) <= 40 for line in progress), progress


async def test_demo_sends_the_dashboard_key(
    proxy_factory: Callable[[Behaviour, Behaviour], Awaitable[tuple[str, str]]], tmp_path: Path
) -> None:
    locked = Behaviour(api_key="k-123")
    proxy, admin = await proxy_factory(locked, locked)
    args = ["demo", "--proxy", proxy, "--admin", admin, "--tickers", "1"]
    returncode, out, err = await cli(*args, cwd=tmp_path)
    assert returncode == 1
    assert "answered 401" in err
    assert "--api-key or DASHBOARD_API_KEY" in err
    returncode, out, err = await cli(*args, "--api-key", "k-123", cwd=tmp_path)
    assert returncode == 0, out + err
    assert "parity: no mismatches" in out


async def test_demo_against_an_unreachable_proxy_exits_1(tmp_path: Path) -> None:
    args = ["demo", "--proxy", "http://127.0.0.1:9", "--admin", "http://127.0.0.1:9"]
    returncode, out, err = await cli(*args, cwd=tmp_path)
    assert returncode == 1
    assert "shadowproxy: error: demo stopped: cannot read http://127.0.0.1:9/metrics" in err
    assert out == ""


IN_FLIGHT_WORDS = frozenset({"running", "pending"})


def in_flight_evidence(difference: dict[str, Any]) -> bool:
    """A differing value only a side still in flight can show, once every analysis completed.

    A completed analysis is at progress 100, stage portfolio, every stage completed; a completed
    batch has no current ticker. Result fields are never compared in flight (lifecycle rule), so a
    difference on one of them never counts as evidence.
    """
    name = str(difference["field"]).rsplit(".", 1)[-1]
    values = (difference.get("legacy"), difference.get("app"))
    if name == "status" or str(difference["field"]).split(".")[-2:-1] == ["stages"]:
        return any(value in IN_FLIGHT_WORDS for value in values)
    if name == "progress":
        return any(isinstance(value, int) and value < 100 for value in values)
    if name == "current_stage":
        return any(value != "portfolio" for value in values)
    if name == "current_ticker":
        return any(value is not None for value in values)
    return False


def read_diff_log(directory: Path) -> list[dict[str, Any]]:
    return [
        orjson.loads(line)
        for path in sorted(directory.glob("diff-*.jsonl"))
        for line in path.read_bytes().splitlines()
    ]


@pytest.mark.slow
@pytest.mark.parametrize("authoritative", ["legacy", "app"])
async def test_demo_drives_the_real_stack(tmp_path: Path, authoritative: str) -> None:
    """Zero mismatches on settled state against the two real backends, either side in charge."""
    env = {
        "TA_STAGE_DELAY_MS": "0",
        "TA_APP_SERVICE_ENABLED": "1" if authoritative == "app" else "0",
        "SHADOWPROXY_LOG_MATCHES": "1",
        # with the app in charge, the dashboard in use is the v1alpha1 one: the legacy-era one
        # breaks on the app's answers, and its trigger would roll analysis back mid-demo
        "SHADOWPROXY_CONSUMERS": "v1alpha1-dashboard" if authoritative == "app" else "",
        # with no stage delay a run jumps from 0 to 100 % at once, so on a loaded machine a poll
        # between the two sides' finishes is a 0-vs-100 progress mismatch (beyond the skew rule's
        # 20 points) and two of them roll analysis back mid-demo; settled parity is the subject
        # here, the rollback guard has its own tests
        "SHADOWPROXY_AUTO_ROLLBACK": "off",
    }
    async with stack_up(tmp_path, env) as (proxy, admin):
        args = ["demo", "--proxy", proxy, "--admin", admin, "--tickers", "3"]
        returncode, out, err = await cli(*args, cwd=tmp_path, TA_STAGE_DELAY_MS="0")
    assert returncode == 0, out + err
    assert "parity: no mismatches on settled state" in out
    finished = "analyses: AAPL completed, MSFT completed, NVDA completed, portfolio batch completed"
    assert finished in out
    for group in ("analysis", "portfolio", "reports"):
        assert re.search(rf"^{group}\s+\d+", out, re.MULTILINE), out
    # the demo ends with the cutover readiness table: the app's answers against each dashboard
    readiness = out[out.index("cutover readiness:") :]
    analysis = readiness[readiness.index("\nanalysis\n") :]
    if authoritative == "legacy":
        blocked = re.search(r"legacy-dashboard\s+\d+\s+blocked \((.*)\)", analysis)
        assert blocked, readiness
        for field in ("decision", "confidence", "quant_signal", "llm_signal"):
            assert re.search(rf"\d+ breaks? on {field}\b", blocked[1]), blocked[1]
    assert re.search(r"v1alpha1-dashboard\s+\d+\s+(ready|not enough traffic)", analysis), readiness

    records = read_diff_log(tmp_path / "diff_logs")  # flushed: the proxy stopped
    assert {record["authoritative"] for record in records} == {authoritative}
    outcomes = Counter((record["route_group"], record["outcome"]) for record in records)
    assert {outcome for _, outcome in outcomes} <= {
        "match",
        "inflight_skew",
        "mismatch",
        "accepted",
    }
    # reports and portfolio are read once the analyses and the batch finished on both sides
    assert {outcome for group, outcome in outcomes if group != "analysis"} == {"match"}, outcomes
    settled_mismatches = [
        (record["path"], record["differences"])
        for record in records
        if record["outcome"] == "mismatch"
        and not any(in_flight_evidence(d) for d in record["differences"])
    ]
    assert settled_mismatches == []
    # the one real difference: AAPL, cancelled after it completed (a built-in known difference)
    [accepted] = [record for record in records if record["outcome"] == "accepted"]
    assert (accepted["route"], accepted["ticker"]) == ("/api/analysis/status/{task_id}", "AAPL")
    [known] = accepted["accepted"]
    assert (known["field"], known["legacy"], known["app"]) == ("error.cancel_notice", True, False)
    assert "reference §2.6" in known["reason"]
    # every analysis and the batch end on a read of its settled status that agrees
    last: dict[str, str] = {}
    for record in records:
        if record["route"] == "/api/analysis/status/{task_id}":
            last[record["ticker"] or record["task_id"]] = record["outcome"]
    assert len(last) == 4, last
    assert last.pop("AAPL") == "accepted"
    assert set(last.values()) == {"match"}, last
