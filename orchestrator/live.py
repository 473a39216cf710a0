"""Live mode: one NEW-shaped signal document per ticker, for `/ws/orchestrator`
(docs/upstream-contract.md §3).

A failing ticker becomes a `failed` document in its place; the list keeps the request's order.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from orchestrator.contracts import CONTRACT_VERSION, FinalSignal
from orchestrator.orchestrator import TradingOrchestrator

logger = logging.getLogger(__name__)

BOTH_NONE_MESSAGE = "both quant and llm signals are None"


def success_document(ticker: str, date: str, final: FinalSignal) -> dict[str, Any]:
    codes = list(final.degrade_reason_codes)
    data_quality = final.metadata.get("data_quality")
    degraded = bool(codes) or bool(data_quality)
    return {
        "contract_version": final.contract_version
        or final.metadata.get("contract_version")
        or CONTRACT_VERSION,
        "ticker": ticker,
        "date": date,
        "status": "degraded_success" if degraded else "completed",
        "result": {
            "direction": final.direction,
            "confidence": final.confidence,
            "quant_direction": final.quant_signal.direction if final.quant_signal else None,
            "llm_direction": final.llm_signal.direction if final.llm_signal else None,
            "timestamp": final.timestamp.isoformat(),
        },
        "error": None,
        "degradation": {
            "degraded": degraded,
            "reason_codes": codes,
            "source_diagnostics": final.metadata.get("source_diagnostics") or {},
        },
        "data_quality": data_quality,
        "research": final.metadata.get("research"),
    }


def failure_document(ticker: str, date: str, exc: Exception) -> dict[str, Any]:
    codes = list(getattr(exc, "reason_codes", ()) or ())
    if not codes and BOTH_NONE_MESSAGE in str(exc):
        codes = ["both_signals_unavailable"]
    diagnostics: dict[str, Any] = dict(getattr(exc, "source_diagnostics", None) or {})
    research = next(
        (
            diag["research"]
            for diag in diagnostics.values()
            if isinstance(diag, dict) and diag.get("research") is not None
        ),
        None,
    )
    return {
        "contract_version": CONTRACT_VERSION,
        "ticker": ticker,
        "date": date,
        "status": "failed",
        "result": None,
        "error": {"code": "live_signal_failed", "message": str(exc), "retryable": False},
        "degradation": {
            "degraded": bool(codes),
            "reason_codes": codes,
            "source_diagnostics": diagnostics,
        },
        "data_quality": getattr(exc, "data_quality", None),
        "research": research,
    }


class LiveMode:
    def __init__(self, orchestrator: TradingOrchestrator) -> None:
        self.orchestrator = orchestrator

    def run_once(self, tickers: Sequence[str], date: str | None = None) -> list[dict[str, Any]]:
        """Sequential and synchronous; callers that live in an event loop use a thread."""
        day = date or datetime.now(UTC).date().isoformat()
        documents = []
        for ticker in tickers:
            try:
                final = self.orchestrator.get_combined_signal(ticker, day)
            except Exception as exc:
                logger.warning("live signal failed for %s %s: %s", ticker, day, exc)
                documents.append(failure_document(ticker, day, exc))
            else:
                documents.append(success_document(ticker, day, final))
        return documents
