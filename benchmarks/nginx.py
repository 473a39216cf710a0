"""nginx as the peer baseline: a plain reverse proxy, and the same with `mirror` to a second side.

One nginx per baseline, as a subprocess on a free loopback port, configured from a temp folder
only (`-p`/`-c`/`-e`: no system config, no system log), `daemon off`, `master_process on` and
one worker (`WORKERS`): the proxy is one process with one event loop, so one worker is the
like-for-like peer on a 2-core machine the load generator and the backends share. `access_log
off`, HTTP/1.1 keep-alive to the backends. CPU time is the master's plus its workers'
(/proc), peak RSS the sum of their VmHWM.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks import procfs

WORKERS = 1
KEEPALIVE = 64  # idle keep-alive connections per worker to each backend
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
# temp folders nginx creates at start for each module compiled in (checked against `nginx -V`)
_TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


@dataclass(frozen=True, slots=True)
class RunningNginx:
    pid: int  # the master
    url: str

    def _processes(self) -> list[int]:
        return [self.pid, *procfs.children(self.pid)]

    def cpu_seconds(self) -> float:
        """User + system CPU time of the master and its workers so far."""
        return sum(procfs.cpu_seconds(pid) for pid in self._processes())

    def peak_rss_kib(self) -> int:
        """The master's and the workers' VmHWM, added up."""
        return sum(procfs.status_kib(pid, "VmHWM") for pid in self._processes())


def config(*, port: int, upstream: str, mirror: str | None, workdir: Path, compiled: str) -> str:
    """nginx.conf for a proxy to `upstream` (host:port), mirroring every request to `mirror`."""
    temp_paths = "\n".join(
        f"    {module}_temp_path {workdir / module};"
        for module in _TEMP_PATHS
        if module == "client_body" or f"--without-http_{module}_module" not in compiled
    )
    upstreams = [("primary", upstream)] + ([("shadow", mirror)] if mirror else [])
    blocks = "\n".join(
        f"    upstream {name} {{ server {address}; keepalive {KEEPALIVE}; }}"
        for name, address in upstreams
    )
    mirroring = (
        "            mirror /mirror;\n            mirror_request_body on;\n" if mirror else ""
    )
    mirror_location = (
        "        location = /mirror {\n"
        "            internal;\n"
        "            proxy_pass http://shadow$request_uri;\n"
        "        }\n"
        if mirror
        else ""
    )
    return f"""daemon off;
master_process on;
worker_processes {WORKERS};
pid {workdir / "nginx.pid"};
error_log {workdir / "error.log"} warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
{temp_paths}
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_buffer_size 16k;
    proxy_buffers 16 16k;
    proxy_max_temp_file_size 0;
{blocks}
    server {{
        listen 127.0.0.1:{port};
        keepalive_requests 1000000;
        location / {{
{mirroring}            proxy_pass http://primary;
        }}
{mirror_location}    }}
}}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def run_nginx(
    binary: str, *, upstream: str, mirror: str | None, workdir: Path
) -> AsyncIterator[RunningNginx]:
    """nginx proxying to `upstream` (and mirroring to `mirror`), both `http://host:port` URLs."""
    port = free_port()
    conf = _write_config(
        config(
            port=port,
            upstream=_host_port(upstream),
            mirror=None if mirror is None else _host_port(mirror),
            workdir=workdir,
            compiled=await _build_options(binary),
        ),
        workdir,
    )
    with (workdir / "stderr.log").open("wb") as stderr:  # the child keeps its own copy
        process = await asyncio.create_subprocess_exec(
            binary, "-p", str(workdir), "-c", str(conf), "-e", str(workdir / "error.log"),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
    try:
        await _listening(process, port, workdir)
        yield RunningNginx(process.pid, f"http://127.0.0.1:{port}")
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)  # fast shutdown: master and workers exit
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                process.kill()
                await process.wait()


def _write_config(text: str, workdir: Path) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    workdir.chmod(0o755)  # workers drop root for `nobody`, and may need their temp folders
    conf = workdir / "nginx.conf"
    conf.write_text(text)
    return conf


async def _build_options(binary: str) -> str:
    """`nginx -V`: the configure arguments (which modules were left out)."""
    probe = await asyncio.create_subprocess_exec(
        binary, "-V", stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, stderr = await asyncio.wait_for(probe.communicate(), START_TIMEOUT_S)
    return stderr.decode(errors="replace")


def _host_port(url: str) -> str:
    return url.removeprefix("http://").rstrip("/")


async def _listening(process: asyncio.subprocess.Process, port: int, workdir: Path) -> None:
    """Until nginx accepts connections (bounded); its error log in the exception otherwise."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT_S
    while process.returncode is None and loop.time() < deadline:
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            await writer.wait_closed()
            return
        await asyncio.sleep(0.05)
    logs = (workdir / name for name in ("error.log", "stderr.log"))
    detail = " ".join(log.read_text(errors="replace") for log in logs if log.exists())
    raise RuntimeError(f"nginx did not start ({process.returncode}): {detail.strip()[-500:]}")
