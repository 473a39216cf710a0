"""`shadowproxy up`: the embedded default stack — legacy backend, app service, proxy.

Each part runs as a child process started by module name (the proxy never imports the
backends), in its own session so a terminal Ctrl-C reaches only this supervisor, which then
stops the children in order: proxy first (it drains in-flight requests to the backends), then
the backends; SIGTERM, then SIGKILL after a grace period. A child is ready when it has printed
its `... listening on URL` line (so port 0 works) and answers its health check. A child that
dies is reported with its exit code and last stderr lines, and the whole stack exits 1.

`--with-secondary` adds a fourth child, `legacy2`: a second `python -m legacy_backend` on its own
port and on the primary legacy's data directory, started right after it (stopped right before
it), and passed to the proxy as `--legacy-secondary`. The proxy sends it a sample of reads only,
never a write (shadowproxy/http/noise.py), so the two never both act on the shared files; what
the secondary knows of tasks is what was on disk when it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import aiohttp

from shadowproxy.errors import StackError
from shadowproxy.tasks import BackgroundTasks

SECONDARY = "legacy2"  # the child, its log prefix and its banner line
LEGACY_READY = re.compile(r"legacy_backend listening on (http://\S+)")
APP_READY = re.compile(r"app_service listening on (http://\S+)")
PROXY_READY = re.compile(r"shadowproxy listening on (http://\S+) \(admin (http://\S+)\)")
TAIL_LINES = 15
LINE_LIMIT = 1 << 20  # structured log lines can be long; never let one kill a pump
CLEAN_EXITS = frozenset({0, -signal.SIGTERM, -signal.SIGINT, 128 + signal.SIGTERM})


class Interrupted(Exception):
    """SIGINT/SIGTERM arrived while the stack was starting."""


@dataclass(frozen=True, slots=True)
class StackOptions:
    listen: str = "127.0.0.1:8000"
    admin: str = "127.0.0.1:9100"
    legacy_port: int = 8001
    app_port: int = 8002
    legacy_secondary_port: int = 8004  # legacy_port + 3: clear of 8000-8002 and 9100
    with_secondary: bool = False
    var_dir: Path = Path("var")
    diff_log_dir: Path = Path("diff_logs")
    config_path: Path | None = None
    diff_log_keep_days: int | None = None
    python: str = sys.executable
    host: str = "127.0.0.1"
    ready_timeout_s: float = 60.0
    grace_s: float = 10.0


class Child:
    """One supervised process: its output pumps, readiness match and exit watcher."""

    def __init__(
        self,
        name: str,
        process: asyncio.subprocess.Process,
        ready: re.Pattern[str],
        tasks: BackgroundTasks,
        echo: TextIO,
    ) -> None:
        self.name = name
        self.process = process
        self._tasks = tasks
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)
        self.ready: asyncio.Future[re.Match[str]] = asyncio.get_running_loop().create_future()
        self._pattern = ready
        self._echo = echo
        assert process.stdout is not None  # we asked for pipes
        assert process.stderr is not None
        self._pumps = [
            tasks.spawn(self._pump(process.stdout, is_stderr=False), name=f"{name}-stdout"),
            tasks.spawn(self._pump(process.stderr, is_stderr=True), name=f"{name}-stderr"),
        ]
        self.exited = tasks.spawn(process.wait(), name=f"{name}-wait")

    async def _pump(self, stream: asyncio.StreamReader, *, is_stderr: bool) -> None:
        while True:
            try:
                raw = await stream.readline()
            except ValueError:  # a line over LINE_LIMIT: skip what is buffered, keep pumping
                continue
            if not raw:
                return
            line = raw.decode(errors="replace").rstrip()
            if not self.ready.done():  # on stderr when stdout carries diff records
                match = self._pattern.search(line)
                if match is not None:
                    self.ready.set_result(match)
                    continue
            if is_stderr:
                self.tail.append(line)
            print(f"{self.name} | {line}", file=self._echo, flush=True)

    async def output_drained(self, timeout_s: float = 2.0) -> None:
        await asyncio.wait(self._pumps, timeout=timeout_s)

    async def death_report(self) -> str:
        await self.output_drained()
        lines = [f"{self.name} exited with code {self.process.returncode}"]
        if self.tail:
            lines.append(f"last stderr lines of {self.name}:")
            lines += [f"    {line}" for line in self.tail]
        return "\n".join(lines)

    async def stop(self, grace_s: float, force: asyncio.Event) -> str:
        """SIGTERM, then SIGKILL after `grace_s` or once `force` is set; a one-line account."""
        if self.exited.done():
            return f"{self.name} had already exited (code {self.process.returncode})"
        with contextlib.suppress(ProcessLookupError):  # it may have exited just now
            self.process.send_signal(signal.SIGTERM)
        forced = self._tasks.spawn(force.wait(), name=f"{self.name}-force")
        try:
            waiters: list[asyncio.Future[Any]] = [self.exited, forced]
            await asyncio.wait(waiters, timeout=grace_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            forced.cancel()
        killed = not self.exited.done()
        if killed:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        code = await self.exited
        await self.output_drained()
        if killed:
            raise StackError(f"{self.name} did not stop on SIGTERM and was killed")
        if code not in CLEAN_EXITS:
            raise StackError(await self.death_report())
        return f"stopped {self.name} (exit {code})"


class Stack:
    def __init__(self, options: StackOptions, environ: dict[str, str], out: TextIO, err: TextIO):
        self.options = options
        self.environ = {**environ, "PYTHONUNBUFFERED": "1"}
        self.out = out
        self.err = err
        self.stop_requested = asyncio.Event()
        self.force = asyncio.Event()  # a second Ctrl-C: kill now instead of waiting the grace
        self.tasks = BackgroundTasks()
        self.children: list[Child] = []

    def say(self, message: str) -> None:
        print(f"shadowproxy up: {message}", file=self.err, flush=True)

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal)
        code = 0
        try:
            code = await self._start_and_watch()
        except Interrupted:
            self.say("interrupted while starting")
        except StackError as exc:
            self.say(str(exc))
            code = 1
        finally:
            code = max(code, await self._stop_all())
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            await self.tasks.drain(1.0)
        return code

    def _on_signal(self) -> None:
        if self.stop_requested.is_set():
            self.say("second signal: killing the children now")
            self.force.set()
        self.stop_requested.set()

    async def _start_and_watch(self) -> int:
        o = self.options
        legacy = await self._launch(
            "legacy", self._backend_argv("legacy_backend", o.legacy_port, "legacy"), LEGACY_READY
        )
        secondary = None
        if o.with_secondary:  # the same data dir as legacy's: it is only ever sent reads
            argv = self._backend_argv("legacy_backend", o.legacy_secondary_port, "legacy")
            secondary = (await self._launch(SECONDARY, argv, LEGACY_READY))[1]
        app = await self._launch(
            "app", self._backend_argv("app_service", o.app_port, "app"), APP_READY
        )
        proxy_argv = [o.python, "-m", "shadowproxy", "run", "--legacy", legacy[1], "--app", app[1]]
        if secondary is not None:
            proxy_argv += ["--legacy-secondary", secondary]
        proxy_argv += ["--listen", o.listen, "--admin", o.admin]
        proxy_argv += ["--diff-log-dir", str(o.diff_log_dir)]
        proxy_argv += ["--state-dir", str(o.var_dir / "shadowproxy")]
        if o.config_path is not None:
            proxy_argv += ["--config", str(o.config_path)]
        if o.diff_log_keep_days is not None:
            proxy_argv += ["--diff-log-keep-days", str(o.diff_log_keep_days)]
        proxy = await self._launch("proxy", proxy_argv, PROXY_READY, lambda m: f"{m[2]}/healthz")
        self._banner(proxy[1], proxy[2], legacy[1], app[1], secondary)

        stopper = self.tasks.spawn(self.stop_requested.wait(), name="stack-stop")
        watched = {child.exited: child for child in self.children}
        done, _ = await asyncio.wait([stopper, *watched], return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        for finished in done:
            if finished in watched:
                raise StackError(await watched[finished].death_report())
        self.say("stopping (a second Ctrl-C kills at once)")
        return 0

    def _backend_argv(self, module: str, port: int, data: str) -> list[str]:
        o = self.options
        argv = [o.python, "-m", module, "--host", o.host, "--port", str(port)]
        return [*argv, "--data-dir", str(o.var_dir / data)]

    async def _launch(
        self,
        name: str,
        argv: list[str],
        ready: re.Pattern[str],
        health: Callable[[re.Match[str]], str] = lambda m: f"{m[1]}/health",
    ) -> re.Match[str]:
        self.say(f"starting {name}")
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=self.environ,
                start_new_session=True,
                limit=LINE_LIMIT,
            )
        except OSError as exc:
            raise StackError(f"cannot start {name} ({argv[0]}): {exc.strerror}") from exc
        child = Child(name, process, ready, self.tasks, self.err)
        self.children.append(child)
        match = await self._wait_ready(child)
        await self._wait_healthy(child, health(match))
        self.say(f"{name} ready at {match[1]} (pid {process.pid})")
        return match

    async def _wait_ready(self, child: Child) -> re.Match[str]:
        stopper = self.tasks.spawn(self.stop_requested.wait(), name=f"{child.name}-ready-stop")
        try:
            waiters: list[asyncio.Future[Any]] = [child.ready, child.exited, stopper]
            await asyncio.wait(
                waiters,
                timeout=self.options.ready_timeout_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            stopper.cancel()
        if child.ready.done():
            return child.ready.result()
        if self.stop_requested.is_set():
            raise Interrupted
        if child.exited.done():
            raise StackError(f"{child.name} failed to start: {await child.death_report()}")
        raise StackError(
            f"{child.name} printed no listening line within {self.options.ready_timeout_s:g}s"
        )

    async def _wait_healthy(self, child: Child, url: str) -> None:
        deadline = asyncio.get_running_loop().time() + self.options.ready_timeout_s
        timeout = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                if self.stop_requested.is_set():
                    raise Interrupted
                if child.exited.done():
                    raise StackError(f"{child.name} failed to start: {await child.death_report()}")
                try:
                    async with session.get(url) as response:
                        if response.status == 200:
                            return
                except (aiohttp.ClientError, TimeoutError):
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    raise StackError(f"{child.name} never answered 200 on {url}")
                await asyncio.sleep(0.1)

    def _banner(
        self,
        proxy_url: str,
        admin_url: str,
        legacy_url: str,
        app_url: str,
        secondary_url: str | None,
    ) -> None:
        o = self.options
        lines = [
            "shadowproxy stack is up",
            f"  proxy      {proxy_url}   <- point the dashboard here",
            f"  admin      {admin_url}   (metrics {admin_url}/metrics, flags {admin_url}/flags)",
            f"  legacy     {legacy_url}   (data {o.var_dir / 'legacy'})",
        ]
        if secondary_url is not None:
            lines.append(
                f"  {SECONDARY:<9}  {secondary_url}   (A/A noise reads, data shared with legacy;"
                f" noise {admin_url}/noise)"
            )
        lines += [
            f"  app        {app_url}   (data {o.var_dir / 'app'})",
            f"  diff logs  {o.diff_log_dir}/   (summary: shadowproxy diffs --dir {o.diff_log_dir})",
            f"Try it: shadowproxy demo --proxy {proxy_url} --admin {admin_url}",
            f"Ctrl-C stops all {'three' if secondary_url is None else 'four'}.",
        ]
        print("\n".join(lines), file=self.out, flush=True)

    async def _stop_all(self) -> int:
        code = 0
        for child in reversed(self.children):  # proxy first: it drains requests to the backends
            try:
                self.say(await child.stop(self.options.grace_s, self.force))
            except StackError as exc:
                self.say(str(exc))
                code = 1
        return code


async def run_stack(
    options: StackOptions,
    *,
    environ: dict[str, str],
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Run until SIGINT/SIGTERM (exit 0) or until a child fails (exit 1)."""
    return await Stack(options, environ, out, err).run()
