"""What the scale-out acceptance tests (test_scale_out*.py) share: a real `redis-server` of each
test's own, the two real backends, two real `shadowproxy run` replicas on that Redis, and ways to
read a replica's admin API and wait on it, bounded.

- `redis_server`: tests/shadowproxy/redis_server.py's server on a free loopback port (killed and
  restarted by a test at will), stopped at the end;
- `real_backends`: the legacy backend and the app service, each on loopback port 0 with its own
  data dir, running the real analysis subprocess with a short stage delay (`STAGE_DELAY_MS`), so
  an analysis is still running while a test polls, watches and cancels it;
- `replicas(...)`: replicas A and B (`SHADOWPROXY_STORE=redis`, `SHADOWPROXY_REPLICA=a`/`b`, a
  state dir and a diff-log dir each) through `tests/shadowproxy/factories.proxy_process`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

import app_service.app
import app_service.settings
import legacy_backend.app
import legacy_backend.settings

from ..shadowproxy.factories import ProxyProcess, ServerFactory, proxy_process
from ..shadowproxy.redis_server import redis_server  # noqa: F401 (a fixture)
from .test_kernel_parity import kernel_environ

T = TypeVar("T")
STAGE_DELAY_MS = "400"  # per kernel stage: an analysis runs a few seconds, then finishes
POLL_S = 0.02


@dataclass(frozen=True)
class Backends:
    legacy: str
    app: str


@pytest.fixture
async def real_backends(aiohttp_server: ServerFactory, tmp_path: Path) -> Backends:
    """The legacy backend and the app service on loopback, each with its own data dir."""
    env = kernel_environ() | {"TA_STAGE_DELAY_MS": STAGE_DELAY_MS}
    legacy = legacy_backend.settings.Settings.from_environ(
        env, data_dir=tmp_path / "legacy", port=0
    )
    app = app_service.settings.Settings.from_environ(
        env, host="127.0.0.1", port=0, data_dir=tmp_path / "app"
    )
    servers = [
        await aiohttp_server(legacy_backend.app.create_app(legacy), host="127.0.0.1"),
        await aiohttp_server(app_service.app.create_app(app), host="127.0.0.1"),
    ]
    legacy_url, app_url = (str(server.make_url("")).rstrip("/") for server in servers)
    return Backends(legacy_url, app_url)


def replica_env(
    redis_url: str, name: str, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    return {
        "SHADOWPROXY_STORE": "redis",
        "SHADOWPROXY_REDIS_URL": redis_url,
        "SHADOWPROXY_REPLICA": name,
        **(extra or {}),
    }


@asynccontextmanager
async def replicas(
    legacy_url: str,
    app_url: str,
    root: Path,
    redis_url: str,
    env: Mapping[str, str] | None = None,
) -> AsyncIterator[tuple[ProxyProcess, ProxyProcess]]:
    """Replicas A and B of one cluster in front of the same two sides, sharing `redis_url`."""
    async with (
        proxy_process(legacy_url, app_url, root / "a", replica_env(redis_url, "a", env)) as a,
        proxy_process(legacy_url, app_url, root / "b", replica_env(redis_url, "b", env)) as b,
    ):
        yield a, b


# ---------------------------------------------------------------- reading a replica


async def get_json(session: aiohttp.ClientSession, url: str) -> Any:
    async with session.get(url) as response:
        assert response.status == 200, f"GET {url}: {response.status} {await response.text()}"
        return await response.json()


async def samples(proxy: ProxyProcess) -> list[tuple[str, dict[str, str], float]]:
    """Every sample of the replica's admin /metrics page: (name, labels, value)."""
    async with aiohttp.ClientSession() as session, session.get(f"{proxy.admin_url}/metrics") as r:
        text = await r.text()
    return [
        (sample.name, dict(sample.labels), sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


async def metric_sum(proxy: ProxyProcess, name: str, **labels: str) -> float:
    """The sum of the samples `name` whose labels include `labels` (0 when there is none)."""
    return sum(
        value
        for found, have, value in await samples(proxy)
        if found == name and all(have.get(key) == want for key, want in labels.items())
    )


async def eventually(
    probe: Callable[[], Awaitable[T | None]], what: str, timeout_s: float = 10.0
) -> T:
    """The first value `probe` returns that is not None (or False); fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = await probe()
        if found is not None and found is not False:
            return found
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s:g} s"
        await asyncio.sleep(POLL_S)


async def settled(*proxies: ProxyProcess) -> None:
    """Until no replica has a shadow in flight nor a write waiting for the store."""

    async def idle() -> bool:
        for proxy in proxies:
            if await metric_sum(proxy, "shadowproxy_shadow_inflight"):
                return False
            if await metric_sum(proxy, "shadowproxy_store_pending"):
                return False
        return True

    await eventually(idle, "every shadow finished and every write in the store")
