"""Rollback triggers: the migration plan's conditions, evaluated on one comparison.

The conditions are those of docs/migration.md §6.

Pure: a comparison in, the trigger it fires (and the difference that fired it) out. The same
conditions are the critical alerts in deploy/prometheus/rules/alerts.yml; here they act in the
proxy itself, one comparison at a time, so a rollback does not wait for a scrape and an alert.

Every trigger is a loss on the app side, so each looks at terminal facts only: result fields are
compared by the diff engine only once both sides finished, and a status-code trigger needs the
app to answer 404 where legacy still finds the task or the report.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from shadowproxy.types import Comparison, Difference, Outcome, RouteGroup

_RESULT_FIELDS = re.compile(r"(.+\.)?(decision|confidence|direction)")
_LANE_FIELDS = re.compile(
    r"(.+\.)?(quant_rating|llm_rating|quant_direction|llm_direction|degraded)"
)


@dataclass(frozen=True, slots=True)
class Trigger:
    name: str  # metric label and log key
    condition: str  # the condition in plain words (docs/migration.md §6)
    fires: Callable[[RouteGroup, Difference], bool]


def _field(pattern: re.Pattern[str]) -> Callable[[RouteGroup, Difference], bool]:
    return lambda _, difference: pattern.fullmatch(difference.field) is not None


def _app_lost(group: RouteGroup) -> Callable[[RouteGroup, Difference], bool]:
    """The app answers 404 where legacy answers 2xx, on this group's routes."""

    def fires(where: RouteGroup, difference: Difference) -> bool:
        legacy, app = difference.legacy, difference.app
        return (
            where is group
            and difference.field == "status_code"
            and app == 404
            and isinstance(legacy, int)
            and 200 <= legacy < 300
        )

    return fires


TRIGGERS = (
    Trigger(
        "analysis_result_lost",
        "completed analysis loses decision or confidence fields",
        _field(_RESULT_FIELDS),
    ),
    Trigger(
        "signal_reclassified",
        "degraded single-lane signals are reclassified incorrectly",
        _field(_LANE_FIELDS),
    ),
    Trigger(
        "progress_stalled",
        "WebSocket clients stop receiving progress updates",
        _field(re.compile("progress_stalled")),
    ),
    Trigger(
        "task_status_lost",
        "task status disappears after backend restart",
        _app_lost(RouteGroup.ANALYSIS),
    ),
    Trigger(
        "report_artifact_missing",
        "report export or historical report retrieval cannot find prior artifacts",
        _app_lost(RouteGroup.REPORTS),
    ),
)


def fired(comparison: Comparison) -> tuple[Trigger, Difference] | None:
    """The first trigger a mismatch fires, with its difference; None for anything else.

    Accepted (known) differences never fire: they are not in `comparison.differences`.
    """
    if comparison.outcome is not Outcome.MISMATCH:
        return None
    group = comparison.exchange.route_group
    for difference in comparison.differences:
        for trigger in TRIGGERS:
            if trigger.fires(group, difference):
                return trigger, difference
    return None
