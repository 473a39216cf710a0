"""The task list (`GET /api/analysis/tasks`): items keyed by canonical task id.

Each item is compared on its summary: `status`, `degraded`, `progress`, `current_stage`,
`decision`, `confidence`, `error.present`, plus `ticker` and `date`, with the lifecycle rule per
item (an item running on either side is compared with in-flight tolerance). Batch items (`port_`
ids) carry only `status` and `error.present` in both shapes. A task one side lists and the other
does not is one `tasks[<id>]` difference; the same tasks in another order (both sort by
`created_at` descending) are one `reordered` difference on `tasks.order`; `total` is compared.
Batch items are left out of the order check: legacy batches have no `created_at` and sort last,
the app's carry one and sort by it.

Not compared, because the legacy list item cannot express them: `degraded`, `current_stage`,
`confidence` (legacy items carry only task_id, ticker, date, status, progress, decision, error).
"""

from __future__ import annotations

from shadowproxy.diff.normalize import ErrorShape, FirstOf, StatusWord
from shadowproxy.diff.profile import Profile, ProjectionContext
from shadowproxy.diff.profiles.status import analysis_lifecycle, is_batch, is_legacy_shape
from shadowproxy.diff.view import (
    Lifecycle,
    MemberKeys,
    View,
    is_terminal,
    items,
    member,
    obj,
    text,
)
from shadowproxy.types import JSONValue

LEGACY_INEXPRESSIBLE = frozenset({"degraded", "current_stage", "confidence"})


class TaskList(Profile):
    name = "task_list"

    def __init__(self) -> None:
        self._status = StatusWord()
        self._error = ErrorShape()
        self._decision = FirstOf(("summary", "decision"), ("compat", "decision"), ("decision",))
        self._confidence = FirstOf(
            ("summary", "confidence"), ("compat", "confidence"), ("confidence",)
        )

    def __call__(self, value: JSONValue, context: ProjectionContext) -> View:
        document = obj(value)
        fields: dict[str, JSONValue] = {}
        scopes: dict[str, Lifecycle] = {}
        keys = MemberKeys()
        batches: set[str] = set()
        for entry in items(document.get("tasks")):
            item = obj(entry)
            key = keys.add(context.canonical_id(item.get("task_id")))
            if is_batch(item):
                batches.add(key)
            prefix = member("tasks", key) + "."
            scopes[prefix] = self._item(item, prefix, fields)
        if "total" in document:
            fields["total"] = document["total"]
        return View(
            fields=fields,
            collections={"tasks": keys.collection(ordered=True, unplaced=frozenset(batches))},
            inexpressible=LEGACY_INEXPRESSIBLE if is_legacy_shape(document) else frozenset(),
            scopes=scopes,
        )

    def _item(
        self, item: dict[str, JSONValue], prefix: str, fields: dict[str, JSONValue]
    ) -> Lifecycle:
        error = self._error(item.get("error"))
        status, degraded = self._status(item.get("status"), text(error.get("message")))
        fields[prefix + "status"] = status
        fields[prefix + "error.present"] = error["present"]
        if is_batch(item):
            return Lifecycle(terminal=is_terminal(status))
        for key in ("ticker", "date", "progress", "current_stage"):
            if key in item:
                fields[prefix + key] = item[key]
        fields[prefix + "degraded"] = degraded
        fields[prefix + "decision"] = self._decision(item)
        fields[prefix + "confidence"] = self._confidence(item)
        return analysis_lifecycle(item, status)
