"""`/metrics` through the real `serve()`: prometheus-client's handler, no `_created` series, the
build, process and platform metrics, and the gauges of open websockets and correlation pairs."""

from __future__ import annotations

import asyncio
import gzip
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from shadowproxy.build import build_info

from ..factories import FakeBackend, ListSink, ServerFactory, proxy_settings, running
from ..ws_fakes import echo, start_fakes


async def scrape(session: aiohttp.ClientSession, admin: str) -> dict[str, float]:
    """Every sample of the exposition, keyed `name{label="value",...}` (labels sorted)."""
    async with session.get(f"{admin}/metrics") as response:
        assert response.status == 200
        text = await response.text()
    assert "_created" not in text
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}"] = sample.value
    return samples


async def test_metrics_carry_build_process_and_state_gauges_and_no_created_series(
    backends: tuple[FakeBackend, FakeBackend], tmp_path: Path
) -> None:
    settings = proxy_settings(backends[0].url, backends[1].url, tmp_path)
    async with running(settings, ListSink()) as (proxy, admin), aiohttp.ClientSession() as session:
        before = await scrape(session, admin)
        build = build_info()
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(build.items()))
        assert before[f"shadowproxy_build_info{{{labels}}}"] == 1
        assert before["process_resident_memory_bytes{}"] > 0
        assert before["process_open_fds{}"] > 0
        assert any(name.startswith("python_info{") for name in before)
        assert before["shadowproxy_correlation_entries{}"] == 0

        async with session.post(f"{proxy}/api/analysis/start", json={"ticker": "AAPL"}) as start:
            assert start.status == 200
        await asyncio.sleep(0.3)  # the shadow's answer teaches the map the pair
        after = await scrape(session, admin)
        assert after["shadowproxy_correlation_entries{}"] == 1


async def test_open_websockets_are_a_gauge_that_comes_back_down(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    legacy, app = await start_fakes(aiohttp_server, echo, echo)
    settings = proxy_settings(legacy.url, app.url, tmp_path)
    gauge = 'shadowproxy_ws_connections_open{route_group="system"}'
    async with running(settings, ListSink()) as (proxy, admin), aiohttp.ClientSession() as session:
        async with session.ws_connect(f"{proxy}/ws/echo"):
            assert (await scrape(session, admin))[gauge] == 1
        for _ in range(50):  # the relay's teardown runs after the client's close returns
            if (await scrape(session, admin))[gauge] == 0:
                break
            await asyncio.sleep(0.05)
        assert (await scrape(session, admin))[gauge] == 0


async def test_metrics_are_gzipped_for_a_scraper_that_asks(
    backends: tuple[FakeBackend, FakeBackend], tmp_path: Path
) -> None:
    settings = proxy_settings(backends[0].url, backends[1].url, tmp_path)
    async with running(settings, ListSink()) as (_, admin), aiohttp.ClientSession() as session:
        gzipped = {"Accept-Encoding": "gzip"}
        url = f"{admin}/metrics"
        async with session.get(url, headers=gzipped, auto_decompress=False) as zipped:
            assert zipped.headers["Content-Encoding"] == "gzip"
            text = gzip.decompress(await zipped.read()).decode()
        assert "# TYPE shadowproxy_requests_total counter" in text
        openmetrics = {"Accept": "application/openmetrics-text; version=1.0.0"}
        async with session.get(f"{admin}/metrics", headers=openmetrics) as negotiated:
            assert negotiated.content_type == "application/openmetrics-text"
            assert (await negotiated.text()).endswith("# EOF\n")
