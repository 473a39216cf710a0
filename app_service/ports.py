"""The persistence seams the application services depend on, named as Protocols.

The services never know whether a task lives in SQLite or in a JSON file; they talk to these
shapes, and `create_app` plugs in the file and SQLite adapters. Tests substitute the far side
of a seam (for example a compatibility writer that drifts) without touching the services.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol


class TaskStore(Protocol):
    """The new application store, authoritative for status."""

    async def save(self, state: Mapping[str, Any]) -> None: ...

    async def load(self, task_id: str) -> dict[str, Any] | None: ...

    async def load_all(self) -> list[dict[str, Any]]: ...


class LegacyTaskJson(Protocol):
    """The compatibility store: legacy-shaped `task_status/<id>.json` files."""

    async def write(self, legacy_state: Mapping[str, Any]) -> None: ...

    async def read(self, task_id: str) -> dict[str, Any] | None: ...

    async def read_all(self) -> list[dict[str, Any]]: ...


class ResultStore(Protocol):
    """v1alpha1 result contracts, addressed by `result_ref`."""

    async def save(self, task_id: str, contract: Mapping[str, Any]) -> str: ...

    async def load(self, task_id: str, result_ref: str | None) -> dict[str, Any] | None: ...


class PortfolioGateway(Protocol):
    """Watchlist, positions and recommendation files (blocking; services call it in threads)."""

    def watchlist(self) -> list[dict[str, Any]]: ...

    def add_watch(self, ticker: str, name: str, added_at: str) -> dict[str, Any]: ...

    def remove_watch(self, ticker: str) -> None: ...

    def accounts(self) -> dict[str, Any]: ...

    def add_account(self, name: str) -> None: ...

    def remove_account(self, name: str) -> None: ...

    def add_position(self, body: dict[str, Any]) -> dict[str, Any]: ...

    def remove_position(self, ticker: str, position_id: str, account: str | None) -> None: ...

    def recommendation_files(self, date: str | None) -> list[tuple[str, Path]]: ...

    def recommendation(self, date: str, ticker: str) -> dict[str, Any] | None: ...

    def save_recommendation(self, date: str, ticker: str, record: dict[str, Any]) -> None: ...
