"""Fault switches: every degraded path of the kernel is reachable from the environment alone.

The backends' tests (and a person poking at the dashboard) flip these instead of editing code.
They are read once, into `OrchestratorConfig.faults`; unset means "no fault".

- `TA_FAULT_LLM=fail`: the LLM lane's propagate raises a generic error → `llm_signal_failed`.
- `TA_FAULT_LLM=auth`: it raises an authentication-failure text (HTTP 401) → `provider_auth_failed`.
- `TA_FAULT_LLM=mismatch`: it raises "Unsupported LLM provider …" → `provider_mismatch`.
- `TA_FAULT_QUANT=fail`: the quant lane raises → `quant_signal_failed`.
- `TA_FAULT_QUANT=no_data`: the price download is empty → `quant_no_data` (`non_trading_day` on
  a weekend or holiday).
- `TA_FAULT_QUANT=partial`: the High column is missing → `partial_data`.
- `TA_FAULT_QUANT=stale`: the requested day's bar is missing → `stale_data` (`non_trading_day` on
  a weekend or holiday).
- `TA_FAULT_RESEARCH=bull,bear,manager` (any subset): those research nodes never answer, so the
  node guard times them out after `TA_RESEARCH_NODE_TIMEOUT_S`; the run still succeeds, with
  degraded research provenance.
- `TA_FAULT_PIPELINE=crash`: `analyze` fails after `STAGE:trading` through the protocol's failure
  path: stderr `RESULT_META:{...}` then `ANALYSIS_ERROR:<msg>`, exit 1.
- `TA_FAULT_PIPELINE=raw_crash`: `analyze` exits 1 after `STAGE:trading` with one plain error line
  on stderr and no markers at all.
- `TA_FAULT_PIPELINE=no_markers`: `analyze` exits 0 after the five stages without SIGNAL_DETAIL,
  RESULT_META or ANALYSIS_COMPLETE.
- `TA_FAULT_PIPELINE=stall`: `analyze` prints `STAGE:analysts`, then stays silent for
  `TA_FAULT_STALL_S` seconds (default 3600) — for the backends' stdout-silence timeout.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, cast

LlmFault = Literal["fail", "auth", "mismatch"]
QuantFault = Literal["fail", "no_data", "partial", "stale"]
PipelineFault = Literal["crash", "raw_crash", "no_markers", "stall"]

_LLM_FAULTS = ("fail", "auth", "mismatch")
_QUANT_FAULTS = ("fail", "no_data", "partial", "stale")
_PIPELINE_FAULTS = ("crash", "raw_crash", "no_markers", "stall")
RESEARCH_NODES = ("bull", "bear", "manager")


class InjectedFault(RuntimeError):
    """Raised where a fault switch asks for a failure, so it is never mistaken for a real bug."""


def _choice(environ: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    value = environ.get(name, "").strip().lower()
    if not value:
        return None
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}.")
    return value


@dataclass(frozen=True, slots=True)
class Faults:
    llm: LlmFault | None = None
    quant: QuantFault | None = None
    research: frozenset[str] = frozenset()
    pipeline: PipelineFault | None = None
    stall_seconds: float = 3600.0

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Faults:
        research = frozenset(
            part.strip().lower()
            for part in environ.get("TA_FAULT_RESEARCH", "").split(",")
            if part.strip()
        )
        unknown = sorted(research - set(RESEARCH_NODES))
        if unknown:
            raise ValueError(
                f"TA_FAULT_RESEARCH accepts {', '.join(RESEARCH_NODES)}, got {', '.join(unknown)}."
            )
        stall_text = environ.get("TA_FAULT_STALL_S", "3600").strip()
        try:
            stall_seconds = float(stall_text)
        except ValueError:
            stall_seconds = -1.0
        if stall_seconds < 0:
            raise ValueError(f"TA_FAULT_STALL_S must be a non-negative number, got {stall_text!r}.")
        return cls(
            llm=cast(LlmFault | None, _choice(environ, "TA_FAULT_LLM", _LLM_FAULTS)),
            quant=cast(QuantFault | None, _choice(environ, "TA_FAULT_QUANT", _QUANT_FAULTS)),
            research=research,
            pipeline=cast(
                PipelineFault | None, _choice(environ, "TA_FAULT_PIPELINE", _PIPELINE_FAULTS)
            ),
            stall_seconds=stall_seconds,
        )
