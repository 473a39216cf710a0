"""`make soak` / `python -m benchmarks.soak`: the real stack under dashboard traffic and shadow
faults for a bounded time (10 minutes; `SOAK_SECONDS` or `--seconds` to shorten), loopback only.

What runs: the two real backends, started and supervised by `shadowproxy up`'s own code
(`shadowproxy.ops.stack`; the command itself cannot restart a child nor put a relay in front of
one: a child that exits stops the whole stack), the real proxy (`shadowproxy run`, default
settings but `SHADOWPROXY_LOG_MATCHES=1`), and in this process two relays (benchmarks/chaos.py):
a chaos relay between the proxy and the shadow (app) backend that resets, stalls, delays and
refuses at random, and a fault-free one between the proxy and the authoritative (legacy) backend
that records what legacy answered (benchmarks/tap.py). Seeded dashboard users
(benchmarks/traffic.py) drive HTTP and websocket traffic through the proxy. Each backend is
restarted once, legacy at 35% of the run and the app at 65%; the HTTP edge fuzz runs for a quarter
of the run from its first third, when its test exists.

What it reports, each criterion met or not (exit 1 when one is not):

1. Client-visible differences caused by the shadow: 0. Every answer the client got (status and
   body digest; a websocket's messages in order and its close code) is compared with what the
   authoritative backend itself sent for that very request, found by X-Request-ID on the tap:
   byte for byte what a direct client would have got, with no second run to line up. An answer
   legacy never gave (it was down) that the proxy turned into a 502 or 504, or a websocket legacy
   dropped, is a client-visible error of the authoritative restart when it overlaps legacy's
   downtime (plus `RESTART_GRACE_S`); it is counted and explained apart. Anything else is a
   difference, including any error outside that window.
2. Comparisons published vs diff-log records: 0 lost. With matches logged every published
   comparison must be a record: `shadowproxy_comparisons_total` (by group, route, outcome) equals
   the records found in every segment (`.jsonl` and rotated `.N.jsonl.gz`), the sink dropped and
   failed none, no comparison id repeats. Requests the proxy shadowed without a comparison are
   accounted for by name: the skips decided before any shadow call (`UNSHADOWED`: shadowing off,
   sampled out, at capacity, side-effect policy) and aborted shadows
   (`shadowproxy_shadow_failures_total`); with those, every HTTP request the client sent is
   either a record or one of them.
3. The proxy's RSS, sampled from /proc every `SAMPLE_S`: the mean of the last minute within 10%
   of the second minute's (runs under 3 minutes: the last and second thirds). Part of the proxy's
   state is bounded by time, not size, and fills for as long as its window: cutover readiness
   keeps one-minute buckets for `SHADOWPROXY_CUTOVER_WINDOW_S` (an hour), so a 10-minute run sees
   it grow, not level off (with that window and `SHADOWPROXY_PARITY_WINDOW_S` at 60 s, the same
   traffic levelled off after 3 minutes).

It also checks that the run is worth its figures (the full duration ran, each backend restarted
once, every kind of fault was injected) and writes JSON and markdown to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from prometheus_client.samples import Sample
from yarl import URL

from benchmarks.chaos import ChaosRelay, Fault, Faults
from benchmarks.load import LoadResult
from benchmarks.proxy import RunningProxy, metric_samples, run_proxy
from benchmarks.tap import Tap
from benchmarks.traffic import REQUEST_TIMEOUT_S, Call, Dashboard, Watch
from shadowproxy.difflog.read import Skips, read_records
from shadowproxy.difflog.segments import segment_files
from shadowproxy.errors import StackError
from shadowproxy.ops.stack import APP_READY, LEGACY_READY, Stack, StackOptions
from shadowproxy.publish import PUBLISH_STAGE
from shadowproxy.types import UNSHADOWED, RouteGroup

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
FUZZ_TEST = REPO / "tests" / "shadowproxy" / "http" / "test_app_fuzz.py"
DEFAULT_SECONDS = 600
DEFAULT_SEED = 13
DEFAULT_USERS = 6
MIN_SECONDS = 30
SAMPLE_S = 2.0
PROGRESS_S = 60.0
RSS_TOLERANCE = 0.10
BACKENDS = {"legacy": ("legacy_backend", LEGACY_READY), "app": ("app_service", APP_READY)}
RESTART_AT = {"legacy": 0.35, "app": 0.65}  # share of the run
# legacy under load takes over `shadowproxy up`'s 10 s to stop: it lets open websockets and
# running analyses go on for its own 5 s shutdown timeout, then kills and reaps the analyses
STOP_GRACE_S = 30.0
RESTART_GRACE_S = 2.0  # after legacy is back: connections pooled to the old process still fail
TRANSIT_S = 1.0  # a message the backend sent this long before the client closed must have arrived
SETTLE_S = 12.0  # counts still this long: websocket comparisons (SHADOWPROXY_WS_SETTLE_S 10) done
QUIESCE_TIMEOUT_S = 90.0
PROXY_ENV = {"SHADOWPROXY_LOG_MATCHES": "1"}  # every comparison is a record: none may go missing
WS_GROUPS = frozenset({RouteGroup.WS_ANALYSIS.value, RouteGroup.WS_ORCHESTRATOR.value})
UNSHADOWED_REASONS = frozenset(reason.value for reason in UNSHADOWED)
IDENTICAL, RESTART, DIFFERENT = "identical", "authoritative restart", "different"
EXAMPLES = 20


def shadow_faults(seconds: float) -> Faults:
    """The chaos on the shadow side, per chunk relayed: 1% resets, 0.3% stalls, 5% delays; and
    a refusal in every fifth of the run (at most one every 20 s)."""
    return Faults(
        reset=0.01,
        stall=0.003,
        delay=0.05,
        stall_s=(1.0, 12.0),  # the longer ones outlast SHADOWPROXY_SHADOW_TIMEOUT_S (10 s)
        delay_s=(0.01, 0.3),
        refuse_every_s=max(seconds / 5, 20.0),
        refuse_s=(0.5, 4.0),
    )


@dataclass(frozen=True, slots=True)
class SoakOptions:
    seconds: float = DEFAULT_SECONDS
    seed: int = DEFAULT_SEED
    users: int = DEFAULT_USERS
    results: Path = RESULTS
    keep: bool = False  # keep the work folder (diff logs, process logs) even when all is met


@dataclass(frozen=True, slots=True)
class Window:
    """When one backend was down for its restart, in seconds since the traffic started."""

    side: str
    down_s: float
    up_s: float

    def covers(self, start_s: float, end_s: float) -> bool:
        return start_s <= self.up_s + RESTART_GRACE_S and end_s >= self.down_s


@dataclass(slots=True)
class Counters:
    """What the proxy's /metrics said at the end."""

    comparisons: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    skipped: Counter[tuple[str, str]] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    difflog: Counter[str] = field(default_factory=Counter)
    requests: Counter[str] = field(default_factory=Counter)  # by status code
    inflight: float = 0.0

    @classmethod
    def read(cls, samples: Iterable[Sample]) -> Counters:
        counters = cls()
        for sample in samples:
            labels, value = sample.labels, int(sample.value)
            match sample.name:
                case "shadowproxy_comparisons_total":
                    key = (labels["route_group"], labels["route"], labels["outcome"])
                    counters.comparisons[key] += value
                case "shadowproxy_shadow_skipped_total":
                    counters.skipped[(labels["route_group"], labels["reason"])] += value
                case "shadowproxy_shadow_failures_total":
                    counters.failures[labels["stage"]] += value
                case "shadowproxy_difflog_records_total":
                    counters.difflog[labels["result"]] += value
                case "shadowproxy_requests_total":
                    counters.requests[labels["code"]] += value
                case "shadowproxy_shadow_inflight":
                    counters.inflight = sample.value
        return counters

    @property
    def published(self) -> int:
        return sum(self.comparisons.values())

    @property
    def logged(self) -> int:
        return sum(self.difflog.values())


