"""`TradingOrchestrator`: runs both lanes, keeps what is usable, merges, explains what was lost.

Every dropped lane leaves a reason code and a `source_diagnostics` entry, and the worst data-quality
problem is summarised first, so a backend can tell "no quant configured" from "stale prices".
"""

from __future__ import annotations

import logging
from typing import Any

from orchestrator.calendar import MarketCalendar
from orchestrator.config import OrchestratorConfig
from orchestrator.contracts import (
    CombinedSignalFailure,
    FinalSignal,
    Lane,
    ReasonCode,
    Signal,
    dedupe_codes,
    signal_reason_code,
)
from orchestrator.llm_runner import LLMRunner
from orchestrator.market_data import MarketDataProvider, provider_from_config
from orchestrator.quant_runner import QuantRunner
from orchestrator.signals import SignalMerger

logger = logging.getLogger(__name__)

DATA_QUALITY_PRIORITY: dict[str, int] = {
    "provider_mismatch": 0,
    "non_trading_day": 1,
    "stale_data": 2,
    "partial_data": 3,
}


def summarize_data_quality(diagnostics: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The highest-priority data_quality (earlier lane on ties) plus every issue, or None."""
    issues = [
        (lane, diag["data_quality"])
        for lane, diag in diagnostics.items()
        if isinstance(diag.get("data_quality"), dict) and "state" in diag["data_quality"]
    ]
    if not issues:
        return None
    lane, chosen = min(
        issues, key=lambda item: DATA_QUALITY_PRIORITY.get(str(item[1]["state"]), 999)
    )
    return {
        **chosen,
        "source": lane,
        "issues": [{"source": source, **quality} for source, quality in issues],
    }


class TradingOrchestrator:
    def __init__(
        self, config: OrchestratorConfig, market_data: MarketDataProvider | None = None
    ) -> None:
        self.config = config
        self.market_data = market_data or provider_from_config(config)
        self.merger = SignalMerger(
            quant_weight_cap=config.quant_weight_cap,
            llm_weight_cap=config.llm_weight_cap,
            quant_solo_penalty=config.quant_solo_penalty,
            llm_solo_penalty=config.llm_solo_penalty,
        )
        self.quant_runner: QuantRunner | None = None
        self.llm_runner: LLMRunner | None = None
        self.unavailable: dict[Lane, ReasonCode] = {}
        if not config.quant_enabled:
            self.unavailable["quant"] = ReasonCode.QUANT_NOT_CONFIGURED
        else:
            try:
                self.quant_runner = QuantRunner(
                    self.market_data,
                    MarketCalendar(config.market_holidays_path),
                    max_sharpe=config.quant_max_sharpe,
                    fault=config.faults.quant,
                )
            except Exception:
                logger.exception("quant runner construction failed")
                self.unavailable["quant"] = ReasonCode.QUANT_INIT_FAILED
        try:
            self.llm_runner = LLMRunner(config, self.market_data)
        except Exception:
            logger.exception("llm runner construction failed")
            self.unavailable["llm"] = ReasonCode.LLM_INIT_FAILED

    def get_combined_signal(self, ticker: str, date: str) -> FinalSignal:
        """Synchronous on purpose: backends call it through `asyncio.to_thread`."""
        codes: list[str] = []
        diagnostics: dict[str, dict[str, Any]] = {}
        for lane, code in self.unavailable.items():
            codes.append(str(code))
            diagnostics[lane] = {"reason_code": str(code)}
        quant = self._run_lane("quant", ticker, date, codes, diagnostics)
        llm = self._run_lane("llm", ticker, date, codes, diagnostics)
        summary = summarize_data_quality(diagnostics)
        if quant is None and llm is None:
            codes.append(str(ReasonCode.BOTH_SIGNALS_UNAVAILABLE))
            raise CombinedSignalFailure(
                "both quant and llm signals are None",
                reason_codes=dedupe_codes(codes),
                source_diagnostics=diagnostics,
                data_quality=summary,
            )
        final = self.merger.merge(quant, llm, codes)
        if diagnostics:
            final.metadata["source_diagnostics"] = diagnostics
        if summary is not None:
            final.metadata["data_quality"] = summary
        if llm is not None and llm.metadata.get("research") is not None:
            final.metadata["research"] = llm.metadata["research"]
        return final

    def _run_lane(
        self,
        lane: Lane,
        ticker: str,
        date: str,
        codes: list[str],
        diagnostics: dict[str, dict[str, Any]],
    ) -> Signal | None:
        runner = self.quant_runner if lane == "quant" else self.llm_runner
        if runner is None:
            return None
        try:
            signal = runner.get_signal(ticker, date)
        except Exception as exc:
            logger.warning("%s lane raised for %s %s: %s", lane, ticker, date, exc)
            code = f"{lane}_signal_failed"
            codes.append(code)
            diagnostics[lane] = {"reason_code": code}
            return None
        if not signal.degraded:
            return signal
        code = signal_reason_code(signal) or f"{lane}_signal_failed"
        codes.append(code)
        diagnostic: dict[str, Any] = {"reason_code": code}
        for key in ("data_quality", "error", "research"):
            if signal.metadata.get(key) is not None:
                diagnostic[key] = signal.metadata[key]
        diagnostics[lane] = diagnostic
        return None
