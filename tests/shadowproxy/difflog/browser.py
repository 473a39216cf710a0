"""Headless Chromium driven over the Chrome DevTools protocol, for the HTML report's browser test.

The browser is Debian's `chromium` (never a downloaded build), started with a throwaway profile
and `--remote-debugging-port=0`; it prints the port it took as `DevTools listening on ws://...`
on stderr, which goes to a file (a pipe nobody drains would stall the browser once full). The
test talks to the browser endpoint with aiohttp's websocket client: one page target, attached
with `flatten`, so page commands carry its `sessionId`. Everything the page reports arrives as
events and is kept: console calls, exceptions, log entries and every request it makes.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import re
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--remote-debugging-port=0",
)
LISTENING = re.compile(rb"DevTools listening on (ws://\S+)")
START_TIMEOUT_S = 60.0
CALL_TIMEOUT_S = 60.0


class Page:
    """One tab of a headless Chromium; use as `async with Page(binary, tmp) as page:`."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.events: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._process: asyncio.subprocess.Process | None = None
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._session = ""

    async def __aenter__(self) -> Page:
        log = self.workdir / "chromium.log"
        with await asyncio.to_thread(log.open, "wb") as stderr:
            self._process = await asyncio.create_subprocess_exec(
                self.binary,
                *FLAGS,
                f"--user-data-dir={self.workdir / 'profile'}",
                "about:blank",
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        url = await self._devtools_url(log)
        self._http = aiohttp.ClientSession()
        self._ws = await self._http.ws_connect(url, max_msg_size=0)
        target = await self.call("Target.createTarget", {"url": "about:blank"}, page=False)
        attached = await self.call(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, page=False
        )
        self._session = attached["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            await self.call(f"{domain}.enable")
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._http is not None:
            await self._http.close()
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            try:
                await asyncio.wait_for(self._process.wait(), 10)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()

    async def _devtools_url(self, log: Path) -> str:
        deadline = time.monotonic() + START_TIMEOUT_S
        said = b""
        while time.monotonic() < deadline:
            said = await asyncio.to_thread(log.read_bytes)
            if found := LISTENING.search(said):
                return found.group(1).decode()
            assert self._process is not None
            if self._process.returncode is not None:
                break
            await asyncio.sleep(0.05)
        raise AssertionError(f"chromium printed no DevTools URL:\n{said.decode(errors='replace')}")

    async def call(
        self, method: str, params: dict[str, Any] | None = None, *, page: bool = True
    ) -> dict[str, Any]:
        """Send one command and return its result; events that arrive meanwhile are kept."""
        assert self._ws is not None
        ident = next(self._ids)
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if page:
            message["sessionId"] = self._session
        await self._ws.send_json(message)
        while True:
            answer = await self._receive()
            if answer.get("id") == ident:
                if "error" in answer:
                    raise AssertionError(f"{method}: {answer['error']}")
                result: dict[str, Any] = answer["result"]
                return result

    async def wait_for(self, event: str, *, after: int = 0) -> dict[str, Any]:
        """The first event of that name from `events[after:]`, waiting for it if need be."""
        while True:
            for seen in self.events[after:]:
                if seen.get("method") == event:
                    return seen
            await self._receive()

    async def _receive(self) -> dict[str, Any]:
        assert self._ws is not None
        message: dict[str, Any] = await asyncio.wait_for(self._ws.receive_json(), CALL_TIMEOUT_S)
        if "method" in message:
            self.events.append(message)
        return message

    async def open(self, path: Path) -> None:
        """Navigate to a file (an absolute path) and wait until it has loaded."""
        before = len(self.events)
        await self.call("Page.navigate", {"url": path.as_uri()})
        await self.wait_for("Page.loadEventFired", after=before)

    async def evaluate(self, expression: str) -> Any:
        result = await self.call(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}
        )
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def screenshot(self) -> bytes:
        """The whole page, beyond the viewport, as a PNG."""
        shot = await self.call(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
        )
        return base64.b64decode(shot["data"])

    async def print_pdf(self) -> bytes:
        result = await self.call("Page.printToPDF", {"printBackground": True})
        return base64.b64decode(result["data"])

    def errors(self) -> list[str]:
        """What the page reported as an error: console errors, exceptions, error log entries,
        failed requests."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(f"console: {params.get('args')}")
            elif method == "Runtime.exceptionThrown":
                found.append(f"exception: {params.get('exceptionDetails')}")
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                found.append(f"log: {params['entry'].get('text')} {params['entry'].get('url')}")
            elif method == "Network.loadingFailed":
                found.append(f"request failed: {params.get('errorText')}")
        return found

    def requests(self) -> list[str]:
        """The URL of every request the page made."""
        return [
            event["params"]["request"]["url"]
            for event in self.events
            if event.get("method") == "Network.requestWillBeSent"
        ]
