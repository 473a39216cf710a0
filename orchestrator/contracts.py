"""Signal contracts (v1alpha1) and the error taxonomy shared by both lanes and both backends.

The backends serialize these objects into their own payloads, so the field names, the reason-code
strings and the way metadata is stamped are part of the contract, not an implementation detail.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

CONTRACT_VERSION = "v1alpha1"

Lane = Literal["quant", "llm"]


class ReasonCode(StrEnum):
    """Why a lane (or the whole decision) degraded; the values are the wire strings."""

    CONFIG_INVALID = "config_invalid"
    QUANT_NOT_CONFIGURED = "quant_not_configured"
    QUANT_INIT_FAILED = "quant_init_failed"
    QUANT_SIGNAL_FAILED = "quant_signal_failed"
    QUANT_NO_DATA = "quant_no_data"
    NON_TRADING_DAY = "non_trading_day"
    PARTIAL_DATA = "partial_data"
    STALE_DATA = "stale_data"
    LLM_INIT_FAILED = "llm_init_failed"
    LLM_SIGNAL_FAILED = "llm_signal_failed"
    LLM_UNKNOWN_RATING = "llm_unknown_rating"
    PROVIDER_MISMATCH = "provider_mismatch"
    PROVIDER_AUTH_FAILED = "provider_auth_failed"
    BOTH_SIGNALS_UNAVAILABLE = "both_signals_unavailable"


def utc_now() -> datetime:
    return datetime.now(UTC)


def dedupe_codes(codes: Iterable[str | ReasonCode | None]) -> tuple[str, ...]:
    """Keep the first occurrence of each code, in order, and drop empties (upstream semantics)."""
    seen: dict[str, None] = {}
    for code in codes:
        if code:
            seen.setdefault(str(code), None)
    return tuple(seen)


@dataclass(frozen=True, slots=True)
class Signal:
    """One lane's opinion. `metadata` is stamped with source, contract_version and reason_code."""

    ticker: str
    direction: int
    confidence: float
    source: Lane
    timestamp: datetime = field(default_factory=utc_now)
    metadata: dict[str, Any] = field(default_factory=dict)
    contract_version: str = CONTRACT_VERSION
    reason_code: str | None = None

    def __post_init__(self) -> None:
        if self.direction not in (-1, 0, 1):
            raise ValueError(f"Signal direction must be -1, 0 or 1, got {self.direction!r}.")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"Signal confidence must be within [0, 1], got {self.confidence!r}.")
        metadata = dict(self.metadata)
        code = str(self.reason_code) if self.reason_code else metadata.get("reason_code") or None
        metadata["contract_version"] = self.contract_version
        if code:
            metadata["reason_code"] = code
        metadata["source"] = self.source
        object.__setattr__(self, "reason_code", code)
        object.__setattr__(self, "metadata", metadata)

    @property
    def degraded(self) -> bool:
        return bool(self.reason_code) or bool(self.metadata.get("error"))


@dataclass(frozen=True, slots=True)
class FinalSignal:
    """The merged decision; `degrade_reason_codes` says which lanes were missing and why."""

    ticker: str
    direction: int
    confidence: float
    quant_signal: Signal | None
    llm_signal: Signal | None
    timestamp: datetime = field(default_factory=utc_now)
    degrade_reason_codes: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    contract_version: str = CONTRACT_VERSION

    def __post_init__(self) -> None:
        codes = dedupe_codes(self.degrade_reason_codes)
        metadata = dict(self.metadata)
        metadata["contract_version"] = self.contract_version
        if codes:
            metadata["degrade_reason_codes"] = list(codes)
        object.__setattr__(self, "degrade_reason_codes", codes)
        object.__setattr__(self, "metadata", metadata)

    @property
    def degraded(self) -> bool:
        return bool(self.degrade_reason_codes)


class CombinedSignalFailure(ValueError):
    """Neither lane produced a usable signal; carries what the backends need for RESULT_META."""

    def __init__(
        self,
        message: str,
        *,
        reason_codes: Iterable[str | ReasonCode] = (),
        source_diagnostics: Mapping[str, Any] | None = None,
        data_quality: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.reason_codes: tuple[str, ...] = dedupe_codes(reason_codes)
        self.source_diagnostics: dict[str, Any] = dict(source_diagnostics or {})
        self.data_quality: dict[str, Any] | None = (
            dict(data_quality) if data_quality is not None else None
        )


def build_error_signal(
    ticker: str,
    source: Lane,
    reason_code: str | ReasonCode,
    message: str,
    metadata: Mapping[str, Any] | None = None,
) -> Signal:
    """A neutral, zero-confidence signal that records why its lane failed."""
    payload = dict(metadata or {})
    payload["error"] = message
    return Signal(
        ticker=ticker,
        direction=0,
        confidence=0.0,
        source=source,
        metadata=payload,
        reason_code=str(reason_code),
    )


def signal_reason_code(sig: Signal | None) -> str | None:
    if sig is None:
        return None
    return sig.reason_code or sig.metadata.get("reason_code") or None
