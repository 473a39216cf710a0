"""Flags: environment sides, runtime overrides that persist and win at restart, metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shadowproxy.errors import FlagStateError
from shadowproxy.rollback.flags import FLAGS_FILE, Flags
from shadowproxy.types import RouteGroup, Side

ENV = dict.fromkeys(RouteGroup, Side.LEGACY) | {RouteGroup.SYSTEM: Side.APP}


def test_overrides_persist_and_win_over_the_environment(tmp_path: Path) -> None:
    flags = Flags(ENV, tmp_path)
    flags.set_authoritative(RouteGroup.ANALYSIS, Side.APP, reason="canary")
    assert flags.authoritative(RouteGroup.ANALYSIS) is Side.APP

    restarted = Flags(ENV, tmp_path)
    assert restarted.authoritative(RouteGroup.ANALYSIS) is Side.APP
    assert restarted.overrides()[RouteGroup.ANALYSIS].reason == "canary"
    assert restarted.authoritative(RouteGroup.SYSTEM) is Side.APP


def test_rollback_sets_every_group_to_legacy_in_one_write(tmp_path: Path) -> None:
    flags = Flags(ENV, tmp_path)
    flags.rollback(reason="drift")
    assert set(flags.snapshot().values()) == {Side.LEGACY}
    document = json.loads((tmp_path / FLAGS_FILE).read_text())
    assert {entry["reason"] for entry in document["overrides"].values()} == {"drift"}
    assert len(document["overrides"]) == len(RouteGroup)


def test_clear_restores_the_environment(tmp_path: Path) -> None:
    flags = Flags(ENV, tmp_path)
    flags.rollback(reason="drift")
    flags.clear(reason="resolved")
    assert flags.snapshot() == ENV
    assert Flags(ENV, tmp_path).overrides() == {}


def test_on_change_sees_initial_sides_and_every_change(tmp_path: Path) -> None:
    seen: list[tuple[RouteGroup, Side]] = []
    flags = Flags(ENV, tmp_path, on_change=lambda group, side: seen.append((group, side)))
    assert dict(seen) == ENV
    seen.clear()
    flags.set_authoritative(RouteGroup.REPORTS, Side.APP, reason="x")
    assert (RouteGroup.REPORTS, Side.APP) in seen


@pytest.mark.parametrize(
    "content",
    [
        pytest.param("{not json", id="not-json"),
        pytest.param(
            '{"overrides": {"nope": {"side": "app", "reason": "", "at": ""}}}', id="group"
        ),
        pytest.param(
            '{"overrides": {"system": {"side": "new", "reason": "", "at": ""}}}', id="side"
        ),
        pytest.param('{"overrides": []}', id="shape"),
    ],
)
def test_an_unreadable_state_file_is_refused_with_a_sentence(tmp_path: Path, content: str) -> None:
    (tmp_path / FLAGS_FILE).write_text(content)
    with pytest.raises(FlagStateError, match="fix or delete it"):
        Flags(ENV, tmp_path)


def test_a_failed_write_changes_nothing(tmp_path: Path) -> None:
    state = tmp_path / "state"
    flags = Flags(ENV, state)
    state.write_text("")  # the state directory cannot be created any more
    with pytest.raises(OSError, match="File exists"):
        flags.rollback(reason="x")
    assert flags.snapshot() == ENV


def test_every_group_put_back_on_legacy_is_reported_with_its_cause(tmp_path: Path) -> None:
    seen: list[tuple[str, str, str]] = []
    flags = Flags(
        dict.fromkeys(RouteGroup, Side.APP),
        tmp_path,
        on_rollback=lambda group, trigger, mode: seen.append((group.value, trigger, mode)),
    )
    flags.set_authoritative(RouteGroup.REPORTS, Side.LEGACY, reason="r", actor="auto:x")
    flags.rollback(reason="r", actor="alertmanager:A", groups=(RouteGroup.ANALYSIS,))
    flags.set_many({RouteGroup.SYSTEM: Side.LEGACY}, reason="r", actor="cli", action="phase")
    flags.set_authoritative(RouteGroup.PORTFOLIO, Side.LEGACY, reason="r", actor="cli")
    flags.set_authoritative(RouteGroup.PORTFOLIO, Side.LEGACY, reason="again", actor="cli")
    flags.set_authoritative(RouteGroup.REPORTS, Side.APP, reason="back", actor="cli")
    assert seen == [
        ("reports", "x", "auto"),
        ("analysis", "A", "alert"),
        ("system", "phase", "manual"),
        ("portfolio", "operator", "manual"),
    ]  # a group already on legacy, or moving to the app, is no rollback
