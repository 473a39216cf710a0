"""`shadowproxy demo`: drive a realistic dashboard session through the proxy, then report parity.

The session touches every route group the dashboard uses — analyses started and polled to a
terminal state, one of them then cancelled, task list, reports, watchlist, accounts, positions, a
portfolio batch, recommendations — so the parity table afterwards says something about each
group. Cancelling a finished analysis is where the two backends really differ
(docs/upstream-contract.md §2.6), so a session shows the built-in known difference as `accepted`.
The table is the delta of the proxy's own `shadowproxy_comparisons_total` over the session, read
from the admin `/metrics` once the shadow work in flight has drained.

Only terminal states decide the exit code: two independently running backends are never at the
same moment of a lifecycle (docs/architecture.md, "Design rules"), so a status poll answered
while an analysis was still running — or a list read the moment the authoritative side finished,
while the shadow may still be writing — can legitimately disagree. The client sees only the
authoritative side, so a task counts as finished once the comparison of a terminal poll says the
shadow's twin finished too (see `Session.poll`); the reads after it (reports, recommendations)
then meet two finished tasks. Every request carries its own
X-Request-ID; at the end of the session every task, the task list and the recommendations are
read once more, and the mismatches counted are those of requests made on settled state, looked
up in the diff log by request id. Exit 0: no such mismatch; 3 (a gate failed): mismatches; 1: the
session could not run (proxy unreachable, a step failed). `DemoReport` is what the session found:
the text a person reads, or one JSON document (`--json`).
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import aiohttp
import orjson
from prometheus_client.parser import text_string_to_metric_families

from shadowproxy.cutover.render import render as render_cutover
from shadowproxy.diff.lifecycle import PROGRESS_FIELDS
from shadowproxy.diff.view import is_terminal
from shadowproxy.difflog.filters import Selection, Tally, selected
from shadowproxy.difflog.read import Skips
from shadowproxy.difflog.segments import segment_files
from shadowproxy.difflog.summary import parity_rows, parity_table
from shadowproxy.errors import DemoError
from shadowproxy.ops.options import ADMIN_URL
from shadowproxy.ops.progress import ProgressBar
from shadowproxy.types import Outcome

TICKERS = ("AAPL", "MSFT", "NVDA", "GOOGL", "AMZN", "META", "TSLA", "JPM")
TRADING_DATE = "2026-04-13"  # a past NYSE trading day: same inputs on every run
POLL_S = 0.25
SETTLE_TIMEOUT_S = 60.0
SHADOW_SETTLE_S = 30.0  # how long a terminal task waits for its shadow twin to finish too
STATUS_ROUTE = "/api/analysis/status/{task_id}"


@dataclass(frozen=True, slots=True)
class DemoOptions:
    proxy_url: str = "http://127.0.0.1:8000"
    admin_url: str = ADMIN_URL
    tickers: int = 3
    api_key: str | None = None
    timeout_s: float = 180.0
    diff_log_dir: Path = Path("diff_logs")


@dataclass(slots=True)
class Session:
    """The dashboard's HTTP calls; sorts request ids into settled and in-flight reads."""

    client: aiohttp.ClientSession
    options: DemoOptions
    bar: ProgressBar
    settled: set[str] = field(default_factory=set)
    in_flight: set[str] = field(default_factory=set)

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        ok: tuple[int, ...] = (200,),
        step: bool = True,
        settled: bool = True,
    ) -> Any:
        url = f"{self.options.proxy_url}{path}"
        request_id = uuid.uuid4().hex
        (self.settled if settled else self.in_flight).add(request_id)
        try:
            headers = {"X-Request-ID": request_id}
            async with self.client.request(method, url, json=json, headers=headers) as response:
                body = await response.read()
                if response.status not in ok:
                    detail = body[:200].decode(errors="replace")
                    if response.status == 401:
                        detail += " (the dashboard wants a key: --api-key or DASHBOARD_API_KEY)"
                    raise DemoError(f"{method} {path} answered {response.status}: {detail}")
                is_json = response.content_type == "application/json"
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DemoError(f"{method} {path} failed: {exc or type(exc).__name__}") from exc
        if step:
            self.bar.advance(f"{method} {path.split('?')[0]}")
        return (orjson.loads(body) if is_json else body), request_id

    async def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return (await self.call(method, path, **kwargs))[0]

    async def poll(self, task_id: str, label: str) -> str:
        """Poll a task's status until it is terminal on both sides; earlier polls are in flight.

        A terminal answer whose comparison was in-flight skew, or a mismatch on progress fields
        alone, means the shadow's twin is still running: poll again, for at most
        `SHADOW_SETTLE_S` (a mismatch that lasts is then reported as settled).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.timeout_s
        settle_by: float | None = None
        while True:
            before = await read_metrics(self.client, self.options.admin_url)
            state, request_id = await self.call(
                "GET", f"/api/analysis/status/{task_id}", step=False
            )
            word = state.get("status")
            status = str(word)
            if isinstance(word, str) and is_terminal(word):  # the diff core's vocabulary
                settle_by = settle_by or loop.time() + SHADOW_SETTLE_S
                after = await wait_drained(self.client, self.options.admin_url, self.bar)
                if not shadow_in_flight(after.since(before)) or loop.time() > settle_by:
                    self.bar.advance(f"{label}: {status}")
                    return status
                self.bar.note(f"{label}: {status}, the shadow's twin is still running")
            else:
                stage = state.get("current_ticker") or state.get("current_stage") or ""
                self.bar.note(f"{label}: {status} {stage} {state.get('progress', '')}".rstrip())
            self.settled.discard(request_id)
            self.in_flight.add(request_id)
            if loop.time() > deadline:
                raise DemoError(
                    f"{label} ({task_id}) still {status} after {self.options.timeout_s:g}s"
                )
            await asyncio.sleep(POLL_S)


def session_steps(tickers: int) -> int:
    """Steps the bar counts for `dashboard_session` plus the settled re-read."""
    return 6 * tickers + 18


async def dashboard_session(session: Session, tickers: list[str]) -> dict[str, str]:
    """The scripted session; returns the terminal status of each analysis and of the batch."""
    started = {}
    for ticker in tickers:
        body = {"ticker": ticker, "date": TRADING_DATE}
        started[ticker] = (await session.json("POST", "/api/analysis/start", json=body))["task_id"]
    outcomes = {
        ticker: await session.poll(task, f"analysis {ticker}") for ticker, task in started.items()
    }
    await session.call("DELETE", f"/api/analysis/cancel/{started[tickers[0]]}")
    await session.call("GET", "/api/analysis/tasks", settled=False)  # the shadow may lag

    await session.call("GET", "/api/reports/list")
    for ticker in tickers:
        await session.call("GET", f"/api/reports/{ticker}/{TRADING_DATE}", ok=(200, 404))
    await session.call("GET", "/api/reports/export")

    for ticker in tickers:  # 400: already on the watchlist (an earlier run): still a valid step
        entry = {"ticker": ticker, "name": ticker}
        await session.call("POST", "/api/portfolio/watchlist", json=entry, ok=(200, 400))
    await session.call("GET", "/api/portfolio/watchlist")

    account = f"demo-{uuid.uuid4().hex[:6]}"
    await session.call("POST", "/api/portfolio/accounts", json={"account_name": account})
    await session.call("GET", "/api/portfolio/accounts")
    position = {"ticker": tickers[0], "shares": 10, "cost_price": 100.0}
    position |= {"purchase_date": TRADING_DATE, "account": account}
    added = await session.json("POST", "/api/portfolio/positions", json=position)
    await session.call("GET", f"/api/portfolio/positions?account={account}")
    await session.call("GET", f"/api/portfolio/positions/export?account={account}")
    query = f"position_id={added['position_id']}&account={account}"
    await session.call("DELETE", f"/api/portfolio/positions/{tickers[0]}?{query}")
    await session.call("DELETE", f"/api/portfolio/accounts/{account}")

    batch = (await session.json("POST", "/api/portfolio/analyze"))["task_id"]
    outcomes["portfolio batch"] = await session.poll(batch, "portfolio batch")
    await session.call("GET", "/api/portfolio/recommendations", settled=False)
    for ticker in tickers:
        await session.call("DELETE", f"/api/portfolio/watchlist/{ticker}", ok=(200, 404))

    for task in [*started.values(), batch]:  # settled state, compared strictly
        await session.call("GET", f"/api/analysis/status/{task}")
    await session.call("GET", "/api/analysis/tasks")
    await session.call("GET", "/api/portfolio/recommendations")
    return outcomes


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The proxy's comparison counters at one moment (or the change between two)."""

    comparisons: Counter[tuple[str, str, str]]  # (route_group, route, outcome)
    fields: Counter[str]  # differing key fields, list indexes folded
    inflight: float = 0.0

    def since(self, before: Snapshot) -> Snapshot:
        return Snapshot(self.comparisons - before.comparisons, self.fields - before.fields)

    def per_group(self) -> Counter[tuple[str, str]]:
        """Comparisons per (route_group, outcome), the parity table's cells."""
        counts: Counter[tuple[str, str]] = Counter()
        for (group, _, outcome), n in self.comparisons.items():
            counts[(group, outcome)] += n
        return counts


