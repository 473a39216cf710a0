"""The application errors the transport maps to HTTP and websocket answers.

Services raise these (plus `ValueError` for bad input, as the NEW routes expected); only the
transport knows that `NotFoundError` is a 404 and `RejectedError` a 400. `detail` is the
user-facing text, reproduced from the upstream where the dashboard shows it.
"""

from __future__ import annotations


class AppError(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFoundError(AppError):
    """The named task, report, ticker, account or position does not exist."""


class RejectedError(AppError):
    """The request is well-formed but the current state refuses it (duplicate, empty list)."""
