"""The seam between the LLM lane and whoever writes the final rating.

`AnalystRequest` carries everything a provider may look at; `Verdict` is the raw rating word plus a
short rationale. The lane, not the provider, maps the word to a direction and confidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from orchestrator.features import MarketFeatures


class ProviderError(RuntimeError):
    """A provider could not produce a verdict; the text is what the error classification reads."""


@dataclass(frozen=True, slots=True)
class AnalystRequest:
    ticker: str
    date: str
    features: MarketFeatures
    debate: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Verdict:
    rating: str
    rationale: str


class AnalystProvider(Protocol):
    name: str

    def decide(self, request: AnalystRequest) -> Verdict: ...
