"""The outcome rules, in one place. The engine applies them in this order:

1. Transport errors and 5xx (`Observation.failed`): the shadow failed while the authoritative
   side answered -> `shadow_error`; the reverse -> `authoritative_error`; both -> `both_error`.
   The reason summarises what each failed side said. Bodies are not compared.
2. Status codes are always compared by class (2xx, 3xx, 4xx): a different class is a `mismatch`
   on field `status_code`; the same class is a match on that field (404 vs 410 is fine). When
   both are 4xx the `detail` texts are compared (`detail`); other non-2xx pairs stop here.
3. Two 2xx answers are parsed per profile, projected to canonical views and compared on key
   fields (`diff.compare`); a body that does not parse sends both sides through `bytes_equal`.
   Fields a side cannot express are documented and skipped where each profile defines its view.
4. Lifecycle: differences inside a scope that is not terminal on both sides are sorted by
   `diff.lifecycle` into in-flight skew, withheld result fields, and real mismatches.
5. Known differences (`diff.known`): what an unexpired entry matches moves to `accepted`; then
   noise (`diff.noise`): what remains on a field measured as `noisy` moves to `noise`.
6. The remaining differences decide (`decide`): any mismatch -> `mismatch`, else any skew ->
   `inflight_skew`, else any noise -> `noise`, else anything accepted -> `accepted`, else
   `match`. The full-body secondary report (`diff.secondary`) is attached afterwards and never
   changes the outcome.

Differences are capped at `max_differences` per comparison, key-field ones first.
"""

from __future__ import annotations

import orjson

from shadowproxy.diff.compare import leaf_kind
from shadowproxy.diff.profile import too_deep
from shadowproxy.types import Difference, DiffKind, JSONValue, Observation, Outcome, Side

MAX_DETAIL_CHARS = 200  # a text error body is compared by its start; the log never holds a page
# Python 3.11 looks an enum member up on its class through `EnumType.__getattr__`'s slow hook
# (~0.2 µs, ten times a plain attribute): the per-comparison paths use these names instead.
_MATCH, _MISMATCH = Outcome.MATCH, Outcome.MISMATCH
_SKEW, _ACCEPTED, _NOISE = Outcome.INFLIGHT_SKEW, Outcome.ACCEPTED, Outcome.NOISE


def transport_failure(
    authoritative: Side, legacy: Observation, app: Observation
) -> tuple[Outcome, str] | None:
    """Rule 1: the outcome and reason when a side gave no answer, else None."""
    if not (legacy.failed or app.failed):
        return None  # both answered: the common case, decided without building anything
    by_side = {Side.LEGACY: legacy, Side.APP: app}
    failed = [side for side in (Side.LEGACY, Side.APP) if by_side[side].failed]
    reason = "; ".join(f"{side}: {describe_failure(by_side[side])}" for side in failed)
    if len(failed) == 2:
        return Outcome.BOTH_ERROR, reason
    if failed[0] is authoritative:
        return Outcome.AUTHORITATIVE_ERROR, f"authoritative {reason}"
    return Outcome.SHADOW_ERROR, f"shadow {reason}"


def describe_failure(observation: Observation) -> str:
    if observation.error is not None:
        return observation.error
    if observation.status is None:
        return "no answer"
    return f"HTTP {observation.status}"


def answered_ok(observation: Observation) -> bool:
    """A 2xx answer (1xx never reaches the engine): the side whose body can name the exchange."""
    return observation.status is not None and observation.status < 300


def status_class(status: int) -> int:
    return status // 100


def status_difference(legacy: Observation, app: Observation) -> Difference | None:
    """Rule 2: a `status_code` difference when the classes differ."""
    assert legacy.status is not None  # rule 1 ran first
    assert app.status is not None
    if status_class(legacy.status) == status_class(app.status):
        return None
    return Difference("status_code", DiffKind.CHANGED, legacy=legacy.status, app=app.status)


def detail_difference(legacy: Observation, app: Observation) -> Difference | None:
    """Rule 2, both 4xx: the `detail` the frameworks put in every error body."""
    left, right = error_detail(legacy), error_detail(app)
    kind = leaf_kind(left, right)
    return None if kind is None else Difference("detail", kind, legacy=left, app=right)


def error_detail(observation: Observation) -> JSONValue:
    """`detail` of a JSON error body; a body that is not a JSON object stands as (short) text."""
    try:
        body: JSONValue = orjson.loads(observation.body)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict) and not too_deep(body):
        return body.get("detail")
    text = observation.body.decode("utf-8", errors="replace").strip()
    return text[:MAX_DETAIL_CHARS] or None


def decide(
    mismatches: tuple[Difference, ...],
    skew: tuple[Difference, ...],
    accepted: tuple[Difference, ...],
    noise: tuple[Difference, ...] = (),
) -> Outcome:
    """Rule 6."""
    if mismatches:
        return _MISMATCH
    if skew:
        return _SKEW
    if noise:
        return _NOISE
    return _ACCEPTED if accepted else _MATCH


def summarise(differences: tuple[Difference, ...]) -> str:
    """A short reason for a mismatch: the differing fields, which is also its log signature."""
    names = [difference.field for difference in differences[:5]]
    more = len(differences) - len(names)
    return "differs on " + ", ".join(names) + (f" and {more} more" if more else "")
