"""Rollback triggers: the migration plan's conditions, evaluated on one comparison.

The conditions are those of docs/migration.md §6.

Pure: a comparison in, the trigger it fires (and the difference that fired it) out. The same
conditions are the critical alerts in deploy/prometheus/rules/alerts.yml; here they act in the
proxy itself, one comparison at a time, so a rollback does not wait for a scrape and an alert.

Every trigger is a loss on the app side, so each looks at terminal facts only: result fields are
compared by the diff engine only once both sides finished, and a status-code trigger needs the
app to answer 404 where legacy still finds the task or the report.

`client_contract_broken` is the same loss seen from the client: the authoritative answer breaks a
configured dashboard consumer (docs/consumers.md), e.g. a finished analysis whose decision the
deployed dashboard no longer finds where it reads it, although the semantic diff says `match`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from shadowproxy.diff.fields import LANE_FIELDS, RESULT_FIELDS
from shadowproxy.types import Comparison, Difference, Outcome, RouteGroup, Side


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
        _field(RESULT_FIELDS),
    ),
    Trigger(
        "signal_reclassified",
        "degraded single-lane signals are reclassified incorrectly",
        _field(LANE_FIELDS),
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


CLIENT_CONTRACT_BROKEN = Trigger(
    "client_contract_broken",
    "the answer the client got breaks a dashboard in use (a field it reads is missing, mistyped "
    "or carries a value it does not know)",
    lambda _, __: False,  # judged on the comparison's client findings, not on a difference
)


@dataclass(frozen=True, slots=True)
class Hit:
    trigger: Trigger
    field: str  # the difference's field, or `consumer: field` for a client contract break


def fired(comparison: Comparison) -> Hit | None:
    """The first trigger a comparison fires, with the field that fired it; None if none does.

    Accepted (known) differences and noise never fire: they are not in `differences`. A client
    contract break fires whatever the semantic outcome (a `match` can break the dashboard), but
    only a counted break of the app's authoritative answer: shared and documented ones never do,
    and what legacy's answers break is the baseline the migration starts from.
    """
    if comparison.outcome is Outcome.MISMATCH:
        group = comparison.exchange.route_group
        for difference in comparison.differences:
            for trigger in TRIGGERS:
                if trigger.fires(group, difference):
                    return Hit(trigger, difference.field)
    hurt = comparison.client.hurt if comparison.client is not None else ()
    if hurt and comparison.exchange.authoritative is Side.APP:  # legacy's answers are the baseline
        return Hit(CLIENT_CONTRACT_BROKEN, f"{hurt[0].consumer}: {hurt[0].field}")
    return None
