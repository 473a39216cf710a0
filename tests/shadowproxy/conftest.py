"""Shared fixtures for the proxy's network tests (the builders they use live in factories.py).

The backends are fakes on the far side of the boundary: real aiohttp servers on port 0 that
record every request they receive and answer differently per side on purpose. The diff sink
is an in-memory `ListSink` that lets a test wait for the background comparisons.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from shadowproxy.diff.config import DEFAULT_CONFIG, DiffConfig
from shadowproxy.settings import Settings
from shadowproxy.types import Side

from .dashboards import start_stack  # noqa: F401 (a fixture: fake dashboards behind the proxy)
from .factories import (
    ClientFactory,
    FakeBackend,
    ProxyFactory,
    ServerFactory,
    SettingsFactory,
    proxy_settings,
)
from .redis_server import redis_server  # noqa: F401 (a fixture)


@pytest.fixture
async def backends(aiohttp_server: ServerFactory) -> tuple[FakeBackend, FakeBackend]:
    pair = (FakeBackend(Side.LEGACY), FakeBackend(Side.APP))
    for fake in pair:
        fake.server = await aiohttp_server(fake.app())  # TestServer cancels handlers on disconnect
    return pair


@pytest.fixture
def make_settings(backends: tuple[FakeBackend, FakeBackend], tmp_path: Path) -> SettingsFactory:
    def build(
        env: Mapping[str, str] | None = None, config: DiffConfig = DEFAULT_CONFIG
    ) -> Settings:
        return proxy_settings(backends[0].url, backends[1].url, tmp_path, env, config=config)

    return build


@pytest.fixture
def make_proxy(
    backends: tuple[FakeBackend, FakeBackend],
    make_settings: SettingsFactory,
    aiohttp_server: ServerFactory,
    aiohttp_client: ClientFactory,
) -> ProxyFactory:
    return ProxyFactory(backends, make_settings, aiohttp_server, aiohttp_client)