@dataclass(slots=True)
class LogCount:
    """The diff-log records found on disk, every segment."""

    records: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    skip_reasons: Counter[str] = field(default_factory=Counter)  # of the `skipped` records
    duplicate_ids: int = 0
    unreadable: int = 0
    files: dict[str, int] = field(default_factory=dict)  # name: bytes

    @classmethod
    def read(cls, directory: Path) -> LogCount:
        count, seen = cls(), set[str]()
        files = segment_files(directory)
        count.files = {path.name: path.stat().st_size for path in files}
        skips = Skips()
        for record in read_records(files, skips):
            key = (record["route_group"], record["route"], record["outcome"])
            count.records[key] += 1
            count.kinds[record["kind"]] += 1
            if record["outcome"] == "skipped":
                count.skip_reasons[record["reason"]] += 1
            if record["comparison_id"] in seen:
                count.duplicate_ids += 1
            seen.add(record["comparison_id"])
        count.unreadable = sum(skips.lines.values()) + len(skips.files)
        return count


@dataclass(frozen=True, slots=True)
class Criterion:
    name: str
    met: bool
    detail: str


class _Soak(Stack):
    """`shadowproxy up`'s supervisor, with relays between the proxy and the backends, traffic,
    and each backend restarted once on the same port."""

    def __init__(self, options: SoakOptions, workdir: Path, started: datetime, log: TextIO):
        stack = StackOptions(
            var_dir=workdir / "var", legacy_port=0, app_port=0, grace_s=STOP_GRACE_S
        )
        super().__init__(stack, dict(os.environ), log, log)
        self.soak = options
        self.workdir = workdir
        self.started = started
        self.report: dict[str, Any] | None = None
        self._clock = asyncio.get_running_loop().time
        self._t0 = 0.0

    def _now(self) -> float:
        return self._clock() - self._t0

    async def _start_and_watch(self) -> int:
        ports = {}
        for name, (module, ready) in BACKENDS.items():
            match = await self._launch(name, self._backend_argv(module, 0, name), ready)
            ports[name] = URL(match[1]).port or 0
        tap = Tap(self._now)  # the clock the traffic keeps: seconds since it started
        faults = shadow_faults(self.soak.seconds)
        async with contextlib.AsyncExitStack() as stack:
            tapped = await stack.enter_async_context(ChaosRelay(ports["legacy"], observe=tap))
            chaos = await stack.enter_async_context(
                ChaosRelay(ports["app"], faults, seed=self.soak.seed)
            )
            log = self.workdir / "proxy.log"
            try:
                proxy = await stack.enter_async_context(
                    run_proxy(tapped.url, chaos.url, self.workdir, PROXY_ENV, log=log)
                )
            except RuntimeError as exc:
                raise StackError(f"{exc} (its log: {log})") from exc
            run = await self._run(proxy, ports)
            counters = await _quiesce(proxy.admin_url, self._clock)
        log_count = LogCount.read(self.workdir / "diff_logs")
        run.tap_unreachable = tapped.unreachable
        self.report = _report(self.soak, self.started, run, tap, chaos, counters, log_count)
        return 0

    async def _run(self, proxy: RunningProxy, ports: dict[str, int]) -> _Run:
        seconds = self.soak.seconds
        dashboard = Dashboard(
            proxy.url, seed=self.soak.seed, users=self.soak.users, clock=self._now
        )
        run = _Run(dashboard)
        self._t0 = self._clock()
        traffic = self.tasks.spawn(dashboard.run(), name="soak traffic")
        sampler = self.tasks.spawn(self._sample(proxy, run), name="soak samples")
        timeline = self.tasks.spawn(self._restarts(ports, run.windows), name="soak restarts")
        fuzzing = self.tasks.spawn(self._fuzz(run), name="soak fuzz")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop_requested.wait(), seconds)
        run.interrupted = self.stop_requested.is_set()
        if run.interrupted:
            timeline.cancel()
            fuzzing.cancel()
        dashboard.stop.set()
        await asyncio.wait_for(traffic, REQUEST_TIMEOUT_S + 10)  # each user ends its step
        run.traffic_s, run.proxy_cpu_s = self._now(), proxy.cpu_seconds()
        for task in (timeline, fuzzing):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        sampler.cancel()
        return run

    async def _sample(self, proxy: RunningProxy, run: _Run) -> None:
        """RSS and the shadows in flight every `SAMPLE_S`, a progress line every `PROGRESS_S`."""
        every = max(1, round(PROGRESS_S / SAMPLE_S))
        while True:
            now = round(self._now(), 1)
            run.rss.append((now, proxy.rss_kib()))
            run.inflight.append(
                (now, Counters.read(await metric_samples(proxy.admin_url)).inflight)
            )
            if len(run.rss) % every == 0:
                calls, watches = len(run.dashboard.calls), len(run.dashboard.watches)
                _say(
                    f"{self._now():.0f}/{self.soak.seconds:g} s: {calls} requests, {watches} "
                    f"websockets, proxy RSS {run.rss[-1][1] / 1024:.1f} MiB"
                )
            await asyncio.sleep(SAMPLE_S)

    async def _restarts(self, ports: dict[str, int], windows: list[Window]) -> None:
        """Each backend once, on its own port, at its share of the run."""
        for name, share in RESTART_AT.items():
            await asyncio.sleep(max(0.0, share * self.soak.seconds - self._now()))
            index = next(i for i, child in enumerate(self.children) if child.name == name)
            down = self._now()
            self.say(await self.children[index].stop(self.options.grace_s, self.force))
            module, ready = BACKENDS[name]
            await self._launch(name, self._backend_argv(module, ports[name], name), ready)
            self.children[index] = self.children.pop()  # the stop order stays the stack's
            windows.append(Window(name, round(down, 2), round(self._now(), 2)))
            _say(f"{name} restarted: down from {down:.1f} s to {self._now():.1f} s")

    async def _fuzz(self, run: _Run) -> None:
        """The HTTP edge fuzz, from a third of the run, for a quarter."""
        seconds = int(max(10, self.soak.seconds / 4))
        await asyncio.sleep(self.soak.seconds / 3)
        out = self.workdir / "fuzz.log"
        with out.open("wb") as sink:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                f"--timeout={seconds + 120}", str(FUZZ_TEST),
                cwd=REPO, env={**os.environ, "SHADOWPROXY_FUZZ_SECONDS": str(seconds)},
                stdout=sink, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
        try:
            code = await process.wait()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        tail = out.read_text(errors="replace").strip().splitlines()[-3:]
        run.fuzz = {"seconds": seconds, "exit_code": code, "tail": tail}


