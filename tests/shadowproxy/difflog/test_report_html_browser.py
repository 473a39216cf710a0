"""The HTML report in a real browser: Debian's headless Chromium opens the page `diffs report`
wrote from disk, over the DevTools protocol (browser.py), and checks what a reader sees.

A machine without `chromium` skips this; CI (CI=true, .ci/run installs it) fails instead. The
screenshot stays in the test's tmp dir (`report.png`) as its artifact.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
from pathlib import Path

import pytest

from shadowproxy.ops.diffs_report import register

from .browser import Page
from .records import (
    HOSTILE,
    SAMPLE_BREAKS,
    SAMPLE_DRIFT,
    SAMPLE_FIELDS,
    SAMPLE_GROUPS,
    SAMPLE_NOISE,
    SAMPLE_SIGNATURES,
    sample,
    write_folder,
)

CHART_SIZES = """[...document.querySelectorAll('svg')].map(svg => {
    const box = svg.getBoundingClientRect();
    return [svg.getAttribute('class'), box.width, box.height];
})"""
TABLE_ROWS = """Object.fromEntries([...document.querySelectorAll('table[id]')]
    .map(table => [table.id, table.tBodies[0].rows.length]))"""
BARS = "document.querySelectorAll('svg.chart')[0].querySelectorAll('g rect').length"
# the noise bars are drawn, in the colour the stylesheet gives them (not the default black)
NOISE_BARS = """[...document.querySelectorAll('rect.s-noise')]
    .filter(bar => getComputedStyle(bar).fill !== 'rgb(0, 0, 0)' && bar.getBBox().height > 0)
    .length"""


@pytest.fixture
def chromium() -> str:
    """The system browser: skip without it locally, fail without it in CI."""
    path = shutil.which("chromium")
    if path is not None:
        return path
    message = "chromium is not installed (Debian package: chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; CI must install it")
    pytest.skip(message)


def write_report(folder: Path, out: Path) -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["report", "--dir", str(folder), "--html", str(out)])
    assert args.func(args) == 0


async def test_the_report_opens_from_disk_filled_and_without_a_console_error(
    chromium: str, tmp_path: Path
) -> None:
    folder = write_folder(tmp_path / "diff_logs", sample())
    out = tmp_path / "report.html"
    await asyncio.to_thread(write_report, folder, out)
    async with Page(chromium, tmp_path) as page:
        await page.open(out)
        assert await page.evaluate("document.title") == f"shadowproxy parity report: {folder}"
        charts = await page.evaluate(CHART_SIZES)
        assert len(charts) == len(SAMPLE_GROUPS) + 1  # one per group, and the latency chart
        assert all(
            kind == "chart" and width > 100 and height > 20 for kind, width, height in charts
        )
        assert await page.evaluate(TABLE_ROWS) == {
            "parity-table": len(SAMPLE_GROUPS),
            "fields-table": SAMPLE_FIELDS,
            "noise-table": SAMPLE_NOISE,
            "signature-table": SAMPLE_SIGNATURES,
            "breaks-table": SAMPLE_BREAKS,
            "drift-table": SAMPLE_DRIFT,
            "readiness-table": 2,
        }
        assert await page.evaluate(BARS) > 0
        assert await page.evaluate(NOISE_BARS) > 0
        noise = await page.evaluate("document.querySelector('#noise').innerText")
        assert "legacy differs with itself on 34% of 64 reads" in noise
        assert await page.evaluate("document.querySelectorAll('.example').length") == 6
        assert await page.evaluate("document.scripts.length") == 0
        assert HOSTILE in await page.evaluate("document.querySelector('#examples').textContent")
        shot = await page.screenshot()
        await asyncio.to_thread((tmp_path / "report.png").write_bytes, shot)
        assert shot.startswith(b"\x89PNG")
        assert page.errors() == []
        assert page.requests() == [out.as_uri()]  # the page itself, nothing else


async def test_the_report_prints(chromium: str, tmp_path: Path) -> None:
    """With print media the navigation goes and the charts stay; a PDF comes out."""
    folder = write_folder(tmp_path / "diff_logs", sample())
    out = tmp_path / "report.html"
    await asyncio.to_thread(write_report, folder, out)
    async with Page(chromium, tmp_path) as page:
        await page.open(out)
        await page.call("Emulation.setEmulatedMedia", {"media": "print"})
        assert await page.evaluate("getComputedStyle(document.querySelector('nav')).display") == (
            "none"
        )
        charts = await page.evaluate(CHART_SIZES)
        assert all(width > 100 and height > 20 for _, width, height in charts)
        pdf = await page.print_pdf()
        assert pdf.startswith(b"%PDF")
        pages = [int(n) for n in re.findall(rb"/Count (\d+)", pdf)]
        assert pages
        assert max(pages) >= 2
        assert page.errors() == []
