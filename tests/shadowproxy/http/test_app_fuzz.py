"""A bounded fuzz of the HTTP edge: mutated request bytes on raw sockets against a real
`shadowproxy run` (port 0) in front of two echo backends, and the defects it found.

Each case starts from a valid request (GET, POST with a Content-Length or a chunked body, PUT,
PATCH, DELETE, OPTIONS, HTTP/1.0 keep-alive, absolute-form, Expect: 100-continue, an h2c upgrade)
and mutates its request line, header names and values, line endings, Content-Length,
Transfer-Encoding and chunk sizes, or its bytes (cut, flipped, inserted, deleted); a few cases are
random bytes, a few stay valid. Half of them pipeline a valid request after the mutated one. A
client that got nothing after `IDLE_S` half-closes: it has nothing more to send. What must hold:

- no crash: after every case a valid request on a new connection gets its own answer, and the
  process still runs;
- no hang: every connection gets an answer or a close within `ANSWER_S` of the half-close;
- no 5xx from the proxy: the backends never answer 5xx, so any 5xx is the proxy's own;
- no desynchronized connection: an answer below 400 that keeps the connection is followed by
  the pipelined request's own answer (the backends echo each request's path and token), nothing
  else answers the pipelined request, and nothing comes after an answer that closes.

`make test` runs `CASES` cases from a fixed seed; `SHADOWPROXY_FUZZ_SECONDS=N` runs for N seconds
from a random seed instead (the soak); `SHADOWPROXY_FUZZ_SEED` replays a seed. A failure names
the seed, the case and its bytes.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from ..factories import ProxyProcess
from .edge_wire import (
    CASES,
    CLIENTS,
    SEED,
    SOAK_S,
    Exchange,
    Malformed,
    answers_to,
    exchange,
    liveness,
    make_case,
    problems,
)

# ---------------------------------------------------------------- the fuzz


@pytest.mark.timeout(SOAK_S + 120)
async def test_mutated_requests_never_crash_hang_500_or_desynchronize(proxy: ProxyProcess) -> None:
    deadline = time.monotonic() + SOAK_S
    cases = iter(range(10**9) if SOAK_S else range(CASES))
    failures: list[str] = []
    ran = 0

    async def client() -> None:
        nonlocal ran
        for index in cases:
            if (SOAK_S and time.monotonic() > deadline) or len(failures) >= 5:
                return
            case = make_case(index)
            seen: Exchange | None = None
            try:
                seen = await exchange(proxy, case)
                found = problems(seen)
                after = await exchange(proxy, liveness(index))
                if not any(answers_to(a, f"l-{index}") for a in after.answers):
                    found.append(f"the next request got {[a.status for a in after.answers]}")
            except (Malformed, OSError) as exc:
                found = [f"{type(exc).__name__}: {exc}"]
            if found:
                got = [] if seen is None else [(a.status, a.body[:120]) for a in seen.answers]
                failures.append(f"{case}\n  -> {'; '.join(found)}\n  answers: {got}")
            ran += 1

    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    capped = "shadowproxy_client_connections_closed_total"
    refused = await proxy.metric(capped, reason="max_connections")
    summary = f"{ran} cases from seed {SEED}, {refused:g} connections refused over the cap"
    print(summary)
    assert proxy.process.returncode is None, f"the proxy exited ({summary})"
    assert not failures, f"{len(failures)} failed of {summary}:\n" + "\n".join(failures)
