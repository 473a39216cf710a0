"""The portfolio files: watchlist, accounts/positions and saved recommendations.

Upstream `api/portfolio.py` guarded each JSON file with an flock'd sibling lock file (shared for
reads, exclusive for read-modify-write) because several workers and the batch job touch them;
this keeps that discipline and the file shapes, so the app service can read the same folder.
Methods are synchronous; handlers call them through `asyncio.to_thread`.
"""

from __future__ import annotations

import fcntl
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from legacy_backend.paths import is_safe_segment, resolve_inside
from legacy_backend.task_store import write_json_atomic

DEFAULT_ACCOUNT = "默认账户"


class PortfolioConflict(ValueError):
    """A duplicate watchlist ticker or account; the message is the upstream 400 detail."""


class PortfolioStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.watchlist_file = directory / "watchlist.json"
        self.positions_file = directory / "positions.json"
        self.recommendations_dir = directory / "recommendations"

    @contextmanager
    def _locked(self, data_file: Path, *, exclusive: bool) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        lock_path = data_file.with_suffix(".lock")
        with lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @staticmethod
    def _load(data_file: Path, key: str, default: Any) -> Any:
        """`data[key]`, or the default when the file is missing, broken or mis-shaped."""
        try:
            data = json.loads(data_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return default
        value = data.get(key) if isinstance(data, dict) else None
        return value if isinstance(value, type(default)) else default

    @staticmethod
    def _save(data_file: Path, key: str, value: Any) -> None:
        write_json_atomic(data_file, {key: value}, indent=2)

    # ------------------------------------------------------------ watchlist

    def watchlist(self) -> list[dict[str, Any]]:
        with self._locked(self.watchlist_file, exclusive=False):
            entries: list[dict[str, Any]] = self._load(self.watchlist_file, "watchlist", [])
        return entries

    def add_to_watchlist(self, ticker: str, name: str, added_at: str) -> dict[str, Any]:
        with self._locked(self.watchlist_file, exclusive=True):
            entries = self._load(self.watchlist_file, "watchlist", [])
            if any(entry.get("ticker") == ticker for entry in entries):
                raise PortfolioConflict(f"{ticker} 已在自选股中")
            entry = {"ticker": ticker, "name": name, "added_at": added_at}
            entries.append(entry)
            self._save(self.watchlist_file, "watchlist", entries)
        return entry

    def remove_from_watchlist(self, ticker: str) -> bool:
        with self._locked(self.watchlist_file, exclusive=True):
            entries = self._load(self.watchlist_file, "watchlist", [])
            kept = [entry for entry in entries if entry.get("ticker") != ticker]
            if len(kept) == len(entries):
                return False
            self._save(self.watchlist_file, "watchlist", kept)
        return True

    # ------------------------------------------------------------ accounts and positions

    def _accounts(self) -> dict[str, Any]:
        accounts: dict[str, Any] = self._load(self.positions_file, "accounts", {})
        return accounts

    def account_names(self) -> list[str]:
        with self._locked(self.positions_file, exclusive=False):
            return list(self._accounts())

    def create_account(self, name: str) -> None:
        with self._locked(self.positions_file, exclusive=True):
            accounts = self._accounts()
            if name in accounts:
                raise PortfolioConflict(f"账户 {name} 已存在")
            accounts[name] = {"positions": {}}
            self._save(self.positions_file, "accounts", accounts)

    def delete_account(self, name: str) -> bool:
        with self._locked(self.positions_file, exclusive=True):
            accounts = self._accounts()
            if name not in accounts:
                return False
            del accounts[name]
            self._save(self.positions_file, "accounts", accounts)
        return True

    def positions(self, account: str | None) -> list[tuple[str, dict[str, Any]]]:
        """(ticker, stored position) pairs of one account, or of all accounts when None."""
        with self._locked(self.positions_file, exclusive=False):
            accounts = self._accounts()
        if account is not None:
            selected = [accounts[account]] if account in accounts else []
        else:
            selected = list(accounts.values())
        return [
            (ticker, position)
            for holder in selected
            for ticker, stored in holder.get("positions", {}).items()
            for position in stored
        ]

    def add_position(
        self,
        ticker: str,
        shares: Any,
        cost_price: Any,
        purchase_date: Any,
        notes: Any,
        account: str,
    ) -> dict[str, Any]:
        """Files under the default account when `account` is unknown, keeping the asked name."""
        position = {
            "position_id": f"pos_{uuid.uuid4().hex[:6]}",
            "shares": shares,
            "cost_price": cost_price,
            "purchase_date": purchase_date,
            "notes": notes,
            "account": account,
            "name": ticker,
        }
        with self._locked(self.positions_file, exclusive=True):
            accounts = self._accounts()
            holder_name = account if account in accounts else DEFAULT_ACCOUNT
            holder = accounts.setdefault(holder_name, {"positions": {}})
            holder.setdefault("positions", {}).setdefault(ticker, []).append(position)
            self._save(self.positions_file, "accounts", accounts)
        return position

    def remove_position(self, ticker: str, position_id: str | None, account: str | None) -> bool:
        """Never a mass delete: an empty id removes nothing. LEGACY quirk: with an account,
        True whenever that account holds the ticker, even if no id matched."""
        if not position_id:
            return False
        with self._locked(self.positions_file, exclusive=True):
            accounts = self._accounts()
            if account:
                holders = [accounts[account]] if account in accounts else []
            else:
                holders = list(accounts.values())
            for holder in holders:
                stored = holder.get("positions", {})
                if ticker not in stored:
                    continue
                kept = [p for p in stored[ticker] if p.get("position_id") != position_id]
                if not account and len(kept) == len(stored[ticker]):
                    continue
                removed = len(kept) != len(stored[ticker])
                if removed:
                    if kept:
                        stored[ticker] = kept
                    else:
                        del stored[ticker]
                    self._save(self.positions_file, "accounts", accounts)
                return True
        return False

    # ------------------------------------------------------------ recommendations

    def _records(self, folder: Path) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        for path in sorted(folder.glob("*.json"), key=lambda p: p.name, reverse=True):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(record, dict):
                records.append(record)
        return records

    def recommendations(self, date: str | None) -> list[dict[str, Any]] | None:
        """Records of one date folder, or of every `20*` folder newest first; None if unsafe."""
        if date is not None:
            folder = resolve_inside(self.recommendations_dir, date)
            if folder is None:
                return None
            return self._records(folder) if folder.is_dir() else []
        if not self.recommendations_dir.is_dir():
            return []
        folders = sorted(
            (
                d
                for d in self.recommendations_dir.iterdir()
                if d.is_dir() and d.name.startswith("20")
            ),
            key=lambda d: d.name,
            reverse=True,
        )
        return [record for folder in folders for record in self._records(folder)]

    def recommendation(self, date: str, ticker: str) -> dict[str, Any] | None:
        if not is_safe_segment(ticker):
            return None
        path = resolve_inside(self.recommendations_dir, date, f"{ticker}.json")
        if path is None or not path.is_file():
            return None
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def save_recommendation(self, date: str, ticker: str, record: dict[str, Any]) -> None:
        path = resolve_inside(self.recommendations_dir, date, f"{ticker}.json")
        if path is None:
            raise ValueError(f"refusing to save a recommendation for unsafe path {date}/{ticker}")
        write_json_atomic(path, record, indent=2)
