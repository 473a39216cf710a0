"""The soak's chaos relay does what it says, one fault mode at a time, in front of an echo server.

Each mode is forced (probability 1, or a refusal asked for) so a test takes well under a second;
the soak relies on the same code drawing them at random.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest

from benchmarks.chaos import HOST, ChaosRelay, Fault, Faults

PAYLOAD = b"ping\n"


@pytest.fixture
async def echo_port() -> AsyncIterator[int]:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):  # the relay resets it
            while data := await reader.read(1024):
                writer.write(data)
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, HOST, 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


async def round_trip(port: int) -> bytes:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        return await echoed(reader, writer)
    finally:
        writer.close()


async def echoed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    writer.write(PAYLOAD)
    await writer.drain()
    return await asyncio.wait_for(reader.readexactly(len(PAYLOAD)), 5)


async def test_without_faults_every_byte_passes_and_is_observed(echo_port: int) -> None:
    seen: list[tuple[str, bytes]] = []
    done = asyncio.Event()

    class Record:
        def upstream(self, data: bytes) -> None:
            seen.append(("up", data))

        def downstream(self, data: bytes) -> None:
            seen.append(("down", data))

        def closed(self) -> None:
            seen.append(("closed", b""))
            done.set()

    async with ChaosRelay(echo_port, observe=Record) as relay:
        assert await round_trip(relay.port) == PAYLOAD
        await asyncio.wait_for(done.wait(), 5)
    assert seen == [("up", PAYLOAD), ("down", PAYLOAD), ("closed", b"")]
    assert relay.counts == {}
    assert relay.connections == 1


async def test_reset_aborts_the_connection_with_an_rst(echo_port: int) -> None:
    async with ChaosRelay(echo_port, Faults(reset=1.0)) as relay:
        with pytest.raises(ConnectionResetError):
            await round_trip(relay.port)
    assert relay.counts == {Fault.RESET: 1}


@pytest.mark.parametrize(
    ("faults", "fault"),
    [
        (Faults(delay=1.0, delay_s=(0.15, 0.15)), Fault.DELAY),
        (Faults(stall=1.0, stall_s=(0.15, 0.15)), Fault.STALL),
    ],
)
async def test_delays_and_stalls_hold_each_chunk(
    echo_port: int, faults: Faults, fault: Fault
) -> None:
    async with ChaosRelay(echo_port, faults) as relay:
        started = time.perf_counter()
        assert await round_trip(relay.port) == PAYLOAD
        elapsed = time.perf_counter() - started
    assert relay.counts == {fault: 2}  # held on the way up, and again on the way back
    assert 0.28 <= elapsed < 2.0


async def test_refusal_resets_open_connections_refuses_new_ones_then_listens_again(
    echo_port: int,
) -> None:
    async with ChaosRelay(echo_port) as relay:
        reader, writer = await asyncio.open_connection(HOST, relay.port)
        assert await echoed(reader, writer) == PAYLOAD  # relayed: the link is up
        refusal = asyncio.gather(relay.refuse_for(0.3))
        await asyncio.sleep(0.05)
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection(HOST, relay.port)
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(reader.read(1), 5)
        writer.close()
        await refusal
        assert await round_trip(relay.port) == PAYLOAD
    assert relay.counts == {Fault.REFUSE: 1}


async def test_refusals_come_by_themselves_once_per_period(echo_port: int) -> None:
    faults = Faults(refuse_every_s=0.3, refuse_s=(0.1, 0.1))
    async with ChaosRelay(echo_port, faults, seed=1) as relay:
        await asyncio.sleep(0.95)
        assert relay.counts[Fault.REFUSE] in (3, 4)  # periods 0-2 began, 3 may have
        async with asyncio.timeout(5):  # between refusals the relay works
            while True:
                try:
                    assert await round_trip(relay.port) == PAYLOAD
                    break
                except ConnectionRefusedError:
                    await asyncio.sleep(0.02)


async def test_an_unreachable_upstream_resets_the_client() -> None:
    probe = await asyncio.start_server(lambda r, w: None, HOST, 0)
    closed_port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    async with ChaosRelay(closed_port) as relay:
        with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
            await round_trip(relay.port)
    assert relay.unreachable == 1


def test_fault_probabilities_must_make_sense() -> None:
    with pytest.raises(ValueError, match="sum to <= 1"):
        Faults(reset=0.6, stall=0.6)
    with pytest.raises(ValueError, match="longer than the longest refusal"):
        Faults(refuse_every_s=1.0, refuse_s=(0.5, 2.0))
