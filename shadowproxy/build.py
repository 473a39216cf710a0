"""What this build is: the package's version and the runtimes under it, from package metadata.

One source for `shadowproxy --version` and anything else that reports the build (a build-info
metric, a log line), so they cannot disagree.
"""

from __future__ import annotations

import platform
from importlib.metadata import version


def build_info() -> dict[str, str]:
    """{"version", "python", "aiohttp"}: this package's version and the two it runs on."""
    return {
        "version": version("shadowproxy"),
        "python": platform.python_version(),
        "aiohttp": version("aiohttp"),
    }