def _say(message: str) -> None:
    print(f"soak: {message}", flush=True)


@dataclass(slots=True)
class _Run:
    dashboard: Dashboard
    rss: list[tuple[float, int]] = field(default_factory=list)  # (s, KiB)
    inflight: list[tuple[float, float]] = field(default_factory=list)  # (s, shadows in flight)
    windows: list[Window] = field(default_factory=list)
    fuzz: dict[str, Any] | None = None
    interrupted: bool = False
    traffic_s: float = 0.0
    proxy_cpu_s: float = 0.0
    tap_unreachable: int = 0  # connections to legacy the tap could not make (it was down)


async def _quiesce(admin_url: str, clock: Callable[[], float]) -> Counters:
    """The counters once every comparison is published and logged: nothing in flight and the
    counts still for `SETTLE_S` (or whatever they are after `QUIESCE_TIMEOUT_S`)."""
    deadline, still = clock() + QUIESCE_TIMEOUT_S, (-1, -1)
    since = clock()
    while True:
        counters = Counters.read(await metric_samples(admin_url))
        now = (counters.published, counters.logged)
        if now != still:
            still, since = now, clock()
        elif counters.inflight == 0 and clock() - since >= SETTLE_S:
            return counters
        if clock() > deadline:
            return counters
        await asyncio.sleep(0.5)


