"""wrk as the closed-loop load generator: one thread (`-t1`), `-cN` connections, `-dS` seconds.

A small Lua `done()` hook prints what the run measured as plain lines the harness parses: the
requests, errors and duration of its summary, and the whole latency histogram (wrk keeps one at
1 µs resolution; `latency(i)` is its i-th distinct value and count), so the harness computes the
same exact percentiles as for the built-in generator and can pool rounds. wrk's own `--latency`
table stops at p99; p99.9 comes from the histogram.
"""

from __future__ import annotations

import asyncio
import math
import subprocess
from pathlib import Path

from benchmarks.load import Run

WRK_TIMEOUT_S = 10  # wrk's per-request timeout: a request not answered by then is an error
MARK = "BENCH"
SCRIPT = f"""
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write("{MARK} duration_us ", summary.duration, "\\n")
  io.write("{MARK} requests ", summary.requests, "\\n")
  io.write("{MARK} status_errors ", errors.status, "\\n")
  io.write("{MARK} errors ", errors.connect + errors.read + errors.write + errors.timeout, "\\n")
  for i = 1, #latency do
    local value, count = latency(i)
    io.write("{MARK} latency ", value, " ", count, "\\n")
  end
end
"""


class Wrk:
    def __init__(self, binary: str, workdir: Path, version: str | None = None) -> None:
        self.binary = binary
        self.name = version or "wrk"
        self._script = workdir / "report.lua"
        self._script.write_text(SCRIPT)

    async def closed(self, url: str, *, concurrency: int, duration_s: float) -> Run:
        seconds = max(1, math.ceil(duration_s))  # wrk takes whole seconds
        process = await asyncio.create_subprocess_exec(
            self.binary, "-t1", f"-c{concurrency}", f"-d{seconds}s",
            f"--timeout={WRK_TIMEOUT_S}s", "-s", str(self._script), url,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            stdout, stderr = await asyncio.wait_for(
                process.communicate(), seconds + WRK_TIMEOUT_S + 10
            )
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
        if process.returncode != 0:
            raise RuntimeError(f"wrk failed ({process.returncode}): {stderr.decode().strip()}")
        return parse(stdout.decode(), self.name)


def parse(output: str, generator: str) -> Run:
    """The Run the Lua hook printed (wrk's own report lines are ignored)."""
    values: dict[str, int] = {}
    histogram: dict[int, int] = {}
    for line in output.splitlines():
        fields = line.split()
        if len(fields) < 3 or fields[0] != MARK:
            continue
        if fields[1] == "latency":
            histogram[int(fields[2])] = int(fields[3])
        else:
            values[fields[1]] = int(float(fields[2]))
    if "duration_us" not in values:
        raise RuntimeError(f"wrk printed no report: {output.strip()[-300:]}")
    answered = values["requests"] - values["status_errors"]  # wrk counts a 4xx/5xx answered
    errors = values["errors"] + values["status_errors"]
    return Run(generator, histogram, answered, values["duration_us"] / 1e6, errors)
