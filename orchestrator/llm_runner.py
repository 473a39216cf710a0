"""The LLM lane: provider sanity check, per-ticker/date cache, research debate, final rating.

The cache is what makes a second run of the same ticker and date reuse the first run's decision
(direction, confidence and timestamp) even when the provider is a real, non-deterministic model.
Failures become degraded Signals with a classified reason code; nothing failed is cached.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from orchestrator.config import OrchestratorConfig
from orchestrator.contracts import ReasonCode, Signal, build_error_signal, utc_now
from orchestrator.faults import InjectedFault
from orchestrator.features import compute_features
from orchestrator.llm.base import AnalystProvider, AnalystRequest, Verdict
from orchestrator.llm.factory import build_provider
from orchestrator.llm.matrix import check_provider_matrix, classify_llm_error
from orchestrator.market_data import MarketDataProvider
from orchestrator.research import DebateState, extract_research_provenance, run_research
from orchestrator.signals import map_llm_rating

logger = logging.getLogger(__name__)

FEATURE_WINDOW_DAYS = 90
# analyst count → (analyst node seconds, research node seconds) recommended upstream
RECOMMENDED_TIMEOUTS: dict[int, tuple[float, float]] = {
    1: (75, 30),
    2: (90, 45),
    3: (105, 60),
    4: (120, 75),
}
_FAULT_TEXT = {
    "fail": "LLM propagate failed (TA_FAULT_LLM=fail)",
    "auth": "Error code: 401 - authentication_error: invalid api key (TA_FAULT_LLM=auth)",
    "mismatch": "Unsupported LLM provider for this backend_url (TA_FAULT_LLM=mismatch)",
}


def timeout_warnings(config: OrchestratorConfig) -> list[str]:
    """Advice only: node timeouts below what upstream found necessary for this many analysts.

    The table is about model latency, so the offline rule-based analyst (instant) gets none.
    """
    if config.llm_provider == "offline":
        return []
    count = len(config.selected_analysts or ()) or 4
    analyst_rec, research_rec = RECOMMENDED_TIMEOUTS[min(count, 4)]
    warnings = []
    if config.analyst_node_timeout_secs < analyst_rec:
        warnings.append(
            f"analyst_node_timeout_secs={config.analyst_node_timeout_secs:g} is below the "
            f"recommended {analyst_rec:g}s for {count} analysts"
        )
    if config.research_node_timeout_secs < research_rec:
        warnings.append(
            f"research_node_timeout_secs={config.research_node_timeout_secs:g} is below the "
            f"recommended {research_rec:g}s for {count} analysts"
        )
    return warnings


def cache_path(cache_dir: Path, ticker: str, date_text: str) -> Path:
    return cache_dir / f"{ticker.replace('/', '_')}_{date_text}.json"


class LLMRunner:
    def __init__(
        self,
        config: OrchestratorConfig,
        market_data: MarketDataProvider,
        provider_factory: Callable[[OrchestratorConfig], AnalystProvider] = build_provider,
    ) -> None:
        self.config = config
        self.market_data = market_data
        self.provider_factory = provider_factory
        self.cache_dir = config.llm_cache_dir
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self._provider: AnalystProvider | None = None
        for warning in timeout_warnings(config):
            logger.warning("timeout sanity check: %s", warning)

    def get_signal(self, ticker: str, date_text: str) -> Signal:
        mismatch = check_provider_matrix(self.config.llm_provider, self.config.backend_url)
        if mismatch is not None:
            message = (
                f"provider '{mismatch['provider']}' does not match "
                f"backend_url '{mismatch['backend_url']}'"
            )
            return build_error_signal(
                ticker, "llm", ReasonCode.PROVIDER_MISMATCH, message, {"data_quality": mismatch}
            )
        try:
            fault = self.config.faults.llm
            if fault is not None:
                raise InjectedFault(_FAULT_TEXT[fault])
            cached = self._cached_signal(ticker, date_text)
            if cached is not None:
                return cached
            features, debate, verdict = self._propagate(ticker, date_text)
        except Exception as exc:
            code = classify_llm_error(str(exc))
            state = "unknown" if code is ReasonCode.LLM_SIGNAL_FAILED else str(code)
            quality = {
                "state": state,
                "provider": self.config.llm_provider,
                "backend_url": self.config.backend_url,
            }
            return build_error_signal(ticker, "llm", code, str(exc), {"data_quality": quality})
        return self._success(ticker, date_text, features, debate, verdict)

    def _propagate(
        self, ticker: str, date_text: str
    ) -> tuple[dict[str, Any], DebateState, Verdict]:
        day = date.fromisoformat(date_text)
        history = self.market_data.history(
            ticker, day - timedelta(days=FEATURE_WINDOW_DAYS), day + timedelta(days=1)
        )
        features = compute_features(history)
        debate = run_research(
            features, self.config.research_node_timeout_secs, self.config.faults.research
        )
        if self._provider is None:
            self._provider = self.provider_factory(self.config)
        verdict = self._provider.decide(AnalystRequest(ticker, date_text, features, debate))
        return {**features.as_dict(), "market_data": history.source}, debate, verdict

    def _success(
        self,
        ticker: str,
        date_text: str,
        features: dict[str, Any],
        debate: DebateState,
        verdict: Verdict,
    ) -> Signal:
        direction, confidence = map_llm_rating(verdict.rating)
        research = extract_research_provenance(debate)
        degraded = debate["research_status"] != "full"
        data_quality: dict[str, Any] = {"state": "ok"}
        if degraded:
            data_quality = {
                "state": "research_degraded",
                **{
                    key: debate[key]
                    for key in (
                        "research_status",
                        "research_mode",
                        "degraded_reason",
                        "timed_out_nodes",
                    )
                },
            }
        timestamp = utc_now()
        metadata: dict[str, Any] = {
            "rating": verdict.rating,
            "direction": direction,
            "confidence": confidence,
            "timestamp": timestamp.isoformat(),
            "ticker": ticker,
            "date": date_text,
            "decision_structured": {"rating": verdict.rating, "rationale": verdict.rationale},
            "data_quality": data_quality,
            "research": research,
            "sample_quality": "degraded_research" if degraded else "full_research",
            "provider": self.config.llm_provider,
            "features": features,
            "research_notes": {
                "bull": debate["bull_history"],
                "bear": debate["bear_history"],
                "manager": debate["investment_plan"],
            },
        }
        self._write_cache(cache_path(self.cache_dir, ticker, date_text), metadata)
        return Signal(
            ticker=ticker,
            direction=direction,
            confidence=confidence,
            source="llm",
            timestamp=timestamp,
            metadata=metadata,
        )

    def _cached_signal(self, ticker: str, date_text: str) -> Signal | None:
        """A hit reuses direction, confidence and timestamp; a damaged entry counts as a miss."""
        path = cache_path(self.cache_dir, ticker, date_text)
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
            return Signal(
                ticker=ticker,
                direction=int(payload["direction"]),
                confidence=float(payload["confidence"]),
                source="llm",
                timestamp=datetime.fromisoformat(str(payload["timestamp"])),
                metadata=payload,
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("ignoring unreadable llm cache %s: %s", path, exc)
            return None

    @staticmethod
    def _write_cache(path: Path, metadata: dict[str, Any]) -> None:
        """Write then rename, so a concurrent reader never sees half a file."""
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(metadata, ensure_ascii=False, sort_keys=True), encoding="utf-8")
        tmp.replace(path)