# ---------------------------------------------------------------------- criterion 1: the client


def classify_call(call: Call, tap: Tap, windows: list[Window]) -> str:
    """The client's answer against legacy's own answer to the same request."""
    answers = tap.answers.get(call.request_id)
    if answers:
        answer = answers[-1]  # an earlier one: a request aiohttp retried on a fresh connection
        same = call.status == answer.status and call.digest == answer.digest
        return IDENTICAL if same else DIFFERENT
    return _unanswered(call.status, call.started, call.ended, windows)


def classify_watch(watch: Watch, tap: Tap, windows: list[Window]) -> str:
    """The client's websocket against the one legacy spoke for the same upgrade."""
    if watch.status != 101:  # refused or failed: an HTTP answer, compared on its status
        answers = tap.answers.get(watch.request_id)
        if answers:
            return IDENTICAL if answers[-1].status == watch.status else DIFFERENT
        return _unanswered(watch.status, watch.started, watch.ended, windows)
    socket = tap.sockets.get(watch.request_id)
    if socket is None:
        return DIFFERENT
    got = [(m.opcode, m.digest) for m in watch.messages]
    if got != [(m.opcode, m.digest) for m in socket.messages[: len(got)]]:
        return DIFFERENT
    unseen = socket.messages[len(got) :]
    if watch.client_closed_at is not None:  # what was still on its way then is not lost
        late = all(m.at >= watch.client_closed_at - TRANSIT_S for m in unseen)
        return IDENTICAL if late else DIFFERENT
    if not unseen and socket.close_code is not None and socket.close_code == watch.server_close:
        return IDENTICAL
    return _unanswered(None, watch.started, watch.ended, windows)


def _unanswered(status: int | None, start_s: float, end_s: float, windows: list[Window]) -> str:
    """Legacy gave no (complete) answer: a gateway error the proxy had to give, during legacy's
    restart, is the restart's; anything else is a difference."""
    gateway = status is None or status in (502, 504)
    restart = any(w.side == "legacy" and w.covers(start_s, end_s) for w in windows)
    return RESTART if gateway and restart else DIFFERENT


