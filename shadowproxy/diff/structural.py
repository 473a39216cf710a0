"""A structural diff of two parsed JSON values: what `DeepDiff(t1, t2, view="tree")` reports.

The secondary report used deepdiff, whose generality (any Python object, paths as objects,
hashing, a level object copied per node) cost over a millisecond per status document. This
walk computes the same report for the values orjson parses (dict, list, str, int, float, bool,
None) with deepdiff's default options, so the report reads as it always did:

- a different Python type is `type_changes` (1 vs 1.0, 1 vs true, null vs anything); the same
  type and `!=` is `values_changed`; the same object on both sides is never walked;
- objects: keys in `skip` or starting with `__` (deepdiff's `ignore_private_variables`) are not
  compared; when the keys both sides share are under a third of all their keys
  (`threshold_to_diff_deeper=0.33`), the whole object is one `values_changed`; otherwise keys
  only the app has are `added` (app order), keys only legacy has `removed` (legacy order), then
  the shared keys are compared in the app's order;
- arrays are compared by index, except an array of scalars on both sides, which deepdiff first
  aligns with `difflib.SequenceMatcher` (so 1 and true, equal and hashing alike, match) and keeps
  that alignment only when it reports fewer differences than comparing by index;
- an array item both removed and added at the same index is one `values_changed` (deepdiff's
  `mutual_add_removes_to_become_value_changes`), after the other changed values. When there are
  several, deepdiff's order followed string hashing (per process); here it is the items' order.

Each section lists its findings in the order deepdiff finds them: depth first, the body's order.
A finding's path is a linked list of steps, `(parent, key)`, so none is built for what matches.
"""

from __future__ import annotations

from difflib import SequenceMatcher

from shadowproxy.types import JSONValue

# how deepdiff's report is reached: (parent path, key or index); () is the body itself
Path = tuple[()] | tuple["Path", str | int]
Finding = tuple[Path, JSONValue, JSONValue]  # where, legacy's value, the app's value
THRESHOLD_TO_DIFF_DEEPER = 0.33
_ROOT: Path = ()


class Report:
    """deepdiff's six report sections for JSON (sets, attributes and moves do not occur)."""

    __slots__ = ("added_items", "added_keys", "changed", "removed_items", "removed_keys", "types")

    def __init__(self) -> None:
        self.changed: list[Finding] = []  # values_changed
        self.types: list[Finding] = []  # type_changes
        self.removed_keys: list[Finding] = []  # dictionary_item_removed (app's value: None)
        self.removed_items: list[Finding] = []  # iterable_item_removed
        self.added_keys: list[Finding] = []  # dictionary_item_added (legacy's value: None)
        self.added_items: list[Finding] = []  # iterable_item_added


def structural_diff(legacy: JSONValue, app: JSONValue, skip: frozenset[str]) -> Report:
    """The report of `DeepDiff(legacy, app, view="tree")`, `skip` keys dropped everywhere."""
    walk = _Walk(skip)
    walk.value(legacy, app, _ROOT)
    walk.pair_add_removes()
    return walk.report


def steps(path: Path) -> list[str | int]:
    """A path's keys and indices from the body down (deepdiff's `path(output_format="list")`)."""
    found: list[str | int] = []
    while path:
        path, step = path
        found.append(step)
    found.reverse()
    return found


