"""Faults the meter simulator injects per meter, each over TCP and over the pty."""

from __future__ import annotations

import asyncio

import pytest
from sim_meter_client import E07, E97, ENERGY, WATER, Client

from edge.codecs import cjt188, dlt645
from edge.codecs.dlt645 import ErrorFlag, Version
from edge.codecs.errors import ChecksumError
from edge.sim.meters import FaultKind, MeterSimulator


async def test_fault_silent(bus: tuple[MeterSimulator, Client]) -> None:
    sim, client = bus
    sim.set_fault(E07, "silent")
    await client.send(dlt645.build_read(E07, ENERGY))
    await client.send(cjt188.build_read(WATER, 0x10))
    assert (await client.frame(cjt188)).address == WATER  # nothing came before it
    assert sim.stats.faults["silent"] == 1
    sim.set_fault(E07, "none")
    assert isinstance(await client.read_dlt(E07, ENERGY), dlt645.DataReply)


async def test_fault_late_does_not_hold_up_the_bus(bus: tuple[MeterSimulator, Client]) -> None:
    sim, client = bus
    sim.set_fault(E07, FaultKind.LATE, delay_s=0.4)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await client.send(dlt645.build_read(E07, ENERGY))
    await client.send(dlt645.build_read(E97, 0x9010, Version.V1997))
    first = await client.frame(dlt645)
    second = await client.frame(dlt645)
    elapsed = loop.time() - start
    assert (first.address, second.address) == (E97, E07)
    assert elapsed >= 0.4


async def test_fault_garbled(bus: tuple[MeterSimulator, Client]) -> None:
    sim, client = bus
    sim.set_fault(E07, "garbled")
    await client.send(dlt645.build_read(E07, ENERGY))
    noise = await client.raw(4 + 12 + 8)  # as long as the real reply
    assert dlt645.find_frame(noise)[0] is None
    sim.set_fault(E07, "none")
    client.buf.clear()
    assert isinstance(await client.read_dlt(E07, ENERGY), dlt645.DataReply)


async def test_fault_bad_checksum(bus: tuple[MeterSimulator, Client]) -> None:
    sim, client = bus
    sim.set_fault(E07, "bad_checksum")
    sim.set_fault(WATER, "bad_checksum")
    await client.send(dlt645.build_read(E07, ENERGY))
    with pytest.raises(ChecksumError):
        dlt645.parse(await client.raw(4 + 12 + 8))
    await client.send(cjt188.build_read(WATER, 0x10))
    with pytest.raises(ChecksumError):
        cjt188.parse(await client.raw(2 + 13 + 22))


async def test_fault_error_reply(bus: tuple[MeterSimulator, Client]) -> None:
    sim, client = bus
    sim.set_fault(E07, "error_reply", error_bits=int(ErrorFlag.UNAUTHORIZED))
    reply = await client.read_dlt(E07, ENERGY)
    assert isinstance(reply, dlt645.ErrorReply)
    assert reply.texts == ["密码错/未授权"]
    sim.set_fault(E97, "error_reply", error_bits=0x02)
    reply97 = await client.read_dlt(E97, 0x9010, Version.V1997)
    assert isinstance(reply97, dlt645.ErrorReply) and reply97.texts == ["数据标识错"]
    sim.set_fault(WATER, "error_reply", error_bits=0x0003)
    await client.send(cjt188.build_read(WATER, 0x10, ser=9))
    water = cjt188.decode_reply(await client.frame(cjt188))
    assert isinstance(water, cjt188.ErrorReply) and water.ser == 9
    assert water.status is not None and water.status.valve is cjt188.Valve.ABNORMAL
