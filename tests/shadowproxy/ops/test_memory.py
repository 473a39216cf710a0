"""glibc's malloc thresholds pinned for `shadowproxy run`: large buffers get their own mapping."""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap

import pytest

from shadowproxy.ops import memory

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"

# In a fresh interpreter (the test process keeps its own allocator settings), after the proxy's
# imports and one freed 4 MiB buffer (glibc then raises its mmap threshold to 4 MiB): how much the
# heap grows for 20 live buffers of 300 KiB, with the thresholds pinned then or not. Pinned, each
# gets a mapping of its own, or is cut from free space the heap already has: it does not grow.
PROBE = textwrap.dedent(
    """
    import ctypes, sys

    class Info(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
            "fordblks", "keepcost")]

    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = Info

    import shadowproxy.ops.cli
    from shadowproxy.ops.memory import pin_malloc_thresholds

    bytes(4 << 20)  # mapped, then freed
    pinned = sys.argv[1] == "pin" and pin_malloc_thresholds({})
    before = libc.mallinfo2().arena
    buffers = [bytearray(300_000) for _ in range(20)]
    print(pinned, libc.mallinfo2().arena - before)
    """
)


def probe(*args: str) -> list[str]:
    command = [sys.executable, "-c", PROBE, *args]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
    return done.stdout.split()


@pytest.mark.skipif(not GLIBC, reason="the thresholds are glibc's")
def test_pinned_thresholds_map_large_buffers() -> None:
    pinned, grown = probe("leave")
    assert (pinned, int(grown) > 2_000_000) == ("False", True)
    pinned, grown = probe("pin")
    assert (pinned, int(grown) < 300_000) == ("True", True)  # not by a single buffer


@pytest.mark.parametrize("name", memory.ENV_OVERRIDES)
def test_an_operators_own_threshold_wins(name: str) -> None:
    assert memory.pin_malloc_thresholds({name: "1048576"}) is False


def test_nothing_to_pin_off_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    assert memory.pin_malloc_thresholds({}) is False