class _Walk:
    def __init__(self, skip: frozenset[str]) -> None:
        self.report = Report()
        self._skip = skip

    def value(self, legacy: JSONValue, app: JSONValue, path: Path) -> None:
        if legacy is app:
            return
        kind = type(legacy)
        if kind is not type(app):
            self.report.types.append((path, legacy, app))
        elif kind is dict:
            assert isinstance(legacy, dict)
            assert isinstance(app, dict)
            self._object(legacy, app, path)
        elif kind is list:
            assert isinstance(legacy, list)
            assert isinstance(app, list)
            self._array(legacy, app, path)
        elif legacy != app:
            self.report.changed.append((path, legacy, app))

    def _object(self, legacy: dict[str, JSONValue], app: dict[str, JSONValue], path: Path) -> None:
        skip = self._skip
        ours = [k for k in legacy if k not in skip and not k.startswith("__")]
        theirs = [k for k in app if k not in skip and not k.startswith("__")]
        shared = [k for k in theirs if k in legacy]
        union = len(ours) + len(theirs) - len(shared)
        if union > 1 and len(shared) / union < THRESHOLD_TO_DIFF_DEEPER:
            self.report.changed.append((path, legacy, app))
            return
        if len(shared) < len(theirs):
            self.report.added_keys.extend(
                ((path, k), None, app[k]) for k in theirs if k not in legacy
            )
        if len(shared) < len(ours):
            self.report.removed_keys.extend(
                ((path, k), legacy[k], None) for k in ours if k not in app
            )
        for key in shared:
            self.value(legacy[key], app[key], (path, key))

    def _array(self, legacy: list[JSONValue], app: list[JSONValue], path: Path) -> None:
        if not _scalars(legacy) or not _scalars(app):
            self._by_index(legacy, app, path)
            return
        if legacy == app:
            return  # item by item `==` (1 and true too): difflib aligns them all, nothing to say
        aligned = _aligned(legacy, app, path)
        found = _count(aligned)
        if found > 1:  # deepdiff keeps the alignment only when it reports fewer
            indexed = _Walk(self._skip)
            indexed._by_index(legacy, app, path)
            if found >= _count(indexed.report):
                aligned = indexed.report
        _extend(self.report, aligned)

    def _by_index(self, legacy: list[JSONValue], app: list[JSONValue], path: Path) -> None:
        both = min(len(legacy), len(app))
        for index in range(both):
            self.value(legacy[index], app[index], (path, index))
        self.report.removed_items.extend(
            ((path, index), legacy[index], None) for index in range(both, len(legacy))
        )
        self.report.added_items.extend(
            ((path, index), None, app[index]) for index in range(both, len(app))
        )

    def pair_add_removes(self) -> None:
        """An array item removed and added at the same path is a changed value."""
        report = self.report
        if not (report.added_items and report.removed_items):
            return
        added = {finding[0]: finding for finding in report.added_items}
        paired = [f for f in report.removed_items if f[0] in added]
        if not paired:
            return
        gone = {f[0] for f in paired}
        report.removed_items = [f for f in report.removed_items if f[0] not in gone]
        report.added_items = [f for f in report.added_items if f[0] not in gone]
        report.changed.extend((path, legacy, added[path][2]) for path, legacy, _ in paired)


def _aligned(legacy: list[JSONValue], app: list[JSONValue], path: Path) -> Report:
    """deepdiff's difflib pass over two arrays of scalars.

    Within a `replace` block no legacy item equals an app item (difflib would have matched
    them: JSON scalars that are `==` hash alike), so deepdiff's `iterable_item_moved`, which
    needs one, never occurs: the pairs are compared as values.
    """
    walk = _Walk(frozenset())
    report = walk.report
    matcher = SequenceMatcher(None, legacy, app, autojunk=False)
    for tag, start, end, app_start, app_end in matcher.get_opcodes():
        if tag == "equal":
            continue
        both = min(end - start, app_end - app_start) if tag == "replace" else 0
        for k in range(both):  # replace: paired in order, the rest removed or added
            walk.value(legacy[start + k], app[app_start + k], (path, start + k))
        report.removed_items.extend(
            ((path, index), legacy[index], None) for index in range(start + both, end)
        )
        report.added_items.extend(
            ((path, index), None, app[index]) for index in range(app_start + both, app_end)
        )
    return report


def _scalars(items: list[JSONValue]) -> bool:
    return not any(isinstance(item, dict | list) for item in items)


def _count(report: Report) -> int:
    return (
        len(report.changed)
        + len(report.types)
        + len(report.removed_keys)
        + len(report.removed_items)
        + len(report.added_keys)
        + len(report.added_items)
    )


def _extend(report: Report, more: Report) -> None:
    report.changed.extend(more.changed)
    report.types.extend(more.types)
    report.removed_items.extend(more.removed_items)
    report.added_items.extend(more.added_items)
