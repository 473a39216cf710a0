"""Rule 4: two independently running backends are never at the same moment of a lifecycle.

While either side of a lifecycle scope (one analysis, one batch, one task-list item) is not
terminal, its fields fall in three classes:

- progress fields (`progress`, `current_stage`, `stages.*`, `status`, and a batch's `completed`,
  `failed`, `current_ticker`): a difference is `inflight_skew` when the two sides are at most 20
  progress points and one stage (one ticker for a batch) apart, else a mismatch;
- result fields (`decision`, `confidence`, `quant_rating`, `llm_rating`, `degraded`, `error.*`,
  a batch's `results[...]`): not compared at all, the run has not produced them yet;
- anything else (ids, ticker, date): compared strictly, in flight or not.

Terminal scopes are compared strictly. A scope only one side knows is compared strictly too. Only
`running` and `pending` are in flight (`view.is_terminal`): a status word outside the vocabulary
is a contract change, compared strictly.
"""

from __future__ import annotations

from dataclasses import dataclass

from shadowproxy.diff.view import Lifecycle, View
from shadowproxy.types import Difference

MAX_PROGRESS_SKEW = 20
MAX_STAGE_SKEW = 1
PROGRESS_FIELDS = frozenset(
    {"progress", "current_stage", "status", "completed", "failed", "current_ticker"}
)
_RESULT = frozenset({"decision", "confidence", "quant_rating", "llm_rating", "degraded"})


@dataclass(frozen=True, slots=True)
class Sorted:
    mismatches: tuple[Difference, ...]
    skew: tuple[Difference, ...]
    withheld: int  # result-field differences not compared because a side is still running
    reason: str | None  # what the skew was, for the comparison's reason


NOTHING = Sorted((), (), 0, None)  # what two matching views sort into


def sort_by_lifecycle(differences: list[Difference], legacy: View, app: View) -> Sorted:
    if not differences:
        return NOTHING
    if legacy.terminal and app.terminal:  # every scope terminal on both sides: all strict
        return Sorted(tuple(differences), (), 0, None)
    prefixes = sorted({*legacy.scopes, *app.scopes}, key=len, reverse=True)
    mismatches: list[Difference] = []
    skew: list[Difference] = []
    withheld = 0
    reasons: list[str] = []
    for difference in differences:
        prefix = next((p for p in prefixes if difference.field.startswith(p)), None)
        pair = _pair(legacy, app, prefix)
        if pair is None or (pair[0].terminal and pair[1].terminal):
            mismatches.append(difference)
            continue
        assert prefix is not None
        relative = difference.field[len(prefix) :]
        if _is_result(relative):
            withheld += 1
        elif _is_progress(relative) and _within(*pair):
            skew.append(difference)
            reason = _describe(prefix, *pair)
            if reason not in reasons:
                reasons.append(reason)
        else:
            mismatches.append(difference)
    return Sorted(tuple(mismatches), tuple(skew), withheld, "; ".join(reasons[:3]) or None)


def _pair(legacy: View, app: View, prefix: str | None) -> tuple[Lifecycle, Lifecycle] | None:
    if prefix is None:
        return None
    left, right = legacy.scopes.get(prefix), app.scopes.get(prefix)
    return (left, right) if left is not None and right is not None else None


def _is_progress(relative: str) -> bool:
    return relative in PROGRESS_FIELDS or relative.startswith("stages.")


def _is_result(relative: str) -> bool:
    return relative in _RESULT or relative.startswith(("error.", "results[")) or relative == "error"


def _within(legacy: Lifecycle, app: Lifecycle) -> bool:
    if (
        legacy.progress is not None
        and app.progress is not None
        and abs(legacy.progress - app.progress) > MAX_PROGRESS_SKEW
    ):
        return False
    if legacy.stage is not None and app.stage is not None:
        return abs(legacy.stage - app.stage) <= MAX_STAGE_SKEW
    return True


def _describe(prefix: str, legacy: Lifecycle, app: Lifecycle) -> str:
    where = prefix.rstrip(".") or "document"

    def state(lifecycle: Lifecycle) -> str:
        where = [
            f"{name} {value}"
            for name, value in (("progress", lifecycle.progress), ("stage", lifecycle.stage))
            if value is not None
        ]
        word = "terminal" if lifecycle.terminal else "running"
        return f"{word} ({', '.join(where)})" if where else word

    return f"{where} in flight: legacy {state(legacy)}, app {state(app)}"
