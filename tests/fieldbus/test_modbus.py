"""Modbus links against pymodbus's server (edge.sim.modbus): TCP, and RTU over a socket."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from edge.codecs.errors import ProtocolError
from edge.config.buses import ModbusTcpBusConfig, SerialBusConfig
from edge.fieldbus.errors import BusTimeout, DeviceErrorReply, GarbledReply, PortError
from edge.fieldbus.modbus import ModbusLink, ModbusRtuLink, ModbusTcpLink
from edge.fieldbus.profiles import load_profile
from edge.fieldbus.registers import decode_point, plan_reads
from edge.fieldbus.serial_bus import SerialBus
from edge.sim.modbus import ModbusSimulator, SensorSpec


@pytest.fixture
async def sim() -> AsyncIterator[ModbusSimulator]:
    async with ModbusSimulator(
        [
            SensorSpec(1, "smoke_detector"),
            SensorSpec(2, "water_level"),
            SensorSpec(4, "temp_humidity"),
        ]
    ) as s:
        yield s


@pytest.fixture(params=["tcp", "rtu"])
async def link(request: pytest.FixtureRequest, sim: ModbusSimulator) -> AsyncIterator[ModbusLink]:
    rtu = request.param == "rtu"
    host, port = await sim.start_tcp(rtu=rtu)
    out: ModbusLink
    if rtu:
        out = ModbusRtuLink(
            SerialBus(
                SerialBusConfig(
                    id="rtu",
                    type="serial",
                    port=f"socket://{host}:{port}",
                    timeout_s=0.4,
                    retries=1,
                    inter_frame_gap_s=0,
                )
            )
        )
    else:
        out = ModbusTcpLink(
            ModbusTcpBusConfig(id="tcp", type="modbus_tcp", host=host, port=port, timeout_s=0.4)
        )
    yield out
    await out.close()


async def read_profile(link: ModbusLink, unit: int, profile: str) -> dict[str, object]:
    values: dict[str, object] = {}
    for block in plan_reads(load_profile(profile).registers):
        data = await link.read(block.function, block.address, block.count, unit)
        for p in block.points:
            values[p.name] = decode_point(p, block.slice_for(p, data))
    return values


async def test_reads_every_profile_point_with_its_type(
    link: ModbusLink, sim: ModbusSimulator
) -> None:
    sim.force(2, "level", 0.42)
    water = await read_profile(link, 2, "water_level")
    assert water["level"] == pytest.approx(0.42, abs=1e-6)
    assert water["level_mm"] == 420
    th = await read_profile(link, 4, "temp_humidity")
    assert 15 < float(th["temperature"]) < 35  # type: ignore[arg-type]
    assert 30 < float(th["humidity"]) < 80  # type: ignore[arg-type]
    sim.force(1, "alarm", True)
    smoke = await read_profile(link, 1, "smoke_detector")
    assert smoke["alarm"] is True and smoke["fault"] is False


@pytest.mark.parametrize(
    ("fault", "errors"),
    [
        ("silent", (BusTimeout,)),
        ("error_reply", (DeviceErrorReply,)),
        ("garbled", (BusTimeout, GarbledReply, ProtocolError)),
        ("bad_checksum", (BusTimeout, GarbledReply, ProtocolError)),
    ],
)
async def test_a_faulty_unit_fails_alone(
    link: ModbusLink, sim: ModbusSimulator, fault: str, errors: tuple[type[Exception], ...]
) -> None:
    sim.set_fault(2, fault)
    with pytest.raises(errors):
        await link.read("holding_registers", 0, 2, 2)
    # The link is not torn down by one bad unit: the neighbours still answer.
    for _ in range(5):
        assert len(await link.read("input_registers", 0, 2, 4)) == 2
    sim.set_fault(2, "none")
    assert len(await link.read("holding_registers", 0, 2, 2)) == 2


async def test_error_reply_names_the_exception(link: ModbusLink, sim: ModbusSimulator) -> None:
    sim.set_fault(1, "error_reply")
    with pytest.raises(DeviceErrorReply, match="device failure"):
        await link.read("input_registers", 0, 1, 1)


async def test_absent_unit_is_silence_on_a_line_and_an_exception_from_a_gateway(
    link: ModbusLink,
) -> None:
    began = time.monotonic()
    if isinstance(link, ModbusRtuLink):
        with pytest.raises(BusTimeout):
            await link.read("holding_registers", 0, 1, 99, attempts=1)
        assert time.monotonic() - began < 0.4 + 0.3
    else:
        with pytest.raises(DeviceErrorReply, match="gateway target"):
            await link.read("holding_registers", 0, 1, 99, attempts=1)


async def test_tcp_endpoint_down_is_a_port_error() -> None:
    link = ModbusTcpLink(
        ModbusTcpBusConfig(id="t", type="modbus_tcp", host="127.0.0.1", port=1, timeout_s=0.3)
    )
    with pytest.raises(PortError, match="cannot connect"):
        await link.read("holding_registers", 0, 1, 1)
    await link.close()
