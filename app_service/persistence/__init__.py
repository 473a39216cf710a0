"""Persistence adapters: SQLite task store, task-status files, portfolio files, report files."""
