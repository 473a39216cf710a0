"""LiveSignalService (`run_live_signals`): the kernel's live mode behind `/ws/orchestrator`.

The per-signal documents are the kernel's own NEW shape (status, result, error, degradation,
data_quality, research); this layer only adds the envelope's `contract_version`. The kernel is
synchronous, so each request runs in a worker thread with a fresh orchestrator, as upstream
built one per connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from app_service.contracts import CONTRACT_VERSION
from orchestrator.config import OrchestratorConfig
from orchestrator.live import LiveMode, failure_document
from orchestrator.orchestrator import TradingOrchestrator
from orchestrator.validation import validate_date, validate_ticker


class LiveSignalService:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    async def run_live_signals(self, tickers: Sequence[str], day: str | None) -> dict[str, Any]:
        signals = await asyncio.to_thread(self._run, list(tickers), day)
        return {"contract_version": CONTRACT_VERSION, "signals": signals}

    def _run(self, tickers: list[str], day: str | None) -> list[dict[str, Any]]:
        """A bad date refuses the request; a bad ticker becomes that ticker's failure document.

        Tickers become cache file names inside the kernel, so they are checked before it sees
        them; the failure is rendered by the kernel's own serializer, keeping one shape.
        """
        today = datetime.now(UTC).date()
        day = validate_date(day, today) if day else today.isoformat()
        live = LiveMode(TradingOrchestrator(OrchestratorConfig.from_environ(self._environ)))
        documents = []
        for ticker in tickers:
            try:
                validate_ticker(ticker)
            except ValueError as exc:
                documents.append(failure_document(ticker, day, exc))
            else:
                documents.extend(live.run_once([ticker], day))
        return documents
