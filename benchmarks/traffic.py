"""The soak's seeded dashboard traffic: what each answer looked like from the client's side.

`users` dashboard users, each with its own `random.Random` derived from the seed, loop until
stopped over two activities, as the TradingAgents dashboard does:

- an analysis: start one, follow it on its `/ws/analysis/{task_id}` websocket (one ping, answered
  by a pong; half of them offer permessage-deflate, as a browser does) while polling its status
  every `POLL_S` until it is terminal, now and then cancel it (while it runs, or after: the
  cancel of a finished analysis is where the backends really differ);
- browsing: the task list, a task's status, the reports list, one report, the CSV export, the
  watchlist, accounts, positions and recommendations, with a short think time between reads.

Every request and upgrade carries its own X-Request-ID. Bodies are read raw (no decompression)
and kept as digests, with the status, the timing and any transport error: what the soak checks
against what the authoritative backend itself sent (benchmarks/tap.py). A websocket is closed by
the client only once it saw a terminal snapshot and the pong of its ping (so the backend has
nothing more to send), or when its deadline passed; one closed by the server before a terminal
snapshot is reconnected once, as the dashboard does.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from benchmarks.tap import Clock, Message, digest
from shadowproxy.diff.view import is_terminal
from shadowproxy.ops.demo import TICKERS, TRADING_DATE

DATES = (TRADING_DATE, "2026-04-10", "2026-04-09")  # past NYSE trading days
ACCOUNT = "soak"
WATCHLIST = TICKERS[:3]
POLL_S = 0.5
FOLLOW_S = 30.0  # how long an analysis is polled and watched before the user gives up
ANALYSIS_SHARE = 0.45  # of a user's activities; the rest is browsing
CANCEL_RUNNING = 0.03  # per status poll of a running analysis
CANCEL_FINISHED = 0.1  # per finished analysis
DEFLATE_SHARE = 0.5  # of the websockets
REQUEST_TIMEOUT_S = 60.0
TIMEOUT = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
PING = orjson.dumps({"type": "ping"}).decode()


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP request as the client saw it; `status` None: a transport error (`error`)."""

    request_id: str
    kind: str
    method: str
    path: str
    started: float
    ended: float
    status: int | None
    digest: bytes | None
    error: str | None


@dataclass(slots=True)
class Watch:
    """One websocket as the client saw it."""

    request_id: str
    path: str
    started: float
    deflate: bool  # offered permessage-deflate
    status: int | None = None  # 101, the HTTP status of a refused upgrade, None: transport error
    messages: list[Message] = field(default_factory=list)
    server_close: int | None = None  # the code the server closed with
    client_closed_at: float | None = None  # when the client started closing, if it did
    ended: float = 0.0
    error: str | None = None


