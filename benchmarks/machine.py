"""The machine a run was on: CPU, cores, memory, kernel, and how busy it was (/proc)."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any


def describe() -> dict[str, Any]:
    cpuinfo = _read("/proc/cpuinfo")
    models = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
    mhz = next((line.split(":", 1)[1].strip() for line in cpuinfo if "cpu MHz" in line), "")
    flags = next((line for line in cpuinfo if line.startswith("flags")), "").split()
    memory = next((line.split()[1] for line in _read("/proc/meminfo") if "MemTotal" in line), "0")
    release = dict(line.split("=", 1) for line in _read("/etc/os-release") if "=" in line).get(
        "PRETTY_NAME", ""
    )
    return {
        "cpu_model": models[0] if models else platform.processor(),
        "cpu_mhz": round(float(mhz)) if mhz else None,
        "virtual_machine": "hypervisor" in flags,
        "processors": len(models),  # /proc/cpuinfo
        "nproc": len(os.sched_getaffinity(0)),  # what `nproc` prints: the cores this run may use
        "memory_gib": round(int(memory) / 2**20, 1),
        "kernel": platform.release(),
        "os": release.strip('"'),
        "python": sys.version.split()[0],
    }


def load_average() -> float:
    """The 1-minute load average now (another benchmark running shows here)."""
    return float(_read("/proc/loadavg")[0].split()[0])


def _read(path: str) -> list[str]:
    try:
        return Path(path).read_text().splitlines()
    except OSError:
        return [""]