def _client(run: _Run, tap: Tap) -> dict[str, Any]:
    dashboard = run.dashboard
    calls = {c.request_id: classify_call(c, tap, run.windows) for c in dashboard.calls}
    watches = {w.request_id: classify_watch(w, tap, run.windows) for w in dashboard.watches}
    errors: Counter[str] = Counter()
    for call in dashboard.calls:
        if call.status is None or call.status >= 500:
            errors[f"{calls[call.request_id]}: {call.status or call.error}"] += 1
    differences = [
        _call_detail(c, tap) for c in dashboard.calls if calls[c.request_id] == DIFFERENT
    ] + [_watch_detail(w, tap) for w in dashboard.watches if watches[w.request_id] == DIFFERENT]
    latencies = tuple(c.ended - c.started for c in dashboard.calls if c.status is not None)
    load = LoadResult(latencies, max(run.traffic_s, 1.0), len(dashboard.calls) - len(latencies))
    return {
        "http": {"calls": len(calls), **Counter(calls.values())},
        "http_by_kind": dict(Counter(c.kind for c in dashboard.calls)),
        "websockets": {
            "sessions": len(watches),
            "deflate_offered": sum(w.deflate for w in dashboard.watches),
            **Counter(watches.values()),
        },
        "websocket_messages": sum(len(w.messages) for w in dashboard.watches),
        "differences": len(differences),
        "difference_examples": differences[:EXAMPLES],
        "client_visible_errors": dict(errors),
        "latency_ms": {"p50": round(load.p50_ms, 1), "p95": round(load.p95_ms, 1)},
        "requests_per_s": round(load.throughput, 1),
        "tap": {
            "unparsed": dict(tap.unparsed),
            "truncated_answers": tap.truncated,
            "connections_legacy_refused": run.tap_unreachable,
            "requests_the_client_did_not_send": len(
                (set(tap.answers) | set(tap.sockets)) - set(calls) - set(watches)
            ),
        },
    }


def _during(window: Window, run: _Run, tap: Tap) -> dict[str, Any]:
    """What the client saw of one restart: the requests and websockets overlapping it (with the
    grace after it), by verdict and by what the client got."""
    calls: Counter[str] = Counter()
    for call in run.dashboard.calls:
        if window.covers(call.started, call.ended):
            calls[f"{classify_call(call, tap, run.windows)}: {call.status or call.error}"] += 1
    watches: Counter[str] = Counter()
    for watch in run.dashboard.watches:
        if window.covers(watch.started, watch.ended):
            got = (
                "closed by the client" if watch.client_closed_at else f"close {watch.server_close}"
            )
            verdict = classify_watch(watch, tap, run.windows)
            watches[f"{verdict}: {watch.status or watch.error}, {got}"] += 1
    return {"requests": dict(calls), "websockets": dict(watches)}


def _call_detail(call: Call, tap: Tap) -> dict[str, Any]:
    legacy = [answer.status for answer in tap.answers.get(call.request_id, ())]
    return {
        "kind": call.kind,
        "request": f"{call.method} {call.path}",
        "request_id": call.request_id,
        "at_s": round(call.started, 2),
        "client": call.status or call.error,
        "legacy": legacy or "no answer",
    }


def _watch_detail(watch: Watch, tap: Tap) -> dict[str, Any]:
    socket = tap.sockets.get(watch.request_id)
    return {
        "kind": "websocket",
        "request": f"GET {watch.path}",
        "request_id": watch.request_id,
        "at_s": round(watch.started, 2),
        "client": {"status": watch.status, "messages": len(watch.messages)}
        | {"close": watch.server_close, "closed_by_client": watch.client_closed_at is not None},
        "legacy": "no websocket"
        if socket is None
        else {"messages": len(socket.messages), "close": socket.close_code},
    }


# ---------------------------------------------------------------------- criterion 2: the diff log


