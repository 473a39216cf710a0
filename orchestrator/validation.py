"""Boundary checks for the two strings that become file paths: the ticker and the date."""

from __future__ import annotations

import re
from datetime import date

_TICKER = re.compile(r"[A-Za-z0-9.^=-]+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
MAX_TICKER_LENGTH = 20


def validate_ticker(text: str) -> str:
    if not text or not text.strip():
        raise ValueError("Ticker must not be empty.")
    if any(ch.isspace() for ch in text):
        raise ValueError(f"Ticker {text!r} must not contain whitespace.")
    if "/" in text or "\\" in text or ".." in text:
        raise ValueError(f"Ticker {text!r} must not contain '/', '\\' or '..'.")
    if len(text) > MAX_TICKER_LENGTH:
        raise ValueError(f"Ticker {text!r} is longer than {MAX_TICKER_LENGTH} characters.")
    if not _TICKER.fullmatch(text):
        raise ValueError(
            f"Ticker {text!r} may only contain letters, digits and the characters . ^ = -."
        )
    return text


def validate_date(text: str, today: date) -> str:
    if not _DATE.fullmatch(text):
        raise ValueError(f"Date {text!r} must be formatted YYYY-MM-DD.")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"Date {text!r} is not a calendar date.") from None
    if day > today:
        raise ValueError(f"Date {text} is in the future (today is {today.isoformat()}).")
    return text
