"""The phase presets: which groups each one puts on the app, and naming the current one."""

from __future__ import annotations

from shadowproxy.rollback.phases import CUSTOM, PHASES, phase_of
from shadowproxy.types import RouteGroup, Side


def apps(name: str) -> set[str]:
    return {group.value for group, side in PHASES[name].items() if side is Side.APP}


def test_each_phase_moves_the_groups_of_the_plan() -> None:
    assert apps("shadow") == set()
    assert apps("reads") == {"analysis", "reports", "portfolio"}
    assert apps("websockets") == {
        "analysis",
        "reports",
        "portfolio",
        "ws_analysis",
        "ws_orchestrator",
    }
    assert apps("full") == {group.value for group in RouteGroup}


def test_the_current_phase_is_named_or_custom() -> None:
    for name, sides in PHASES.items():
        assert phase_of(sides) == name
    mixed = {**PHASES["reads"], RouteGroup.SYSTEM: Side.APP}
    assert phase_of(mixed) == CUSTOM
