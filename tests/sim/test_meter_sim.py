"""The meter simulator as a real peer: DL/T 645 and CJ/T 188 meters answer what a master asks."""

from __future__ import annotations

import itertools

import pytest
from sim_meter_client import (
    E07,
    E97,
    ENERGY,
    HEAT,
    WATER,
    Client,
    FakeClock,
    default_config,
    floats,
    tcp_client,
)

from edge.codecs import cjt188, dlt645
from edge.codecs.dlt645 import ErrorFlag, Version
from edge.sim.meters import MeterSimulator, MeterSpec, Protocol


async def test_2007_meter_answers_with_plausible_values(bus: tuple[MeterSimulator, Client]) -> None:
    _, client = bus
    reply = await client.read_dlt(E07, ENERGY)
    assert isinstance(reply, dlt645.DataReply) and reply.address == E07
    (energy,) = dlt645.decode_data(reply.di, reply.payload)
    assert energy.unit == "kWh" and energy.value == pytest.approx(1234.56, abs=0.05)

    reply = await client.read_dlt(E07, 0x0201FF00)
    volt_values = dlt645.decode_data(reply.di, reply.payload)
    assert [v.point for v in volt_values] == ["voltage_a", "voltage_b", "voltage_c"]
    volts = floats(volt_values)
    assert all(215 < v < 225 for v in volts)

    reply = await client.read_dlt(E07, 0x0202FF00)
    amps = floats(dlt645.decode_data(reply.di, reply.payload))
    power = await client.read_dlt(E07, 0x02030000)
    (kw,) = floats(dlt645.decode_data(power.di, power.payload))
    assert 1.4 <= kw <= 2.6  # 2 kW ± 30 %
    # P = V·I·pf summed over the phases, within display rounding.
    watts = sum(a * v * 0.95 for a, v in zip(amps, volts, strict=True))
    assert watts / 1000 == pytest.approx(kw, rel=0.02)


async def test_1997_meter_answers(bus: tuple[MeterSimulator, Client]) -> None:
    _, client = bus
    reply = await client.read_dlt(E97, 0x9010, Version.V1997)
    assert isinstance(reply, dlt645.DataReply) and reply.version is Version.V1997
    (energy,) = dlt645.decode_data(reply.di, reply.payload, Version.V1997)
    assert energy.value == pytest.approx(93.64, abs=0.05)


async def test_water_and_heat_meters_answer(bus: tuple[MeterSimulator, Client]) -> None:
    _, client = bus
    await client.send(cjt188.build_read(WATER, 0x10, ser=0x42, di_order=cjt188.DiOrder.LOW_FIRST))
    reply = cjt188.decode_reply(await client.frame(cjt188))
    assert isinstance(reply, cjt188.DataReply)
    assert (reply.address, reply.ser, reply.di_order) == (WATER, 0x42, cjt188.DiOrder.LOW_FIRST)
    assert isinstance(reply.data, cjt188.WaterData)
    assert reply.data.current.unit == "m3"
    assert reply.data.current.value == pytest.approx(12.5, abs=0.05)
    assert reply.data.time is not None
    assert abs((reply.data.time - reply.data.time.now()).total_seconds()) < 5
    assert reply.data.status.valve is cjt188.Valve.OPEN

    await client.send(cjt188.build_read(HEAT, 0x20))
    heat = cjt188.decode_reply(await client.frame(cjt188))
    assert isinstance(heat, cjt188.DataReply) and isinstance(heat.data, cjt188.HeatData)
    assert heat.data.supply_temp is not None and heat.data.return_temp is not None
    assert heat.data.supply_temp > heat.data.return_temp


async def test_cjt188_read_address_with_one_meter_of_the_protocol(
    bus: tuple[MeterSimulator, Client],
) -> None:
    sim, client = bus
    sim.bus.meters.pop(HEAT)  # leave one CJ/T 188 meter (the DL/T 645 ones do not listen)
    await client.send(cjt188.build_read_address(ser=3))
    reply = cjt188.decode_reply(await client.frame(cjt188))
    assert reply == cjt188.AddressReply(0x10, WATER, 3)


