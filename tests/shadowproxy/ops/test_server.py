"""serve(): binds both ports, reports real URLs, shuts down in order; state survives restarts."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from shadowproxy.errors import SettingsError
from shadowproxy.ops.server import serve

from ..factories import FakeBackend, ListSink, SettingsFactory, running


async def test_serve_binds_port_zero_and_closes_the_sink_on_stop(
    make_settings: SettingsFactory,
) -> None:
    sink = ListSink()
    async with (
        running(make_settings(), sink) as (proxy_url, admin_url),
        aiohttp.ClientSession() as http,
    ):
        assert not proxy_url.endswith(":0")
        assert not admin_url.endswith(":0")
        async with http.get(proxy_url + "/echo") as response:
            assert response.status == 200
            assert response.headers["X-Shadowproxy-Authoritative"] == "legacy"
        async with http.get(admin_url + "/healthz") as response:
            assert response.status == 200
        await sink.wait_for(1)
    assert sink.closed


async def test_in_flight_requests_finish_during_shutdown(
    make_settings: SettingsFactory, backends: tuple[FakeBackend, FakeBackend]
) -> None:
    legacy, _ = backends
    legacy.delays["/slowish"] = 0.5
    sink, stop = ListSink(), asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    server = asyncio.ensure_future(
        serve(make_settings(), sink=sink, stop=stop, on_ready=lambda p, _: ready.set_result(p))
    )
    proxy_url = await asyncio.wait_for(ready, timeout=10)
    async with aiohttp.ClientSession() as http:
        request = asyncio.ensure_future(http.get(proxy_url + "/slowish"))
        await asyncio.wait_for(legacy.arrived.wait(), timeout=10)
        stop.set()
        response = await asyncio.wait_for(request, timeout=10)
        assert response.status == 200
        assert (await response.json())["path"] == "/slowish"
    await asyncio.wait_for(server, timeout=20)
    assert sink.closed


async def test_correlation_and_flags_survive_a_restart(
    make_settings: SettingsFactory, backends: tuple[FakeBackend, FakeBackend]
) -> None:
    _, app = backends
    settings = make_settings()
    async with (
        running(settings, ListSink()) as (proxy_url, admin_url),
        aiohttp.ClientSession() as http,
    ):
        async with http.post(proxy_url + "/api/analysis/start", json={}) as response:
            assert (await response.json())["task_id"] == "legacy-task-1"
        async with http.put(
            admin_url + "/flags/reports", json={"side": "app", "reason": "canary"}
        ) as response:
            assert response.status == 200

    sink = ListSink()
    async with running(settings, sink) as (proxy_url, admin_url), aiohttp.ClientSession() as http:
        async with http.get(proxy_url + "/api/analysis/status/legacy-task-1") as response:
            assert response.status == 200
        await sink.wait_for(1)
        assert app.paths()[-1] == "/api/analysis/status/app-task-1"
        async with http.get(admin_url + "/flags") as response:
            assert (await response.json())["authoritative"]["reports"] == "app"


SERVE_SCRIPT = """
import asyncio, pathlib, sys
from shadowproxy.ops.server import serve
from shadowproxy.settings import load_settings

class PrintSink:
    stats = None  # never scraped in this test
    def publish(self, comparison):
        pass
    async def aclose(self):
        print("sink closed", flush=True)

settings = load_settings(
    {}, legacy_url=sys.argv[1], app_url=sys.argv[2], listen="127.0.0.1:0",
    admin="127.0.0.1:0", state_dir=pathlib.Path(sys.argv[3]),
)
ready = lambda proxy, admin: print("ready", proxy, admin, flush=True)
asyncio.run(serve(settings, sink=PrintSink(), on_ready=ready))
print("exited", flush=True)
"""


async def test_sigterm_stops_serve_gracefully(
    backends: tuple[FakeBackend, FakeBackend], tmp_path: Path
) -> None:
    legacy, app = backends
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SERVE_SCRIPT,
        legacy.url,
        app.url,
        str(tmp_path / "state"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(_line_starting(process.stdout, b"ready"), timeout=30)
        proxy_url = line.split()[1].decode()
        async with aiohttp.ClientSession() as http, http.get(proxy_url + "/health") as response:
            assert response.status == 200
        process.send_signal(signal.SIGTERM)
        rest = await asyncio.wait_for(process.stdout.read(), timeout=30)
        assert await process.wait() == 0
        assert b"sink closed" in rest
        assert rest.rstrip().endswith(b"exited")
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _line_starting(stream: asyncio.StreamReader, prefix: bytes) -> bytes:
    while True:
        line = await stream.readline()
        if not line or line.startswith(prefix):
            return line


async def test_a_corrupt_flag_file_is_a_settings_error_and_the_sink_is_still_closed(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings()
    settings.state_dir.mkdir(parents=True)
    (settings.state_dir / "flags.json").write_text("{")
    sink = ListSink()
    with pytest.raises(SettingsError, match=r"flags\.json cannot be read"):
        await serve(settings, sink=sink, stop=asyncio.Event())
    assert sink.closed