def _difflog(
    counters: Counters, log: LogCount, calls: int, inflight: list[tuple[float, float]]
) -> dict[str, Any]:
    records = sum(log.records.values())
    unequal = {
        " ".join(key): {"published": counters.comparisons[key], "records": log.records[key]}
        for key in sorted(set(counters.comparisons) | set(log.records))
        if counters.comparisons[key] != log.records[key]
    }
    unshadowed = {
        f"{group} {reason}": n
        for (group, reason), n in sorted(counters.skipped.items())
        if reason in UNSHADOWED_REASONS and n
    }
    http_unshadowed = sum(
        n
        for (group, reason), n in counters.skipped.items()
        if reason in UNSHADOWED_REASONS and group not in WS_GROUPS
    )
    aborted = sum(n for stage, n in counters.failures.items() if stage != PUBLISH_STAGE)
    return {
        "published": counters.published,
        "records_on_disk": records,
        "lost": counters.published - records,
        "sink": dict(counters.difflog),
        "unequal_by_route_and_outcome": unequal,
        "duplicate_comparison_ids": log.duplicate_ids,
        "unreadable_lines": log.unreadable,
        "segments": log.files,
        "records_by_kind": dict(log.kinds),
        "outcomes": dict(_by_outcome(counters)),
        "skipped_records_by_reason": dict(log.skip_reasons),
        # queue_full: the SHADOWPROXY_MAX_INFLIGHT_SHADOWS bound was reached (when: this series)
        "shadows_in_flight": {
            "peak": max((n for _, n in inflight), default=0),
            "at_s": max(inflight, key=lambda sample: sample[1], default=(None, 0))[0],
            "series": inflight,
        },
        # shadowed or not, each client HTTP request is a record, an unshadowed skip or aborted
        "http_accounting": {
            "client_requests": calls,
            "records": log.kinds["http"],
            "unshadowed_skips": http_unshadowed,
            "aborted_shadows": aborted,
            "unaccounted": calls - log.kinds["http"] - http_unshadowed - aborted,
        },
        "not_written_by_design": {
            "unshadowed_skips": unshadowed,
            "shadow_failures_by_stage": dict(counters.failures),
        },
        "proxy_requests_by_code": dict(counters.requests),
    }


def _by_outcome(counters: Counters) -> Counter[str]:
    outcomes: Counter[str] = Counter()
    for (_, _, outcome), n in counters.comparisons.items():
        outcomes[outcome] += n
    return outcomes


def _lossless(difflog: dict[str, Any]) -> bool:
    sink, accounting = difflog["sink"], difflog["http_accounting"]
    return (
        difflog["lost"] == 0
        and sink.get("written", 0) == difflog["records_on_disk"]
        and sink.get("dropped", 0) == 0
        and sink.get("failed", 0) == 0
        and not difflog["unequal_by_route_and_outcome"]
        and difflog["duplicate_comparison_ids"] == 0
        and difflog["unreadable_lines"] == 0
        # an aborted shadow may have been a websocket's: then fewer HTTP ones are missing
        and -accounting["aborted_shadows"] <= accounting["unaccounted"] <= 0
    )


# ---------------------------------------------------------------------- criterion 3: memory


def _rss(series: list[tuple[float, int]], seconds: float) -> dict[str, Any]:
    window = 60.0 if seconds >= 180 else seconds / 3
    second = [kib for t, kib in series if window <= t < 2 * window]
    last = [kib for t, kib in series if seconds - window <= t <= seconds]
    second_mib = statistics.fmean(second) / 1024 if second else None
    last_mib = statistics.fmean(last) / 1024 if last else None
    ratio = None if not second_mib or last_mib is None else last_mib / second_mib
    return {
        "interval_s": SAMPLE_S,
        "window_s": round(window, 1),
        "second_window_mib": None if second_mib is None else round(second_mib, 2),
        "last_window_mib": None if last_mib is None else round(last_mib, 2),
        "ratio": None if ratio is None else round(ratio, 4),
        "peak_mib": round(max((kib for _, kib in series), default=0) / 1024, 2),
        "series": [[t, round(kib / 1024, 2)] for t, kib in series],
    }


# ---------------------------------------------------------------------- the report


