"""The flows the proxy desynchronized itself, and which differences they explain."""

from __future__ import annotations

import pytest

from shadowproxy.correlation import MAX_FLOWS
from shadowproxy.http.desync import Desync
from shadowproxy.types import Difference, DiffKind


def differences(*fields: str) -> list[Difference]:
    return [Difference(field, DiffKind.CHANGED) for field in fields]


@pytest.mark.parametrize(
    ("fields", "explained"),
    [
        pytest.param(("tasks[AAPL_1]",), True, id="the-member"),
        pytest.param(("tasks[AAPL_1]", "total", "tasks.order"), True, id="member-count-order"),
        pytest.param(("tasks[AAPL_1].decision",), True, id="inside-the-member"),
        pytest.param(("total",), False, id="a-count-alone"),
        pytest.param(("tasks[AAPL_1]", "tasks[MSFT_2].decision"), False, id="another-member"),
        pytest.param(("tasks[AAPL_1]", "contract_version"), False, id="another-field"),
        pytest.param((), False, id="nothing"),
    ],
)
def test_what_a_desynchronized_flow_explains(fields: tuple[str, ...], explained: bool) -> None:
    desync = Desync()
    desync.add("AAPL_1")
    assert desync.explains(differences(*fields)) is explained


def test_flows_expire_and_the_oldest_go_first() -> None:
    now = [0.0]
    desync = Desync(ttl_s=10, clock=lambda: now[0])
    desync.add("old")
    now[0] = 11
    assert "old" not in desync
    assert len(desync) == 0
    for n in range(MAX_FLOWS + 1):
        desync.add(f"flow-{n}")
    assert len(desync) == MAX_FLOWS
    assert "flow-0" not in desync
    assert f"flow-{MAX_FLOWS}" in desync