def shadow_in_flight(delta: Snapshot) -> bool:
    """Whether the status comparisons in `delta` show one side still running."""
    outcomes = {outcome for (_, route, outcome) in delta.comparisons if route == STATUS_ROUTE}
    if Outcome.INFLIGHT_SKEW in outcomes:
        return True
    return Outcome.MISMATCH in outcomes and all(
        field in PROGRESS_FIELDS or field.startswith("stages.") for field in delta.fields
    )


async def read_metrics(client: aiohttp.ClientSession, admin_url: str) -> Snapshot:
    """The comparison counters and the shadows in flight, from the admin endpoint."""
    try:
        async with client.get(f"{admin_url}/metrics") as response:
            if response.status != 200:
                raise DemoError(f"{admin_url}/metrics answered {response.status}")
            text = await response.text()
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise DemoError(f"cannot read {admin_url}/metrics: {exc or type(exc).__name__}") from exc
    comparisons: Counter[tuple[str, str, str]] = Counter()
    fields: Counter[str] = Counter()
    inflight = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "shadowproxy_comparisons_total":
                key = (labels.get("route_group", ""), labels.get("route", ""), labels["outcome"])
                comparisons[key] += int(sample.value)
            elif sample.name == "shadowproxy_field_mismatches_total":
                fields[labels.get("field", "")] += int(sample.value)
            elif sample.name == "shadowproxy_shadow_inflight":
                inflight = sample.value
    return Snapshot(comparisons, fields, inflight)


