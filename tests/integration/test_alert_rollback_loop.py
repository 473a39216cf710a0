"""The alert rollback loop, end to end, with the real binaries: a decision the app loses makes the
project's own Prometheus rule fire, the project's Alertmanager route posts it to the proxy's
`POST /alertmanager` with the bearer token from a file, and the proxy rolls `analysis` back to
legacy, keeping the alert's fingerprint in its audit trail.

What runs: two fake backends (real aiohttp servers on loopback port 0) that answer a finished
analysis' status with different decisions (legacy BUY, app SELL: a real `analysis_result_lost`
condition, counted as a `decision` field mismatch); `python -m shadowproxy run` in a subprocess
with the app authoritative for `analysis` and its own rollback guard off
(`SHADOWPROXY_AUTO_ROLLBACK=off`), so only the alert loop can roll back; a real `prometheus`
scraping the proxy's admin `/metrics` every second and evaluating `deploy/prometheus/rules`; a
real Alertmanager whose configuration is `deploy/alertmanager/alertmanager.yml` itself.

What is rewritten, and only that, so the loop fits well under a minute:
- the rule file: a copy of `deploy/prometheus/rules/alerts.yml` in which the `for: 1m` of
  `ShadowproxyAnalysisResultLost` (the rule this condition fires) becomes `for: 1s`; every other
  rule, `recording.yml` included, is the project's file as is;
- the Alertmanager configuration: the compose addresses become this test's (the proxy's admin URL
  for `http://proxy:9100`, the token file for `/run/secrets/shadowproxy_admin_token`, a local
  sink for the pager/ticket placeholders on 127.0.0.1:5001); routes, matchers, `group_wait`,
  `continue` and the receiver's `http_config.authorization` are the project's.

Everything listens on 127.0.0.1 on free ports; every process and server is stopped in `finally`.
Without the binaries (Debian packages `prometheus`, `prometheus-alertmanager`) the test is skipped
locally and fails in CI (CI=true), as tests/deploy's `tool` fixture does.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

REPO_DIR = Path(__file__).resolve().parents[2]
DEPLOY_DIR = REPO_DIR / "deploy"
RULES_DIR = DEPLOY_DIR / "prometheus" / "rules"
ALERTMANAGER_CONFIG = DEPLOY_DIR / "alertmanager" / "alertmanager.yml"
ALERT = "ShadowproxyAnalysisResultLost"
COMPOSE_ADMIN = "http://proxy:9100"
COMPOSE_TOKEN_FILE = "/run/secrets/shadowproxy_admin_token"
PLACEHOLDER_SINK = "http://127.0.0.1:5001"
START_S = 20.0  # bound on one process' start-up
LOOP_S = 40.0  # bound on the whole loop: first mismatch → rollback seen in GET /flags
STOP_S = 10.0  # SIGTERM, then SIGKILL


def binary(*names: str) -> str:
    """The first of `names` on PATH: skip without it locally, fail without it in CI."""
    for name in names:
        path = shutil.which(name)
        if path is not None:
            return path
    message = f"{' or '.join(names)} is not installed (Debian: prometheus, prometheus-alertmanager)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; CI must install it")
    pytest.skip(message)


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# ---------------------------------------------------------------- the fake backends


def status_document(task_id: str, decision: str) -> dict[str, Any]:
    """A finished analysis in the legacy shape (both sides answer it; only the decision differs)."""
    stages = ("analysts", "research", "trading", "risk", "portfolio")
    return {
        "task_id": task_id,
        "ticker": "AAPL",
        "date": "2026-04-13",
        "status": "completed",
        "progress": 100,
        "current_stage": "portfolio",
        "stages": [{"status": "completed"} for _ in stages],
        "decision": decision,
        "confidence": 0.6,
        "error": None,
    }


def fake_backend(side: str, decision: str) -> web.Application:
    """One side: mints its own task id (the proxy correlates the two), then reports it finished."""

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def start(request: web.Request) -> web.Response:
        ticker = (await request.json())["ticker"]
        task_id = f"{ticker}_20260413_120000_{side}1"
        return web.json_response({"task_id": task_id, "ticker": ticker, "status": "running"})

    async def status(request: web.Request) -> web.Response:
        return web.json_response(status_document(request.match_info["task_id"], decision))

    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_post("/api/analysis/start", start)
    app.router.add_get("/api/analysis/status/{task_id}", status)
    return app


def sink() -> web.Application:
    """Stands in for the pager and ticket webhooks (placeholders on a port this test owns)."""

    async def accept(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/{tail:.*}", accept)
    return app


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


# ---------------------------------------------------------------- processes


@asynccontextmanager
async def process(
    argv: list[str], log: Path, *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> AsyncIterator[asyncio.subprocess.Process]:
    """A subprocess, stdout and stderr to `log`; SIGTERM (then SIGKILL) on exit, always."""
    with log.open("wb") as out:
        child = await asyncio.create_subprocess_exec(
            *argv, stdout=out, stderr=out, stdin=asyncio.subprocess.DEVNULL, env=env, cwd=cwd
        )
        try:
            yield child
        finally:
            if child.returncode is None:
                with suppress(ProcessLookupError):
                    child.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(child.wait(), STOP_S)
                except TimeoutError:
                    with suppress(ProcessLookupError):
                        child.kill()
                    await child.wait()


def read_log(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def tail(path: Path, lines: int = 15) -> str:
    text = read_log(path).splitlines()[-lines:]
    return f"--- {path.name}\n" + ("\n".join(text) or "(no output)")


async def wait_for_line(
    child: asyncio.subprocess.Process, log: Path, pattern: str
) -> re.Match[str]:
    deadline = asyncio.get_running_loop().time() + START_S
    while asyncio.get_running_loop().time() < deadline:
        match = re.search(pattern, read_log(log))
        if match:
            return match
        if child.returncode is not None:
            break
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {pattern!r} (exit code {child.returncode})\n{tail(log)}")


async def wait_until_ready(session: aiohttp.ClientSession, url: str, log: Path) -> None:
    deadline = asyncio.get_running_loop().time() + START_S
    while asyncio.get_running_loop().time() < deadline:
        with suppress(aiohttp.ClientError):
            async with session.get(url) as response:
                if response.status == 200:
                    return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never answered 200\n{tail(log)}")


def proxy_environ(token_file: Path) -> dict[str, str]:
    """The caller's environment without any flag or proxy setting, plus this test's."""
    base = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SHADOWPROXY_", "TA_", "TRADINGAGENTS_"))
    }
    return base | {
        "TA_AUTHORITATIVE_ANALYSIS": "app",
        "SHADOWPROXY_AUTO_ROLLBACK": "off",
        "SHADOWPROXY_ADMIN_TOKEN_FILE": str(token_file),
    }


def fast_alert_rules(target: Path) -> Path:
    """The project's alerts.yml with only ShadowproxyAnalysisResultLost's `for:` set to 1s."""
    text = (RULES_DIR / "alerts.yml").read_text()
    start = text.index(f"- alert: {ALERT}\n")
    end = text.index("- alert: ", start + 1)
    block, count = re.subn(r"\n(\s+)for: \d+m\n", r"\n\1for: 1s\n", text[start:end])
    assert count == 1, f"{ALERT} has no single for: duration"
    target.write_text(text[:start] + block + text[end:])
    return target


def prometheus_config(tmp: Path, admin: str, alertmanager_port: int) -> Path:
    config = tmp / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"rule_files:\n  - {RULES_DIR / 'recording.yml'}\n"
        f"  - {fast_alert_rules(tmp / 'alerts.yml')}\n"
        "alerting:\n  alertmanagers:\n    - static_configs:\n"
        f'        - targets: ["127.0.0.1:{alertmanager_port}"]\n'
        "scrape_configs:\n  - job_name: shadowproxy\n    metrics_path: /metrics\n"
        f'    static_configs:\n      - targets: ["{admin.removeprefix("http://")}"]\n'
    )
    return config


def alertmanager_config(tmp: Path, admin: str, token_file: Path, sink_url: str) -> Path:
    """deploy/alertmanager/alertmanager.yml, its compose addresses replaced by this test's."""
    text = ALERTMANAGER_CONFIG.read_text()
    settings = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert settings.count(f"{COMPOSE_ADMIN}/alertmanager") == 1
    assert settings.count(COMPOSE_TOKEN_FILE) == 1
    assert "matchers: ['rollback=\"true\"']" in settings
    assert "group_wait: 1s" in settings
    text = text.replace(f"{COMPOSE_ADMIN}/alertmanager", f"{admin}/alertmanager")
    text = text.replace(COMPOSE_TOKEN_FILE, str(token_file))
    text = text.replace(PLACEHOLDER_SINK, sink_url)
    config = tmp / "alertmanager.yml"
    config.write_text(text)
    return config


