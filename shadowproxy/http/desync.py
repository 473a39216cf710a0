"""Flows whose state the proxy itself left different on the two sides, and what that explains.

A state-changing request that reached the authoritative side but not the shadow (every shadow
slot and the write reserve taken, a body over the diff limit, sampled out) leaves the sides
apart by the proxy's own doing: the shadow never created that analysis, never cancelled that
task. Comparing what depends on that state would blame a backend for the proxy's decision and
feed the rollback triggers false evidence. So the flow is remembered — the id the request names,
or the id the authoritative side minted for it — and a later comparison that differs only there
is `skipped` with reason `state_diverged`, not a mismatch: a status poll of such a task, a task
list whose only differences are that task and the counts and order it changes. A difference
anywhere else still makes a mismatch.

Bounded: the newest `MAX_FLOWS` ids, each kept as long as the correlation map keeps an id.
"""

from __future__ import annotations

from collections.abc import Iterable

from shadowproxy.correlation import FlowSet
from shadowproxy.redact import field_segments
from shadowproxy.types import Difference

# fields a missing or extra member of a collection changes without naming it
_COUNTS = frozenset({"total", "completed", "failed"})


class Desync(FlowSet):
    def explains(self, differences: Iterable[Difference]) -> bool:
        """Every difference names a desynchronized flow or is a count or order it changes, and
        at least one names a flow."""
        named = False
        for difference in differences:
            if any(segment in self for segment in field_segments(difference.field)):
                named = True
            elif difference.field not in _COUNTS and not difference.field.endswith(".order"):
                return False
        return named