async def read_cutover(client: aiohttp.ClientSession, admin_url: str) -> dict[str, Any]:
    """The cutover readiness report the demo ends with."""
    try:
        async with client.get(f"{admin_url}/cutover") as response:
            if response.status != 200:
                raise DemoError(f"{admin_url}/cutover answered {response.status}")
            report: dict[str, Any] = orjson.loads(await response.read())
    except (aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError) as exc:
        raise DemoError(f"cannot read {admin_url}/cutover: {exc or type(exc).__name__}") from exc
    return report


async def wait_drained(client: aiohttp.ClientSession, admin_url: str, bar: ProgressBar) -> Snapshot:
    deadline = asyncio.get_running_loop().time() + SETTLE_TIMEOUT_S
    while True:
        snapshot = await read_metrics(client, admin_url)
        if snapshot.inflight == 0:
            return snapshot
        bar.note(f"waiting for {snapshot.inflight:g} shadow comparisons in flight")
        if asyncio.get_running_loop().time() > deadline:
            raise DemoError(
                f"{snapshot.inflight:g} shadow comparisons in flight after {SETTLE_TIMEOUT_S:g}s"
            )
        await asyncio.sleep(POLL_S)


async def settled_mismatches(
    session: Session, since: datetime, expected: int
) -> tuple[list[dict[str, Any]], int] | None:
    """(mismatch records of settled reads, in-flight ones) from the diff log; None if unreadable.

    The sink writes off the event loop, so wait (bounded) until all `expected` records landed.
    """
    directory = session.options.diff_log_dir
    selection = Selection(since=since, outcome=Outcome.MISMATCH)
    ours = session.settled | session.in_flight

    def read() -> list[dict[str, Any]]:
        records = selected(segment_files(directory), selection, Skips(), Tally())
        return [record for record in records if record.get("request_id") in ours]

    deadline = asyncio.get_running_loop().time() + 5.0
    while True:
        try:
            records = await asyncio.to_thread(read)
        except OSError:
            return None
        if len(records) >= expected or asyncio.get_running_loop().time() > deadline:
            settled = [r for r in records if r.get("request_id") in session.settled]
            return settled, len(records) - len(settled)
        await asyncio.sleep(POLL_S)


