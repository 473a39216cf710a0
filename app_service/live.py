"""LiveSignalService (`run_live_signals`): the kernel's live mode behind `/ws/orchestrator`.

The per-signal documents are the kernel's own NEW shape (status, result, error, degradation,
data_quality, research); this layer only adds the envelope's `contract_version`. The kernel is
synchronous, so each request runs in a worker thread with a fresh orchestrator, as upstream
built one per connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from app_service.contracts import CONTRACT_VERSION
from orchestrator.config import OrchestratorConfig
from orchestrator.live import LiveMode
from orchestrator.orchestrator import TradingOrchestrator


class LiveSignalService:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    async def run_live_signals(self, tickers: Sequence[str], day: str | None) -> dict[str, Any]:
        signals = await asyncio.to_thread(self._run, list(tickers), day)
        return {"contract_version": CONTRACT_VERSION, "signals": signals}

    def _run(self, tickers: list[str], day: str | None) -> list[dict[str, Any]]:
        live = LiveMode(TradingOrchestrator(OrchestratorConfig.from_environ(self._environ)))
        return live.run_once(tickers, day)
