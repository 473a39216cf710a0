"""The in-process side of the shared kernel: live signals and position prices.

Upstream's `/ws/orchestrator` built `TradingOrchestrator` per connection and shaped each
`FinalSignal` into its own flat legacy dict right in the route; the positions route asked a
market-data source for the last price. Both run the same kernel as the analysis subprocess, with
the same environment (so the LLM cache and results dir are the data dir's), in a worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import date
from typing import Any

import structlog
from aiohttp import web

from orchestrator.config import OrchestratorConfig
from orchestrator.market_data import latest_close, provider_from_config
from orchestrator.orchestrator import TradingOrchestrator

log = structlog.get_logger("legacy_backend.kernel")


class Kernel:
    """One parsed kernel config for the app's lifetime; raises ValueError on a bad environment."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.config = OrchestratorConfig.from_environ(environ)
        self.market_data = provider_from_config(self.config)

    async def latest_price(self, ticker: str) -> float | None:
        """Last close up to today; any failure is a null price, as upstream's yfinance call."""
        try:
            return await asyncio.to_thread(latest_close, self.market_data, ticker, date.today())
        except Exception as exc:
            log.warning("price_lookup_failed", ticker=ticker, error=repr(exc))
            return None

    async def new_orchestrator(self) -> TradingOrchestrator:
        return await asyncio.to_thread(TradingOrchestrator, self.config, self.market_data)

    @staticmethod
    async def legacy_signal(
        orchestrator: TradingOrchestrator, ticker: str, day: str
    ) -> dict[str, Any]:
        """The LEGACY per-ticker `/ws/orchestrator` shape: flat success or `{ticker,date,error}`."""
        try:
            final = await asyncio.to_thread(orchestrator.get_combined_signal, ticker, day)
        except Exception as exc:
            return {"ticker": ticker, "date": day, "error": str(exc)}
        return {
            "ticker": ticker,
            "date": day,
            "direction": final.direction,
            "confidence": final.confidence,
            "quant_direction": final.quant_signal.direction if final.quant_signal else None,
            "llm_direction": final.llm_signal.direction if final.llm_signal else None,
            "timestamp": final.timestamp.isoformat(),
        }


KERNEL = web.AppKey("kernel", Kernel)
