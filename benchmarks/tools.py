"""The peer tools of the comparison: nginx (the baseline proxy) and wrk (the load generator).

Found on PATH (and /usr/sbin, where Debian puts nginx). What is missing the bench installs once
with `apt-get install -y nginx-light wrk` (quiet, bounded in time), only as root, only when
apt-get exists and neither `BENCH_NO_INSTALL` nor `--no-install` is set. It says what it did
and, when a tool is still missing, why: the nginx scenarios are then skipped, and the built-in
load generator is used instead of wrk.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass

PACKAGES = {"nginx": "nginx-light", "wrk": "wrk"}  # the command -> its Debian package
NO_INSTALL = "BENCH_NO_INSTALL"
INSTALL_TIMEOUT_S = 240.0
_SEARCH_PATH = os.pathsep.join((os.environ.get("PATH", ""), "/usr/sbin", "/sbin"))


@dataclass(frozen=True, slots=True)
class Tools:
    nginx: str | None  # the binary, when found
    wrk: str | None
    nginx_version: str | None
    wrk_version: str | None
    notes: tuple[str, ...]  # what was found, installed, or why something is missing
    why_missing: dict[str, str]  # a tool not available -> why


def find_tools(*, install: bool = True, use_nginx: bool = True, use_wrk: bool = True) -> Tools:
    """nginx and wrk, installed first when missing and allowed; `use_*=False` leaves one out."""
    notes: list[str] = []
    refusal = None
    wanted = [name for name, use in (("nginx", use_nginx), ("wrk", use_wrk)) if use]
    missing = [name for name in wanted if _which(name) is None]
    if missing:
        refusal = _install_refusal(install)
        if refusal is None:
            notes.append(_install([PACKAGES[name] for name in missing]))
        else:
            notes.append(f"{' and '.join(missing)} not installed; not installing: {refusal}")
    nginx = _which("nginx") if use_nginx else None
    wrk = _which("wrk") if use_wrk else None
    versions = {"nginx": _version(nginx), "wrk": _version(wrk)}
    why_missing = {}
    for name, path, use in (("nginx", nginx, use_nginx), ("wrk", wrk, use_wrk)):
        if not use:
            why_missing[name] = "left out (command line)"
        elif path is None:
            why_missing[name] = "not installed" + (f", {refusal}" if refusal else "")
        else:
            notes.append(f"{name}: {versions[name] or 'version unknown'} ({path})")
            continue
        notes.append(f"{name}: {why_missing[name]}")
    return Tools(nginx, wrk, versions["nginx"], versions["wrk"], tuple(notes), why_missing)


def _which(name: str) -> str | None:
    return shutil.which(name, path=_SEARCH_PATH)


def _install_refusal(install: bool) -> str | None:
    if not install:
        return "installation disabled (command line)"
    if os.environ.get(NO_INSTALL):
        return f"{NO_INSTALL} is set"
    if os.geteuid() != 0:
        return "not running as root"
    if _which("apt-get") is None:
        return "no apt-get on this machine"
    return None


def _install(packages: list[str]) -> str:
    """`apt-get install` once; `apt-get update` first only when the package lists lack them."""
    command = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]
    done = _apt(command)
    if done is not None and done.returncode != 0 and "Unable to locate" in done.stderr:
        update = _apt(["apt-get", "update", "-q"])
        if update is not None and update.returncode == 0:
            done = _apt(command)
    names = " ".join(packages)
    if done is None:
        return f"apt-get install {names}: gave up after {INSTALL_TIMEOUT_S:.0f} s"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return f"apt-get install {names} failed ({done.returncode}): {last}"
    return f"installed {names} with apt-get"


def _apt(command: list[str]) -> subprocess.CompletedProcess[str] | None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        return subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_S,
            env=env,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return None


def _version(binary: str | None) -> str | None:
    """`nginx -v` prints `nginx version: nginx/1.22.1` (stderr); `wrk -v` `wrk 4.1.0 [epoll] …`."""
    if binary is None:
        return None
    try:
        done = subprocess.run(
            [binary, "-v"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r"(nginx/\S+|wrk \S+)", done.stdout + done.stderr)
    return None if found is None else found[1]