@dataclass(frozen=True, slots=True)
class DemoReport:
    """What a session found: `text()` for a person, `document()` for `--json`."""

    analyses: dict[str, str]  # the terminal status of each analysis and of the batch
    parity: Counter[tuple[str, str]]  # comparisons per (route group, outcome) over the session
    mismatches: int  # every mismatch the proxy counted over the session
    settled: list[dict[str, Any]] | None  # mismatch records of settled reads; None: no diff log
    in_flight: int  # mismatch records of in-flight reads (lifecycle skew)
    cutover: dict[str, Any]  # the cutover readiness report at the end
    diff_log_dir: Path

    @property
    def counted(self) -> int:
        """The mismatches that fail the session: settled ones, or every one without a diff log."""
        return self.mismatches if self.settled is None else len(self.settled)

    @property
    def passed(self) -> bool:
        return self.counted == 0

    def text(self) -> str:
        lines = [
            "analyses: " + ", ".join(f"{k} {v}" for k, v in self.analyses.items()),
            parity_table(self.parity),
        ]
        if self.settled is None:
            lines.append(f"(no diff log at {self.diff_log_dir}: every mismatch counts)")
        else:
            if self.in_flight:
                lines.append(f"{self.in_flight} mismatches on in-flight reads: lifecycle skew")
            for record in self.settled[:10]:
                fields = ", ".join(_fields(record))
                lines.append(
                    f"  mismatch {record.get('route')}: {fields} [{record.get('comparison_id')}]"
                )
        lines += ["", render_cutover(self.cutover), ""]
        if self.counted:
            lines.append(f"parity: {self.counted} mismatches on settled state (shadowproxy diffs)")
        else:
            lines.append("parity: no mismatches on settled state")
        return "\n".join(lines)

    def document(self) -> dict[str, Any]:
        settled = None
        if self.settled is not None:
            settled = [
                {
                    "route": record.get("route"),
                    "fields": _fields(record),
                    "comparison_id": record.get("comparison_id"),
                }
                for record in self.settled
            ]
        return {
            "analyses": self.analyses,
            "parity": parity_rows(self.parity),
            "mismatches": {
                "counted": self.counted,
                "total": self.mismatches,
                "in_flight": self.in_flight,
                "settled": settled,
            },
            "diff_log_dir": None if self.settled is None else str(self.diff_log_dir),
            "cutover": self.cutover,
            "passed": self.passed,
        }


def _fields(record: dict[str, Any]) -> list[str]:
    return [str(d.get("field", "?")) for d in record.get("differences", [])]


async def run_demo(options: DemoOptions, *, err: TextIO = sys.stderr) -> DemoReport:
    """The session and what it found; DemoError when it could not run to the end."""
    tickers = list(TICKERS[: options.tickers])
    headers = {"api-key": options.api_key} if options.api_key else {}
    bar = ProgressBar(session_steps(len(tickers)), stream=err)
    since = datetime.now(UTC)
    async with aiohttp.ClientSession(
        headers=headers, timeout=aiohttp.ClientTimeout(total=30)
    ) as client:
        session = Session(client, options, bar)
        try:
            before = await read_metrics(client, options.admin_url)
            outcomes = await dashboard_session(session, tickers)
            after = await wait_drained(client, options.admin_url, bar)
            delta = after.since(before).per_group()
            total = sum(n for (_, outcome), n in delta.items() if outcome == Outcome.MISMATCH)
            found = await settled_mismatches(session, since, total)
            readiness = await read_cutover(client, options.admin_url)
        except DemoError as exc:
            raise DemoError(f"demo stopped: {exc}") from exc
        finally:
            bar.finish()
    settled, in_flight = found if found is not None else (None, 0)
    return DemoReport(outcomes, delta, total, settled, in_flight, readiness, options.diff_log_dir)
