"""What real RS-485 lines do that a clean simulator does not: converters that echo what we
send, and ports that stay down. Peers here are sockets written for the quirk."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator

import pytest

from edge.codecs import dlt645
from edge.config.buses import SerialBusConfig
from edge.fieldbus import serial_bus
from edge.fieldbus.errors import PortError
from edge.fieldbus.meters import read_dlt645
from edge.fieldbus.serial_bus import SerialBus

ADDRESS = "000000000161"
ENERGY = 0x00010000


@contextlib.asynccontextmanager
async def echoing_converter(reply: bytes) -> AsyncIterator[str]:
    """A half-duplex converter that hears its own transmission: the request comes back first."""

    async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while request := await reader.read(256):
                writer.write(request)  # the echo
                await writer.drain()
                await asyncio.sleep(0.01)  # the meter's turnaround
                writer.write(reply)
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(peer, "127.0.0.1", 0)
    try:
        yield f"socket://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()


async def test_the_echo_of_our_own_request_is_not_taken_for_the_reply() -> None:
    payload = bytes([0x56, 0x34, 0x12, 0x00])
    reply = dlt645.build_data_reply(ADDRESS, ENERGY, payload, preamble=4)
    async with echoing_converter(reply) as url:
        bus = SerialBus(SerialBusConfig(id="echo", type="serial", port=url, timeout_s=2.0))
        try:
            got, data = await read_dlt645(bus, ADDRESS, ENERGY, attempts=1)
        finally:
            await bus.close()
    assert data == payload and got.di == ENERGY
    assert bus.stats.answered == 1 and bus.stats.protocol_errors == 0


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_port_that_is_down_fails_fast_and_is_retried_only_after_the_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every device on a dead line fails at once with the port's error; the port itself is
    tried again only once per REOPEN_EVERY_S, not once per device."""
    monkeypatch.setattr(serial_bus, "REOPEN_EVERY_S", 0.3)
    url = f"socket://127.0.0.1:{_closed_port()}"
    bus = SerialBus(SerialBusConfig(id="down", type="serial", port=url, timeout_s=0.2))
    try:
        with pytest.raises(PortError) as first:
            await read_dlt645(bus, ADDRESS, ENERGY, attempts=1)
        assert bus.stats.port_errors == 1
        for _ in range(5):  # devices polling meanwhile: no new open attempt
            with pytest.raises(PortError) as again:
                await read_dlt645(bus, ADDRESS, ENERGY, attempts=1)
            assert again.value is first.value
        assert bus.stats.port_errors == 1
        deadline = time.monotonic() + 10
        while bus.stats.port_errors == 1 and time.monotonic() < deadline:
            with pytest.raises(PortError):
                await read_dlt645(bus, ADDRESS, ENERGY, attempts=1)
            await asyncio.sleep(0.05)
        assert bus.stats.port_errors == 2  # tried again once the interval passed
    finally:
        await bus.close()


@contextlib.asynccontextmanager
async def pausing_meter(reply: bytes, split_at: int) -> AsyncIterator[str]:
    """A slow meter (or a converter flushing its FIFO late): the reply stops mid-frame for
    longer than the quiet time before its rest arrives."""

    async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            await reader.read(256)
            writer.write(reply[:split_at])
            await writer.drain()
            await asyncio.sleep(0.25)  # > the 80 ms that ends a reply of pure noise
            writer.write(reply[split_at:])
            await writer.drain()
            await reader.read(256)
        writer.close()

    server = await asyncio.start_server(peer, "127.0.0.1", 0)
    try:
        yield f"socket://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()


@pytest.mark.parametrize("split_at", [2, 4, 10], ids=["in-preamble", "after-preamble", "header"])
async def test_a_reply_that_pauses_mid_frame_is_waited_for_not_called_garbled(
    split_at: int,
) -> None:
    payload = bytes([0x01, 0x00, 0x00, 0x00])
    reply = dlt645.build_data_reply(ADDRESS, ENERGY, payload, preamble=4)
    async with pausing_meter(reply, split_at) as url:
        bus = SerialBus(SerialBusConfig(id="slow", type="serial", port=url, timeout_s=2.0))
        try:
            _, data = await read_dlt645(bus, ADDRESS, ENERGY, attempts=1)
        finally:
            await bus.close()
    assert data == payload and bus.stats.garbled == 0
