"""A serial line against the meter simulator: over socket:// and over a pty, with faults."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from edge.codecs import dlt645
from edge.codecs.errors import ChecksumError
from edge.config.buses import SerialBusConfig
from edge.fieldbus.errors import (
    BusTimeout,
    DeviceErrorReply,
    GarbledReply,
    PortBusy,
    PortError,
    PortMissing,
)
from edge.fieldbus.meters import read_cjt188, read_dlt645_address, read_dlt645_values
from edge.fieldbus.serial_bus import SerialBus
from edge.sim.meters import MeterSimulator, MeterSpec, SimConfig

ENERGY = 0x00010000


async def test_reads_meters_of_both_protocols_over_socket_url(
    meter_sim: MeterSimulator, tcp_bus: Any
) -> None:
    bus = SerialBus(await tcp_bus(meter_sim))
    try:
        values = await read_dlt645_values(bus, "000000000161", ENERGY)
        assert values[0].point == "energy_active_forward_total"
        assert values[0].unit == "kWh"
        assert 1234.56 <= float(values[0].value or 0) < 1235
        old = await read_dlt645_values(bus, "000000060507", 0x9010, dlt645.Version.V1997)
        assert 93.64 <= float(old[0].value or 0) < 94
        water = await read_cjt188(bus, "00201809230001")
        assert {v.point for v in water.values} >= {"flow_total"}
        assert water.status is not None and water.status.valve.value == "open"
    finally:
        await bus.close()


async def test_reads_a_meter_over_a_pty_pair() -> None:
    async with MeterSimulator(SimConfig(meters=[MeterSpec("000000000161")])) as sim:
        path = await sim.start_pty()
        cfg = SerialBusConfig(id="pty", type="serial", port=path, baudrate=2400, timeout_s=0.5)
        bus = SerialBus(cfg)
        try:
            volts = await read_dlt645_values(bus, "000000000161", 0x0201FF00)
            assert [v.point for v in volts] == ["voltage_a", "voltage_b", "voltage_c"]
            assert all(200 < float(v.value or 0) < 240 for v in volts)
            # The port is ours alone while the daemon has it: a second opener is told so.
            with pytest.raises(PortBusy, match="busy"):
                other = SerialBus(cfg.model_copy(update={"id": "pty2"}))
                await read_dlt645_values(other, "000000000161", ENERGY)
        finally:
            await bus.close()


async def test_missing_port_is_reported_as_such() -> None:
    cfg = SerialBusConfig(id="x", type="serial", port="/dev/ttyNOPE9", timeout_s=0.2)
    bus = SerialBus(cfg)
    with pytest.raises(PortMissing, match="does not exist"):
        await read_dlt645_values(bus, "000000000161", ENERGY)
    await bus.close()


async def test_concurrent_requests_take_turns_on_the_wire(
    meter_sim: MeterSimulator, tcp_bus: Any
) -> None:
    bus = SerialBus(await tcp_bus(meter_sim))
    try:
        addresses = ["000000000161", "000000000162"] * 6
        results = await asyncio.gather(*(read_dlt645_values(bus, a, ENERGY) for a in addresses))
        assert all(r[0].value is not None for r in results)
        assert meter_sim.stats.collisions == 0
        assert bus.stats.transactions == len(addresses)
    finally:
        await bus.close()


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("silent", BusTimeout),
        ("garbled", GarbledReply),
        ("bad_checksum", ChecksumError),
        ("error_reply", DeviceErrorReply),
    ],
)
async def test_faults_fail_the_request_with_the_right_reason(
    meter_sim: MeterSimulator, tcp_bus: Any, fault: str, error: type[Exception]
) -> None:
    # A complete bad frame fails at once; a long timeout makes "waited it out" unmistakable
    # even on a loaded box (a silent meter is the one case that must wait, so it gets a short one).
    complete = fault in ("bad_checksum", "error_reply")
    timeout_s = 5.0 if complete else 0.7
    bus = SerialBus(await tcp_bus(meter_sim, timeout_s=timeout_s, retries=1))
    meter_sim.set_fault("000000000161", fault)
    try:
        began = time.monotonic()
        with pytest.raises(error):
            await read_dlt645_values(bus, "000000000161", ENERGY)
        elapsed = time.monotonic() - began
        if complete:
            assert elapsed < timeout_s / 2, "a complete bad frame must not wait out the timeout"
        assert bus.stats.transactions == (1 if fault == "error_reply" else 2)
        # The bus stays open and the other meters answer.
        ok = await read_dlt645_values(bus, "000000000162", ENERGY)
        assert ok[0].value is not None
        assert bus.port.is_open
    finally:
        await bus.close()


async def test_a_late_reply_is_not_taken_for_the_next_meters_answer(
    meter_sim: MeterSimulator, tcp_bus: Any
) -> None:
    bus = SerialBus(await tcp_bus(meter_sim, timeout_s=0.2))
    meter_sim.set_fault("000000000161", "late", delay_s=0.3)
    try:
        with pytest.raises(BusTimeout):
            await read_dlt645_values(bus, "000000000161", ENERGY)
        # The late answer from ...161 lands during this exchange; ours is ...162's.
        values = await read_dlt645_values(bus, "000000000162", ENERGY)
        assert 50.0 <= float(values[0].value or 0) < 51
    finally:
        await bus.close()


async def test_read_address_finds_the_only_meter(tcp_bus: Any) -> None:
    async with MeterSimulator(SimConfig(meters=[MeterSpec("000012345678")])) as sim:
        bus = SerialBus(await tcp_bus(sim))
        try:
            assert await read_dlt645_address(bus) == "000012345678"
        finally:
            await bus.close()


async def test_port_errors_fail_fast_and_the_port_reopens(
    meter_sim: MeterSimulator, tcp_bus: Any
) -> None:
    host, port = await meter_sim.start_tcp()
    cfg = SerialBusConfig(
        id="r", type="serial", port=f"socket://{host}:{port + 0}", timeout_s=0.3, retries=0
    )
    bus = SerialBus(cfg)
    try:
        assert (await read_dlt645_values(bus, "000000000161", ENERGY))[0].value
        # Break the connection under the bus: the next request reports a port error,
        # later ones reopen the port and succeed.
        sock = bus.port._ser._socket
        sock.shutdown(2)
        errors: list[PortError] = []
        for _ in range(40):
            try:
                await read_dlt645_values(bus, "000000000161", ENERGY)
                break
            except PortError as exc:  # a timeout or any other error would fail the test
                errors.append(exc)
                await asyncio.sleep(0.1)
        assert 1 <= len(errors) < 40
        assert f"socket://{host}:{port}" in str(errors[0])
        assert bus.stats.port_errors >= 1 and bus.health()["open"] is True
    finally:
        await bus.close()
