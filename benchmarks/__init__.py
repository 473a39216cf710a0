"""`make bench`: shadowproxy's speed and memory targets, reported as ratios measured in one run.

Nothing here is asserted by `make test` (timings on a shared 2-core machine are noisy); the
suite prints a table and can write it as JSON. Every number is relative to a baseline measured
in the same run on the same machine:

- `http`: client latency through a real `shadowproxy run` subprocess, shadow off vs on, with a
  fast and with a 1 s shadow, against direct calls to the backend (fake backends on the far
  side of the boundary: real aiohttp servers on loopback that serve TradingAgents documents);
- `memory`: the proxy process's peak RSS (VmHWM) in each of those runs;
- `diff`: the diff engine's cost per status-document comparison relative to parsing the two
  bodies with orjson;
- `difflog`: `shadowproxy diffs summary` and `signatures` over 1 000 000 generated records
  (20 000 with `--quick`) in gzipped segments: records per second and peak RSS, against the
  same command on an empty folder.

`make soak` (`python -m benchmarks.soak`) is apart: the real stack for 10 minutes under dashboard
traffic, shadow faults and backend restarts, judged on criteria rather than ratios (soak.py).
"""