# ---------------------------------------------------------------- the loop


async def start_analysis(session: aiohttp.ClientSession, proxy: str) -> str:
    body = {"ticker": "AAPL", "date": "2026-04-13"}
    async with session.post(f"{proxy}/api/analysis/start", json=body) as response:
        assert response.status == 200, await response.text()
        task_id: str = (await response.json())["task_id"]
    return task_id


async def drive(
    session: aiohttp.ClientSession, proxy: str, task_id: str, answers: list[str]
) -> None:
    """The dashboard polling a finished analysis (each read: one decision mismatch)."""
    while True:
        with suppress(aiohttp.ClientError):
            async with session.get(f"{proxy}/api/analysis/status/{task_id}") as response:
                if response.status == 200:
                    answers.append((await response.json())["decision"])
        await asyncio.sleep(0.2)


async def get_json(session: aiohttp.ClientSession, url: str, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with session.get(url, headers=headers) as response:
        assert response.status == 200, f"{url}: {response.status} {await response.text()}"
        return await response.json()


async def wait_for_rollback(
    session: aiohttp.ClientSession, admin: str, diagnose: list[Path], prometheus: str
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + LOOP_S
    flags: dict[str, Any] = {}
    while asyncio.get_running_loop().time() < deadline:
        flags = await get_json(session, f"{admin}/flags")
        if flags["authoritative"]["analysis"] == "legacy":
            return flags
        await asyncio.sleep(0.25)
    seen: dict[str, Any] = {}
    for query in ("ALERTS", "shadowproxy:field_mismatches:increase5m", "up"):
        with suppress(aiohttp.ClientError, AssertionError):
            url = f"{prometheus}/api/v1/query?{urlencode({'query': query})}"
            seen[query] = (await get_json(session, url))["data"]["result"]
    with suppress(aiohttp.ClientError):
        async with session.get(f"{admin}/metrics") as response:
            text = await response.text()
        seen["proxy"] = [
            line for line in text.splitlines() if "mismatch" in line or "compar" in line
        ]
    logs = "\n".join(tail(path) for path in diagnose)
    raise AssertionError(f"analysis not rolled back within {LOOP_S}s: {flags}\n{seen}\n{logs}")


@pytest.mark.slow
@pytest.mark.timeout(60)
async def test_a_firing_rollback_alert_rolls_the_group_back_through_alertmanager(
    tmp_path: Path,
) -> None:
    prometheus_bin = binary("prometheus")
    alertmanager_bin = binary("alertmanager", "prometheus-alertmanager")
    token = secrets.token_hex(32)
    token_file = tmp_path / "admin_token"
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    logs = {name: tmp_path / f"{name}.log" for name in ("proxy", "prometheus", "alertmanager")}

    async with AsyncExitStack() as stack:
        session = await stack.enter_async_context(
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        )
        legacy = await stack.enter_async_context(serving(fake_backend("legacy", "BUY")))
        app = await stack.enter_async_context(serving(fake_backend("app", "SELL")))
        pages = await stack.enter_async_context(serving(sink()))

        # the proxy: app authoritative for analysis, its own guard off, admin token from a file
        argv = [
            sys.executable, "-m", "shadowproxy", "run", "--legacy", legacy, "--app", app,
            "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
            "--diff-log-dir", str(tmp_path / "diff_logs"), "--state-dir", str(tmp_path / "state"),
        ]  # fmt: skip
        proxy_process = await stack.enter_async_context(
            process(argv, logs["proxy"], env=proxy_environ(token_file), cwd=tmp_path)
        )
        listening = await wait_for_line(
            proxy_process, logs["proxy"], r"listening on (http://\S+) \(admin (http://\S+)\)"
        )
        proxy, admin = listening[1], listening[2]
        before = await get_json(session, f"{admin}/flags")
        assert before["authoritative"]["analysis"] == "app"

        alertmanager_port, prometheus_port = free_loopback_port(), free_loopback_port()
        alertmanager = f"http://127.0.0.1:{alertmanager_port}"
        prometheus = f"http://127.0.0.1:{prometheus_port}"
        await stack.enter_async_context(
            process(
                [
                    alertmanager_bin,
                    f"--config.file={alertmanager_config(tmp_path, admin, token_file, pages)}",
                    f"--storage.path={tmp_path / 'alertmanager-data'}",
                    f"--web.listen-address=127.0.0.1:{alertmanager_port}",
                    "--cluster.listen-address=",
                ],
                logs["alertmanager"],
            )
        )
        await stack.enter_async_context(
            process(
                [
                    prometheus_bin,
                    f"--config.file={prometheus_config(tmp_path, admin, alertmanager_port)}",
                    f"--storage.tsdb.path={tmp_path / 'prometheus-data'}",
                    f"--web.listen-address=127.0.0.1:{prometheus_port}",
                ],
                logs["prometheus"],
            )
        )
        await wait_until_ready(session, f"{alertmanager}/-/ready", logs["alertmanager"])
        await wait_until_ready(session, f"{prometheus}/-/ready", logs["prometheus"])

        task_id = await start_analysis(session, proxy)
        assert task_id.endswith("_app1"), "the app answers analysis"
        answers: list[str] = []
        driver = asyncio.ensure_future(drive(session, proxy, task_id, answers))

        async def stop_driving() -> None:
            driver.cancel()
            with suppress(asyncio.CancelledError):
                await driver

        stack.push_async_callback(stop_driving)

        flags = await wait_for_rollback(session, admin, list(logs.values()), prometheus)

        # the audit trail names the alert and keeps Alertmanager's fingerprint as evidence
        fired = [
            alert
            for alert in await get_json(session, f"{alertmanager}/api/v2/alerts")
            if alert["labels"].get("alertname") == ALERT
        ]
        assert fired, "Alertmanager holds no firing analysis alert"
        (alert,) = fired
        assert alert["labels"]["rollback"] == "true"
        assert alert["labels"]["route_group"] == "analysis"
        assert alert["labels"]["field"] == "decision"
        events = (await get_json(session, f"{admin}/events", token))["events"]
        (event,) = [e for e in events if e["actor"] == f"alertmanager:{ALERT}"]
        assert event["action"] == "rollback"
        assert alert["fingerprint"] in event["evidence"]
        assert {"group": "analysis", "from": "app", "to": "legacy"} in event["change"]
        assert event["flags_version"] == flags["flags_version"] > before["flags_version"]
        assert all(not e["actor"].startswith("auto:") for e in events), "the guard was off"

        # the webhook and the audit trail are behind the token, and refusals are counted
        wrong = {"Authorization": f"Bearer {secrets.token_hex(32)}"}
        payload = {"version": "4", "status": "firing", "alerts": []}
        async with session.post(f"{admin}/alertmanager", json=payload, headers=wrong) as denied:
            assert denied.status == 401
        async with session.get(f"{admin}/events") as denied:
            assert denied.status == 401
        async with session.get(f"{admin}/metrics") as response:
            exposition = await response.text()
        rollbacks = (
            r'shadowproxy_rollbacks_total\{(?=[^}]*route_group="analysis")'
            rf'(?=[^}}]*trigger="{ALERT}")(?=[^}}]*mode="alert")[^}}]*\}} 1\.0'
        )
        assert re.search(rollbacks, exposition), exposition
        assert re.search(r'shadowproxy_admin_denied_total\{endpoint="[^"]*"\} [1-9]', exposition)
        assert re.search(rf"shadowproxy_flags_version {flags['flags_version']}\.0", exposition)

        # the app answered clients until the rollback; legacy answers from the next request on
        assert "SELL" in answers
        # (the app's task id still works: the proxy rewrites it to legacy's)
        status = await get_json(session, f"{proxy}/api/analysis/status/{task_id}")
        assert status["decision"] == "BUY"
