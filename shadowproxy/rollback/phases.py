"""The migration plan's phases as presets over the route groups (docs/migration.md §3).

One preset is one audited change with one reason (`POST /phase/{name}`); `phase_of` names the
preset the current sides match, or `custom` after per-group flips.

- `shadow`: legacy answers everything, the app is shadowed (phases 0-1);
- `reads`: the app answers the status, list and report reads (`analysis`, `reports`,
  `portfolio`): what the plan's phase 2 moves (phases 2-3);
- `websockets`: the websocket groups too (phase 4);
- `full`: the app answers every group, `system` included (phase 5).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from shadowproxy.types import RouteGroup, Side

_READS = frozenset({RouteGroup.ANALYSIS, RouteGroup.REPORTS, RouteGroup.PORTFOLIO})
_SOCKETS = frozenset({RouteGroup.WS_ANALYSIS, RouteGroup.WS_ORCHESTRATOR})
CUSTOM = "custom"


def _preset(app: frozenset[RouteGroup]) -> Mapping[RouteGroup, Side]:
    return MappingProxyType({g: Side.APP if g in app else Side.LEGACY for g in RouteGroup})


PHASES: Mapping[str, Mapping[RouteGroup, Side]] = MappingProxyType(
    {
        "shadow": _preset(frozenset()),
        "reads": _preset(_READS),
        "websockets": _preset(_READS | _SOCKETS),
        "full": _preset(frozenset(RouteGroup)),
    }
)


def phase_of(sides: Mapping[RouteGroup, Side]) -> str:
    for name, preset in PHASES.items():
        if all(sides.get(group) is side for group, side in preset.items()):
            return name
    return CUSTOM
