"""ReportService (`get_report`, list, export): historical reports stay readable and LEGACY-shaped.

Rollback trigger 5 is "report export or historical report retrieval cannot find prior
artifacts", so these reads go straight to the kernel's report files with no contract mapping
in between; pagination is applied here, not in the route.
"""

from __future__ import annotations

import asyncio
from typing import Any

from app_service.errors import NotFoundError
from app_service.persistence.report_files import ReportFiles


class ReportService:
    def __init__(self, files: ReportFiles) -> None:
        self._files = files

    async def list_reports(self, *, limit: int, offset: int) -> dict[str, Any]:
        reports = await asyncio.to_thread(self._files.list_reports)
        return {
            "reports": reports[offset : offset + limit],
            "total": len(reports),
            "limit": limit,
            "offset": offset,
        }

    async def get_report(self, ticker: str, date: str) -> dict[str, str]:
        report = await asyncio.to_thread(self._files.get_report, ticker, date)
        if report is None:
            raise NotFoundError("Report not found")
        return report

    async def export_csv(self) -> str:
        return await asyncio.to_thread(self._files.export_csv)
