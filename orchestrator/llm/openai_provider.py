"""An analyst backed by any OpenAI-compatible chat-completions endpoint, over aiohttp.

This is the only kernel module allowed to speak HTTP (an import-linter contract pins it). The lane
is synchronous because the backends call it from worker threads, so each verdict runs its own short
event loop; aiohttp errors are translated here into `ProviderError`, whose text feeds the
reason-code classification (a 401 says "Error code: 401").
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp

from orchestrator.features import describe
from orchestrator.llm.base import AnalystRequest, ProviderError, Verdict
from orchestrator.signals import LLM_RATING_WORDS

_WORDS = "|".join(LLM_RATING_WORDS)
_LABELLED = re.compile(rf"RATING\W*({_WORDS})\b")
_ANY = re.compile(rf"\b({_WORDS})\b")
_RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})

SYSTEM_PROMPT = (
    "You are the portfolio manager of a trading research desk. Weigh the indicator readings and "
    "the research debate, then answer with one short paragraph of reasoning followed by a last "
    "line of the form 'RATING: <BUY|OVERWEIGHT|HOLD|UNDERWEIGHT|SELL>'."
)


def extract_rating(reply: str) -> str:
    """The labelled rating if present, else the first rating word, else '' (maps to HOLD)."""
    upper = reply.upper()
    match = _LABELLED.search(upper) or _ANY.search(upper)
    return match.group(1) if match else ""


def _rationale(reply: str) -> str:
    kept = [line for line in reply.strip().splitlines() if not _LABELLED.search(line.upper())]
    return " ".join(" ".join(kept).split())[:1200] or reply.strip()[:1200]


class OpenAICompatibleProvider:
    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        model: str,
        api_key: str | None,
        timeout: float,
        max_retries: int,
        retry_delay: float = 1.0,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.max_retries = max_retries
        self.retry_delay = retry_delay

    def decide(self, request: AnalystRequest) -> Verdict:
        if not self.api_key and self.name != "ollama":
            raise ProviderError(f"{self.name} provider API key not configured")
        debate = request.debate
        user = (
            f"Ticker {request.ticker}, date {request.date}.\n"
            f"Indicators: {describe(request.features)}.\n"
            f"Bull case: {debate.get('bull_history') or 'unavailable'}\n"
            f"Bear case: {debate.get('bear_history') or 'unavailable'}\n"
            f"Research manager: {debate.get('investment_plan') or 'unavailable'}"
        )
        reply = asyncio.run(self.complete(SYSTEM_PROMPT, user))
        return Verdict(rating=extract_rating(reply), rationale=_rationale(reply))

    async def complete(self, system: str, user: str) -> str:
        body = {
            "model": self.model,
            "temperature": 0,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        }
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        last_error = ProviderError("no attempt was made")
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for attempt in range(self.max_retries + 1):
                if attempt:
                    await asyncio.sleep(self.retry_delay)
                try:
                    return await self._post(session, body, headers)
                except _Retryable as exc:
                    last_error = ProviderError(str(exc))
                except (aiohttp.ClientError, TimeoutError) as exc:
                    last_error = ProviderError(
                        f"{self.name} request to {self.base_url} failed: "
                        f"{type(exc).__name__}: {exc}"
                    )
        raise last_error

    async def _post(
        self, session: aiohttp.ClientSession, body: dict[str, Any], headers: dict[str, str]
    ) -> str:
        async with session.post(
            f"{self.base_url}/chat/completions", json=body, headers=headers
        ) as response:
            text = await response.text()
            if response.status in _RETRYABLE_STATUSES:
                raise _Retryable(f"Error code: {response.status} - {text[:300]}")
            if response.status >= 400:
                raise ProviderError(f"Error code: {response.status} - {text[:300]}")
            try:
                payload = await response.json(content_type=None)
                content = payload["choices"][0]["message"]["content"]
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                raise ProviderError(f"unexpected chat-completions reply: {text[:300]}") from exc
            if not isinstance(content, str):
                raise ProviderError("chat-completions reply has no text content")
            return content


class _Retryable(Exception):
    """A transient HTTP status worth another attempt."""
