"""Test helper: an analysis subprocess for edge cases the real kernel has no switch for.

argv: TICKER DATE. Behaviour by environment:
- FAKE_COUNTER_DIR + FAKE_FAIL_TIMES=N: the first N runs per ticker fail (exit 1), later ones
  succeed; each run appends one line to <dir>/<ticker>.runs.
- FAKE_STDERR_CHARS=N: a failing run writes N chars of stderr ending in "END".
- FAKE_EMPTY_FAIL=1: exit 3 with no output at all.
- FAKE_UNKNOWN_STAGE=1: print an unknown stage name before the real ones.
- FAKE_GATE=<path>: after the first stage line, wait until <path> exists.
"""

import json
import os
import sys
import time
from pathlib import Path

ticker, day = sys.argv[1], sys.argv[2]
env = os.environ
if env.get("FAKE_EMPTY_FAIL"):
    sys.exit(3)
fail_times = int(env.get("FAKE_FAIL_TIMES", "0"))
counter_dir = env.get("FAKE_COUNTER_DIR")
runs = 0
if counter_dir:
    counter = Path(counter_dir) / f"{ticker}.runs"
    with counter.open("a") as handle:
        handle.write("run\n")
    runs = len(counter.read_text().splitlines())
if runs <= fail_times and fail_times:
    chars = int(env.get("FAKE_STDERR_CHARS", "0"))
    sys.stderr.write(("x" * max(chars - 3, 0) + "END") if chars else f"fake failure {runs}")
    sys.exit(1)
if env.get("FAKE_UNKNOWN_STAGE"):
    print("STAGE:warmup", flush=True)
for stage in ("analysts", "research", "trading", "risk", "portfolio"):
    print(f"STAGE:{stage}", flush=True)
    while env.get("FAKE_GATE") and not os.path.exists(env["FAKE_GATE"]):
        time.sleep(0.01)
detail = {"llm_signal": "BUY", "quant_signal": "HOLD", "confidence": 0.63}
print("SIGNAL_DETAIL:" + json.dumps(detail), flush=True)
print("ANALYSIS_COMPLETE:OVERWEIGHT", flush=True)