class Dashboard:
    """Seeded dashboard users against `base_url` until `stop` is set."""

    def __init__(self, base_url: str, *, seed: int, users: int, clock: Clock) -> None:
        self.base_url = base_url
        self.users = users
        self.seed = seed
        self.clock = clock
        self.calls: list[Call] = []
        self.watches: list[Watch] = []
        self.stop = asyncio.Event()
        self._finished: list[str] = []  # task ids of analyses seen terminal
        self._session: aiohttp.ClientSession | None = None

    async def run(self) -> None:
        connector = aiohttp.TCPConnector(limit=4 * self.users)
        async with aiohttp.ClientSession(
            connector=connector, timeout=TIMEOUT, auto_decompress=False
        ) as self._session:
            await self._setup()
            await asyncio.gather(
                *(self._user(random.Random(f"{self.seed}/{n}")) for n in range(self.users))
            )

    async def _setup(self) -> None:
        """A watchlist, an account and a position, so the portfolio reads have content."""
        for ticker in WATCHLIST:
            entry = {"ticker": ticker, "name": ticker}
            await self._call("setup", "POST", "/api/portfolio/watchlist", json=entry)
        await self._call("setup", "POST", "/api/portfolio/accounts", json={"account_name": ACCOUNT})
        position = {"ticker": WATCHLIST[0], "shares": 10, "cost_price": 100.0}
        position |= {"purchase_date": TRADING_DATE, "account": ACCOUNT}
        await self._call("setup", "POST", "/api/portfolio/positions", json=position)

    async def _user(self, rng: random.Random) -> None:
        while not self.stop.is_set():
            if rng.random() < ANALYSIS_SHARE:
                await self._analysis(rng)
            else:
                await self._browse(rng)
            await asyncio.sleep(rng.uniform(0.2, 1.0))  # think time

    async def _analysis(self, rng: random.Random) -> None:
        body = {"ticker": rng.choice(TICKERS), "date": rng.choice(DATES)}
        _, started = await self._call("start", "POST", "/api/analysis/start", json=body)
        task_id = started.get("task_id")
        if not isinstance(task_id, str):
            return
        await asyncio.gather(self._follow(task_id, rng), self._poll(task_id, rng))
        if rng.random() < CANCEL_FINISHED:
            await self._call("cancel", "DELETE", f"/api/analysis/cancel/{task_id}")

    async def _poll(self, task_id: str, rng: random.Random) -> None:
        deadline = self.clock() + FOLLOW_S
        while not self.stop.is_set() and self.clock() < deadline:
            call, state = await self._call("status", "GET", f"/api/analysis/status/{task_id}")
            if call.status == 404:
                return
            if is_terminal(state.get("status")):
                self._finished.append(task_id)
                return
            if call.status == 200 and rng.random() < CANCEL_RUNNING:
                await self._call("cancel", "DELETE", f"/api/analysis/cancel/{task_id}")
            await asyncio.sleep(POLL_S)

    async def _follow(self, task_id: str, rng: random.Random) -> None:
        """The task's websocket until a terminal snapshot; reconnected once if the server closes
        it before one. Half of them offer permessage-deflate, as browsers do."""
        deadline = self.clock() + FOLLOW_S
        for _ in range(2):
            path = f"/ws/analysis/{task_id}"
            watch = Watch(uuid.uuid4().hex, path, self.clock(), rng.random() < DEFLATE_SHARE)
            self.watches.append(watch)
            terminal = await self._watch(watch, deadline)
            watch.ended = self.clock()
            if terminal or watch.status != 101 or watch.client_closed_at is not None:
                return

    async def _watch(self, watch: Watch, deadline: float) -> bool:
        assert self._session is not None
        url = self.base_url + watch.path
        try:
            async with self._session.ws_connect(
                url,
                headers={"X-Request-ID": watch.request_id},
                compress=15 if watch.deflate else 0,
            ) as ws:
                watch.status = 101
                return await self._messages(ws, watch, deadline)
        except aiohttp.WSServerHandshakeError as exc:
            watch.status = exc.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            watch.error = type(exc).__name__
        return False

    async def _messages(
        self, ws: aiohttp.ClientWebSocketResponse, watch: Watch, deadline: float
    ) -> bool:
        """Whether a terminal snapshot came."""
        terminal, pinged, pongs = False, False, 0
        while not (terminal and pongs):  # the ping goes out after the first message
            left = deadline - self.clock()
            if self.stop.is_set() or left <= 0:
                break
            try:
                message = await ws.receive(timeout=min(left, 1.0))
            except TimeoutError:
                continue
            if message.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                watch.server_close = ws.close_code
                return terminal
            raw = message.data.encode() if isinstance(message.data, str) else message.data
            opcode = 1 if message.type is aiohttp.WSMsgType.TEXT else 2
            watch.messages.append(Message(opcode, digest(raw), self.clock()))
            snapshot = _json(raw)
            if snapshot.get("type") == "pong":
                pongs += 1
            elif is_terminal(snapshot.get("status")):
                terminal = True
            if not pinged:
                await ws.send_str(PING)
                pinged = True
        watch.client_closed_at = self.clock()
        await ws.close()
        return terminal

    async def _browse(self, rng: random.Random) -> None:
        reads: list[Callable[[], tuple[str, str]]] = [
            lambda: ("tasks", "/api/analysis/tasks"),
            lambda: ("reports", "/api/reports/list"),
            lambda: ("report", f"/api/reports/{rng.choice(TICKERS)}/{rng.choice(DATES)}"),
            lambda: ("export", "/api/reports/export"),
            lambda: ("watchlist", "/api/portfolio/watchlist"),
            lambda: ("accounts", "/api/portfolio/accounts"),
            lambda: ("positions", f"/api/portfolio/positions?account={ACCOUNT}"),
            lambda: ("recommendations", "/api/portfolio/recommendations"),
        ]
        if self._finished:
            task = rng.choice(self._finished)
            reads.append(lambda: ("status", f"/api/analysis/status/{task}"))
        for _ in range(rng.randint(3, 6)):
            if self.stop.is_set():
                return
            kind, path = rng.choice(reads)()
            await self._call(kind, "GET", path)
            await asyncio.sleep(rng.uniform(0.05, 0.3))

    async def _call(
        self, kind: str, method: str, path: str, *, json: dict[str, Any] | None = None
    ) -> tuple[Call, dict[str, Any]]:
        """One request: what the client saw, and its JSON object body (empty if it has none)."""
        assert self._session is not None
        request_id, started = uuid.uuid4().hex, self.clock()
        status: int | None = None
        body: bytes | None = None
        error: str | None = None
        try:
            async with self._session.request(
                method, self.base_url + path, json=json, headers={"X-Request-ID": request_id}
            ) as response:
                status = response.status
                body = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = type(exc).__name__
        call = Call(
            request_id,
            kind,
            method,
            path,
            started,
            self.clock(),
            status if error is None else None,
            None if body is None else digest(body),
            error,
        )
        self.calls.append(call)
        return call, _json(body or b"")


def _json(body: bytes) -> dict[str, Any]:
    try:
        loaded = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    return loaded if isinstance(loaded, dict) else {}