def _report(
    options: SoakOptions,
    started: datetime,
    run: _Run,
    tap: Tap,
    chaos: ChaosRelay,
    counters: Counters,
    log: LogCount,
) -> dict[str, Any]:
    client = _client(run, tap)
    difflog = _difflog(counters, log, len(run.dashboard.calls), run.inflight)
    rss = _rss(run.rss, options.seconds)
    injected = {fault.value: chaos.counts[fault] for fault in Fault}
    restarted = [w.side for w in run.windows]
    criteria = [
        Criterion(
            "client-visible differences caused by the shadow",
            client["differences"] == 0,
            f"{client['differences']} of {client['http']['calls']} HTTP answers and "
            f"{client['websockets']['sessions']} websockets differ from legacy's own answers",
        ),
        Criterion(
            "comparisons published vs diff-log records (0 lost)",
            _lossless(difflog),
            f"{difflog['published']} published, {difflog['records_on_disk']} on disk in "
            f"{len(difflog['segments'])} segment(s), sink {difflog['sink']}, "
            f"HTTP unaccounted {difflog['http_accounting']['unaccounted']}",
        ),
        Criterion(
            "proxy RSS flat (last window within 10% of the second)",
            rss["ratio"] is not None and abs(rss["ratio"] - 1) <= RSS_TOLERANCE,
            f"{rss['second_window_mib']} MiB -> {rss['last_window_mib']} MiB "
            f"(ratio {rss['ratio']}, windows of {rss['window_s']} s)",
        ),
        Criterion(
            "the run exercised what it reports",
            not run.interrupted
            and restarted == list(RESTART_AT)
            and all(injected.values())
            and _by_outcome(counters)["shadow_error"] > 0,
            f"{'interrupted' if run.interrupted else 'full duration'}, restarted {restarted}, "
            f"faults injected {injected}, "
            f"{_by_outcome(counters)['shadow_error']} shadow_error comparisons",
        ),
    ]
    if run.fuzz is not None:
        criteria.append(
            Criterion(
                "HTTP edge fuzz",
                run.fuzz["exit_code"] == 0,
                f"{run.fuzz['seconds']} s, exit {run.fuzz['exit_code']}: {run.fuzz['tail'][-1:]}",
            )
        )
    return {
        "started_at": started.isoformat(timespec="seconds"),
        "seconds": options.seconds,
        "traffic_s": round(run.traffic_s, 1),
        "seed": options.seed,
        "users": options.users,
        "proxy_cpu_s": round(run.proxy_cpu_s, 1),
        "criteria": [asdict(c) for c in criteria],
        "met": all(c.met for c in criteria),
        "client": client,
        "diff_log": difflog,
        "rss": rss,
        "restarts": [asdict(w) | _during(w, run, tap) for w in run.windows],
        "restart_grace_s": RESTART_GRACE_S,
        "shadow_faults": {
            "config": asdict(chaos.faults),
            "injected": injected,
            "connections": chaos.connections,
            "unreachable_upstream": chaos.unreachable,
        },
        "fuzz": run.fuzz or {"run": False, "why": "the run ended before the fuzz started"},
    }


def _markdown(report: dict[str, Any]) -> str:
    client, difflog, rss = report["client"], report["diff_log"], report["rss"]
    windows = ", ".join(f"{w['side']} down {w['down_s']}-{w['up_s']} s" for w in report["restarts"])
    lines = [
        f"# Soak {report['started_at']}",
        "",
        f"{report['seconds']:g} s of dashboard traffic ({report['users']} users, seed "
        f"{report['seed']}) through the real proxy and backends, faults on the shadow side "
        f"{report['shadow_faults']['injected']}; restarts: {windows}.",
        "",
        "| criterion | verdict | detail |",
        "| --- | --- | --- |",
        *(
            f"| {c['name']} | {'met' if c['met'] else '**not met**'} | {c['detail']} |"
            for c in report["criteria"]
        ),
        "",
        "## Client",
        "",
        "Each answer the client got is compared with legacy's own answer to the same request "
        "(X-Request-ID, recorded on the wire between the proxy and legacy): status and body "
        "bytes; for a websocket, every message in order and the close code.",
        "",
        f"- HTTP: {client['http']}; websockets: {client['websockets']}, "
        f"{client['websocket_messages']} messages",
        f"- client-visible errors: {client['client_visible_errors'] or 'none'}",
        f"- latency {client['latency_ms']} at {client['requests_per_s']} requests/s; proxy CPU "
        f"{report['proxy_cpu_s']} s over {report['traffic_s']} s",
        f"- tap: {client['tap']}",
        *(
            f"- {w['side']} down {w['down_s']}-{w['up_s']} s (+{report['restart_grace_s']:g} s): "
            f"requests {w['requests']}; websockets {w['websockets']}"
            for w in report["restarts"]
        ),
        "",
        "Errors marked `authoritative restart` overlap legacy's downtime (plus "
        f"{report['restart_grace_s']:g} s) and had no answer from legacy at all: the proxy "
        "answered 502/504, where a direct client would have got no answer either (connection "
        "refused or reset). They are the restart's, not the shadow's.",
    ]
    if client["difference_examples"]:
        lines += ["", "Differences (first ones):", ""]
        lines += [f"- `{json.dumps(d)}`" for d in client["difference_examples"]]
    lines += [
        "",
        "## Diff log",
        "",
        f"- published {difflog['published']}, on disk {difflog['records_on_disk']}, lost "
        f"{difflog['lost']}; sink {difflog['sink']}; segments {difflog['segments']}",
        f"- outcomes {difflog['outcomes']}; skipped records by reason "
        f"{difflog['skipped_records_by_reason']}",
        f"- HTTP accounting {difflog['http_accounting']}",
        f"- not written by design: {difflog['not_written_by_design']}",
        f"- shadows in flight: peak {difflog['shadows_in_flight']['peak']:g} at "
        f"{difflog['shadows_in_flight']['at_s']} s (at SHADOWPROXY_MAX_INFLIGHT_SHADOWS, 100 by "
        "default, a new shadow is a queue_full skip)",
        "",
        f"## Proxy RSS (MiB, every {rss['interval_s']:g} s)",
        "",
        f"second window {rss['second_window_mib']}, last {rss['last_window_mib']}, ratio "
        f"{rss['ratio']}, peak {rss['peak_mib']}",
        "",
        "```",
        *_series_lines(rss["series"]),
        "```",
        "",
    ]
    return "\n".join(lines)


