"""Recommendation records: built contract-first at write time, normalized on every read.

The store holds two generations of files side by side (flat LEGACY records with
`analysis_date`, and contract-shaped NEW ones), so every read goes through `normalize` and the
dashboard sees one shape (docs/upstream-contract.md §4.5). The three degraded rules of a freshly
built record differ on purpose; they are the upstream's and a diff against it must not flag them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app_service.contracts import CONTRACT_VERSION, AnalysisOutcome, signals_block


def build_record(
    *, ticker: str, name: str, date: str, created_at: str, outcome: AnalysisOutcome
) -> dict[str, Any]:
    codes = list(outcome.degrade_reason_codes)
    lane_missing = outcome.quant_signal is None or outcome.llm_signal is None
    status_degraded = bool(codes) or bool(outcome.data_quality) or lane_missing
    return {
        "contract_version": CONTRACT_VERSION,
        "ticker": ticker,
        "name": name,
        "date": date,
        "status": "degraded_success" if status_degraded else "completed",
        "created_at": created_at,
        "result": {
            "decision": outcome.decision,
            "confidence": outcome.confidence,
            "signals": signals_block(outcome.decision, outcome.quant_signal, outcome.llm_signal),
            "degraded": lane_missing,
        },
        "degradation": {"degraded": bool(codes) or lane_missing, "reason_codes": codes},
        "data_quality": dict(outcome.data_quality) if outcome.data_quality else None,
        "compat": {
            "analysis_date": date,
            "decision": outcome.decision,
            "quant_signal": outcome.quant_signal,
            "llm_signal": outcome.llm_signal,
            "confidence": outcome.confidence,
        },
    }


def normalize(
    record: Mapping[str, Any], *, ticker: str, date: str, compat_fields: bool
) -> dict[str, Any]:
    """Serve any stored record in contract shape; `ticker`/`date` come from its file path."""
    if "result" in record and "contract_version" in record:
        out = dict(record)
        out.setdefault("ticker", ticker)
        out.setdefault("date", date)
    else:
        out = _upgrade_flat(record, ticker=ticker, date=date)
    if not compat_fields:
        out.pop("compat", None)
    return out


def _upgrade_flat(record: Mapping[str, Any], *, ticker: str, date: str) -> dict[str, Any]:
    decision = record.get("decision") or "HOLD"
    quant, llm = record.get("quant_signal"), record.get("llm_signal")
    confidence = record.get("confidence")
    record_ticker = record.get("ticker") or ticker
    record_date = date or record.get("date") or record.get("analysis_date")
    lane_missing = quant is None or llm is None
    return {
        "contract_version": CONTRACT_VERSION,
        "ticker": record_ticker,
        "name": record.get("name") or record_ticker,
        "date": record_date,
        "status": record.get("status") or "completed",
        "created_at": record.get("created_at"),
        "result": {
            "decision": decision,
            "confidence": confidence,
            "signals": signals_block(decision, quant, llm),
            "degraded": lane_missing,
        },
        "degradation": record.get("degradation") or {"degraded": lane_missing, "reason_codes": []},
        "data_quality": record.get("data_quality"),
        "compat": {
            "analysis_date": record.get("analysis_date") or record_date,
            "decision": decision,
            "quant_signal": quant,
            "llm_signal": llm,
            "confidence": confidence,
        },
    }