async def test_meters_answer_only_requests_addressed_to_them(
    tcp_bus: tuple[MeterSimulator, Client],
) -> None:
    sim, client = tcp_bus
    # Nobody at this address; a 1997 frame to the 2007 meter; a gas-type frame to a water meter.
    await client.send(dlt645.build_read("000000000999", ENERGY))
    await client.send(dlt645.build_read(E07, 0x9010, Version.V1997))
    await client.send(cjt188.build_read(WATER, 0x30))
    await client.send(dlt645.build_read(E07, ENERGY, preamble=0)[:-2] + b"\x00\x16")  # bad CS
    await client.send(dlt645.encode(dlt645.Frame(dlt645.BROADCAST_ADDRESS, 0x08, bytes(6))))
    reply = await client.read_dlt(E07, ENERGY)  # the first thing that comes back
    assert isinstance(reply, dlt645.DataReply) and reply.address == E07
    assert sim.stats.unaddressed == 4  # the bad-CS frame never reached the meters
    assert sim.stats.requests == 5


async def test_unknown_di_gets_error_reply(tcp_bus: tuple[MeterSimulator, Client]) -> None:
    _, client = tcp_bus
    reply = await client.read_dlt(E07, 0x00440000)
    assert isinstance(reply, dlt645.ErrorReply)
    assert reply.errors == ErrorFlag.NO_DATA


async def test_energy_and_volume_drift_upward() -> None:
    clock = FakeClock()
    async with MeterSimulator(default_config(), clock=clock) as sim, tcp_client(sim) as client:
        readings: list[float] = []
        volumes: list[float | None] = []
        for _ in range(3):
            reply = await client.read_dlt(E07, ENERGY)
            readings += floats(dlt645.decode_data(reply.di, reply.payload))
            await client.send(cjt188.build_read(WATER, 0x10))
            water = cjt188.decode_reply(await client.frame(cjt188))
            assert isinstance(water, cjt188.DataReply)
            assert isinstance(water.data, cjt188.WaterData)
            volumes.append(water.data.current.value)
            clock.now += 3600
    # One simulated hour at a mean of 2 kW and 0.4 m³/h each time.
    assert readings[0] == pytest.approx(1234.56, abs=0.01)
    assert [b - a for a, b in itertools.pairwise(readings)] == pytest.approx([2.0, 2.0], abs=0.02)
    flows = [v for v in volumes if v is not None]
    assert [b - a for a, b in itertools.pairwise(flows)] == pytest.approx([0.4, 0.4], abs=0.02)


async def test_broadcast_read_address_with_one_meter() -> None:
    config = default_config(meters=[MeterSpec("181226034194")])
    async with MeterSimulator(config) as sim, tcp_client(sim) as client:
        await client.send(dlt645.build_read_address())
        reply = dlt645.decode_reply(await client.frame(dlt645))
        assert reply == dlt645.AddressReply("181226034194")
        # The wildcard also works for ordinary reads when one meter is on the bus.
        data = await client.read_dlt(dlt645.WILDCARD_ADDRESS, ENERGY)
        assert isinstance(data, dlt645.DataReply) and data.address == "181226034194"


async def test_broadcast_read_address_with_two_meters_collides() -> None:
    config = default_config(meters=[MeterSpec("181226034194"), MeterSpec("000000000001")])
    async with MeterSimulator(config) as sim, tcp_client(sim) as client:
        await client.send(dlt645.build_read_address())
        garbage = await client.raw(4 + 18)  # both replies overlapped, as long as one
        assert dlt645.find_frame(garbage)[0] is None
        assert sim.stats.collisions == 1


async def test_1997_wildcard_quirk_echoes_wildcard_address() -> None:
    config = default_config(meters=[MeterSpec(E97, Protocol.DLT645_1997, echo_wildcard=True)])
    async with MeterSimulator(config) as sim, tcp_client(sim) as client:
        reply = await client.read_dlt(dlt645.WILDCARD_ADDRESS, 0x9010, Version.V1997)
        assert isinstance(reply, dlt645.DataReply)
        assert reply.address == dlt645.WILDCARD_ADDRESS


async def test_long_block_comes_as_follow_on_frames() -> None:
    config = default_config(meters=[MeterSpec(E07, max_data_len=12)])
    async with MeterSimulator(config) as sim, tcp_client(sim) as client:
        di = 0x0001FF00
        first = await client.read_dlt(E07, di)
        assert isinstance(first, dlt645.DataReply) and first.more
        parts = [first.payload]
        seq = 1
        more = True
        while more:
            await client.send(dlt645.build_read_follow(E07, di, seq))
            reply = dlt645.decode_reply(await client.frame(dlt645))
            assert isinstance(reply, dlt645.DataReply) and reply.seq == seq
            parts.append(reply.payload)
            more = reply.more
            seq += 1
        values = dlt645.decode_data(di, b"".join(parts))
    assert seq > 2
    total, *rates = floats(values)
    assert len(rates) == 4
    assert sum(rates) == pytest.approx(total, abs=0.011)
