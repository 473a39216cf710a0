"""The fixture of the edge fuzz and its regression tests: a real proxy in front of echo backends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ..factories import ProxyProcess, ServerFactory
from .edge_wire import echo_proxy


@pytest.fixture
async def proxy(aiohttp_server: ServerFactory, tmp_path: Path) -> AsyncIterator[ProxyProcess]:
    async with echo_proxy(aiohttp_server, tmp_path) as running:
        yield running
