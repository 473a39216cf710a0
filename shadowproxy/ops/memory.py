"""The C heap of `shadowproxy run`: large buffers go back to the system when they are freed.

glibc's malloc gives a request of at least its mmap threshold (128 KiB at start) a mapping of its
own, unmapped when freed. But the threshold is dynamic: freeing such a mapping raises it to that
block's size (up to 32 MiB), and the proxy's imports alone raise it past 300 KiB. From then on
the transient large buffers (answer bodies and their copies, the 64 KiB buffers of each
permessage-deflate compressor) are cut from the heap among long-lived small blocks, and the heap
keeps what they freed: in the 10-minute soak (benchmarks/soak.py) Python's allocations stayed
flat (tracemalloc +0.6 MiB) while the heap grew 6 MiB, RSS 0.5-0.7 MiB a minute. Fixed
thresholds (which also stop the dynamic adjustment) keep the heap flat (+0.5 MiB) for a few mmap
calls per large buffer.

glibc only (mallopt); an operator's own MALLOC_MMAP_THRESHOLD_ or MALLOC_TRIM_THRESHOLD_ wins.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Mapping

import structlog

log = structlog.get_logger(__name__)

# mallopt parameters, from glibc's <malloc.h>
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# A buffer of at least this much is mapped on its own and unmapped when freed: every answer body
# above it, and the deflate compressor's window and hash buffers (64 KiB each, one compressor per
# websocket hop)
MMAP_THRESHOLD_BYTES = 64 * 1024
# Free memory at the top of the heap beyond this is returned (glibc's default, and its own
# 2 x mmap threshold rule); pinned because a threshold raised before `pin_malloc_thresholds`
# has raised this one too
TRIM_THRESHOLD_BYTES = 2 * MMAP_THRESHOLD_BYTES
ENV_OVERRIDES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


def pin_malloc_thresholds(environ: Mapping[str, str]) -> bool:
    """Fix glibc's mmap and trim thresholds; whether they were set (not glibc, or the operator
    chose their own in the environment: False)."""
    if not sys.platform.startswith("linux") or any(name in environ for name in ENV_OVERRIDES):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - glibc's own symbol: musl's mallopt does nothing
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    pinned = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )
    if not pinned:
        log.warning("malloc_thresholds_not_set", mmap_threshold=MMAP_THRESHOLD_BYTES)
    return pinned
