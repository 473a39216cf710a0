"""Watchlist, positions and recommendations as JSON files, the layout both backends share.

The legacy backend writes the same files under its own data dir, so the proxy can compare the
portfolio routes byte for byte; the formats here are therefore the upstream's, not ours to
improve. Reads take a shared `fcntl` lock and writes an exclusive one, so two requests (or a
legacy tool) never interleave a read-modify-write. Methods are blocking; callers use threads.
"""

from __future__ import annotations

import fcntl
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from app_service.errors import NotFoundError, RejectedError
from app_service.persistence.task_files import atomic_write_json, read_json_object

DEFAULT_ACCOUNT = "默认账户"
T = TypeVar("T")


def _safe_segment(text: str) -> bool:
    return bool(text) and ".." not in text and "/" not in text and "\\" not in text


class PortfolioFiles:
    def __init__(self, portfolio_dir: Path) -> None:
        self._dir = portfolio_dir
        self.recommendations_dir = portfolio_dir / "recommendations"

    @contextmanager
    def _locked(self, name: str, *, exclusive: bool) -> Iterator[None]:
        self._dir.mkdir(parents=True, exist_ok=True)
        with (self._dir / f"{name}.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self, name: str, key: str, empty: Any) -> Any:
        data = read_json_object(self._dir / f"{name}.json")
        value = data.get(key) if data is not None else None
        return value if isinstance(value, type(empty)) else empty

    def _update(self, name: str, key: str, empty: Any, change: Callable[[Any], T]) -> T:
        with self._locked(name, exclusive=True):
            value = self._read(name, key, empty)
            result = change(value)
            atomic_write_json(self._dir / f"{name}.json", {key: value}, indent=2)
            return result

    # ------------------------------------------------------------------ watchlist
    def watchlist(self) -> list[dict[str, Any]]:
        with self._locked("watchlist", exclusive=False):
            return list(self._read("watchlist", "watchlist", []))

    def add_watch(self, ticker: str, name: str, added_at: str) -> dict[str, Any]:
        entry = {"ticker": ticker, "name": name, "added_at": added_at}

        def change(items: list[dict[str, Any]]) -> dict[str, Any]:
            if any(item.get("ticker") == ticker for item in items):
                raise RejectedError(f"{ticker} 已在自选股中")
            items.append(entry)
            return entry

        return self._update("watchlist", "watchlist", [], change)

    def remove_watch(self, ticker: str) -> None:
        def change(items: list[dict[str, Any]]) -> None:
            kept = [item for item in items if item.get("ticker") != ticker]
            if len(kept) == len(items):
                raise NotFoundError("Ticker not found in watchlist")
            items[:] = kept

        self._update("watchlist", "watchlist", [], change)

    # ------------------------------------------------------------------ accounts/positions
    def accounts(self) -> dict[str, Any]:
        with self._locked("positions", exclusive=False):
            return dict(self._read("positions", "accounts", {}))

    def add_account(self, name: str) -> None:
        def change(accounts: dict[str, Any]) -> None:
            if name in accounts:
                raise RejectedError(f"账户 {name} 已存在")
            accounts[name] = {"positions": {}}

        self._update("positions", "accounts", {}, change)

    def remove_account(self, name: str) -> None:
        def change(accounts: dict[str, Any]) -> None:
            if name not in accounts:
                raise NotFoundError("Account not found")
            del accounts[name]

        self._update("positions", "accounts", {}, change)

    def add_position(self, body: dict[str, Any]) -> dict[str, Any]:
        """No type validation, like upstream; a missing key surfaces as `'key'` (400)."""
        ticker = body["ticker"]
        account = body.get("account") or DEFAULT_ACCOUNT
        position = {
            "position_id": f"pos_{uuid.uuid4().hex[:6]}",
            "shares": body["shares"],
            "cost_price": body["cost_price"],
            "purchase_date": body.get("purchase_date"),
            "notes": body.get("notes", ""),
            "account": account,
            "name": ticker,
        }

        def change(accounts: dict[str, Any]) -> dict[str, Any]:
            home = account if account in accounts else DEFAULT_ACCOUNT
            holder = accounts.setdefault(home, {"positions": {}})
            holder.setdefault("positions", {}).setdefault(ticker, []).append(position)
            return position

        return self._update("positions", "accounts", {}, change)

    def remove_position(self, ticker: str, position_id: str, account: str | None) -> None:
        if not position_id:
            raise NotFoundError("Position not found")

        def change(accounts: dict[str, Any]) -> None:
            names = [account] if account else list(accounts)
            for name in names:
                held = ((accounts.get(name) or {}).get("positions") or {}).get(ticker)
                if held is None:
                    continue
                kept = [p for p in held if p.get("position_id") != position_id]
                if kept:
                    accounts[name]["positions"][ticker] = kept
                elif len(kept) != len(held):
                    del accounts[name]["positions"][ticker]
                if account or len(kept) != len(held):
                    return
            raise NotFoundError("Position not found")

        self._update("positions", "accounts", {}, change)

    # ------------------------------------------------------------------ recommendations
    def recommendation_files(self, date: str | None) -> list[tuple[str, Path]]:
        """(date, file) pairs in serving order: dates descending, then file names descending."""
        root = self.recommendations_dir
        if date is not None:
            dates = [date] if _safe_segment(date) else []
        elif root.is_dir():
            dates = sorted(
                (p.name for p in root.iterdir() if p.is_dir() and p.name.startswith("20")),
                reverse=True,
            )
        else:
            dates = []
        files: list[tuple[str, Path]] = []
        for day in dates:
            folder = root / day
            if folder.is_dir():
                files.extend((day, p) for p in sorted(folder.glob("*.json"), reverse=True))
        return files

    def recommendation(self, date: str, ticker: str) -> dict[str, Any] | None:
        if not (_safe_segment(date) and _safe_segment(ticker)):
            return None
        path = (self.recommendations_dir / date / f"{ticker}.json").resolve()
        if not path.is_relative_to(self.recommendations_dir.resolve()):
            return None
        return read_json_object(path)

    def save_recommendation(self, date: str, ticker: str, record: dict[str, Any]) -> None:
        if not (_safe_segment(date) and _safe_segment(ticker)):
            raise ValueError(f"cannot file a recommendation under {date!r}/{ticker!r}")
        atomic_write_json(self.recommendations_dir / date / f"{ticker}.json", record, indent=2)