def _series_lines(series: list[list[float]]) -> list[str]:
    cells = [f"{t:>6.0f}s {mib:6.1f}" for t, mib in series]
    return ["  ".join(cells[i : i + 8]) for i in range(0, len(cells), 8)]


def _summary(report: dict[str, Any], files: tuple[Path, Path], out: TextIO) -> None:
    print(f"\nsoak: {report['traffic_s']} s of traffic, seed {report['seed']}", file=out)
    for criterion in report["criteria"]:
        verdict = "met    " if criterion["met"] else "NOT MET"
        print(f"  [{verdict}] {criterion['name']}: {criterion['detail']}", file=out)
    client = report["client"]
    print(f"  client-visible errors: {client['client_visible_errors'] or 'none'}", file=out)
    print(f"  proxy RSS MiB every {report['rss']['interval_s']:g} s:", file=out)
    for line in _series_lines(report["rss"]["series"]):
        print(f"    {line}", file=out)
    print(f"  written: {files[0]} and {files[1].name}", file=out)


# ---------------------------------------------------------------------- entry point


async def soak(options: SoakOptions, workdir: Path, started: datetime) -> dict[str, Any] | None:
    """Run the soak; its report, or None when the stack could not run (see workdir/stack.log)."""
    with (workdir / "stack.log").open("w", encoding="utf-8") as log:
        stack = _Soak(options, workdir, started, log)
        await stack.run()
    return stack.report


def main(argv: list[str] | None = None) -> int:
    summary = (__doc__ or "").split("\n\n", 1)[0] + " What it checks: benchmarks/soak.py."
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=summary)
    parser.add_argument(
        "--seconds",
        type=float,
        default=os.environ.get("SOAK_SECONDS", str(DEFAULT_SECONDS)),  # parsed like an argument
        help=f"how long the traffic runs (default: $SOAK_SECONDS, else {DEFAULT_SECONDS})",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="traffic and faults")
    parser.add_argument("--users", type=int, default=DEFAULT_USERS, help="dashboard users")
    parser.add_argument("--results", type=Path, default=RESULTS, metavar="DIR", help="%(default)s")
    parser.add_argument("--keep", action="store_true", help="keep the work folder when all is met")
    args = parser.parse_args(argv)
    if args.seconds < MIN_SECONDS or args.users < 1:
        parser.error(f"--seconds must be at least {MIN_SECONDS} and --users at least 1")
    options = SoakOptions(args.seconds, args.seed, args.users, args.results, args.keep)
    started = datetime.now(UTC)
    workdir = Path(tempfile.mkdtemp(prefix="sp-soak-"))
    _say(f"{options.seconds:g} s, {options.users} users, seed {options.seed}, work in {workdir}")
    report = asyncio.run(soak(options, workdir, started))
    if report is None:
        log = workdir / "stack.log"
        tail = log.read_text(errors="replace").splitlines()[-10:]
        print(
            "\n".join(["soak: the stack did not run; the end of", f"{log}:", *tail]),
            file=sys.stderr,
        )
        return 2
    options.results.mkdir(parents=True, exist_ok=True)
    stem = options.results / f"soak-{started.strftime('%Y%m%dT%H%M%SZ')}"
    files = (stem.with_suffix(".json"), stem.with_suffix(".md"))
    files[0].write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    files[1].write_text(_markdown(report), encoding="utf-8")
    _summary(report, files, sys.stdout)
    if report["met"] and not options.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"  work folder kept: {workdir}")
    return 0 if report["met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
