"""Barriers behind a Modbus relay board, over TCP and RTU, against pymodbus's own server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from modbus_bus import modbus_bus

from edge.access.gates import GateError
from edge.fieldbus.modbus import write_request
from edge.sim.modbus import FaultKind, ModbusSimulator, RelaySpec, SensorSpec


@pytest.fixture
async def sim() -> AsyncIterator[ModbusSimulator]:
    async with ModbusSimulator([SensorSpec(1, "smoke_detector")], relays=[RelaySpec(7)]) as s:
        yield s


async def start(sim: ModbusSimulator, make_runtime: Any, framing: str, **extra: Any) -> Any:
    host, port = await sim.start_tcp(rtu=framing == "rtu")
    bus = modbus_bus(framing, host, port)
    gate = {
        "id": "barrier-1",
        "type": "modbus_relay",
        "bus": "b",
        "unit": 7,
        "coil": 1,
        "close_coil": 2,
        "pulse_s": 0.05,
        "position_input": 1,
        "loop_input": 5,
        "poll_interval_s": 0.1,
        **extra,
    }
    return await make_runtime([bus], [gate])


@pytest.mark.parametrize("framing", ["tcp", "rtu"])
async def test_open_pulses_the_coil_and_verifies_it(
    sim: ModbusSimulator, make_runtime: Any, wait_for: Any, framing: str
) -> None:
    rt = await start(sim, make_runtime, framing)
    await wait_for(lambda: rt.devices.status("barrier-1").available)
    board = sim.relay(7)
    result = await rt.services["device.barrier-1"].open_gate(reason="resident", actor="rule")
    assert result == {"opened": True, "verified": True, "coil": 1}
    assert board.pulses(1) == 1
    assert board.coils[1] is False  # the pulse ended: the contact is not left closed


async def test_position_and_loop_inputs_are_readings(
    sim: ModbusSimulator, make_runtime: Any, wait_for: Any
) -> None:
    rt = await start(sim, make_runtime, "tcp")
    board = sim.relay(7)
    board.vehicle.add(1)
    driver = rt.services["device.barrier-1"]

    async def recorded() -> dict[str, object]:
        events = await rt.store.events(kind="reading")
        points = {p["point"]: p["value"] for e in events for p in e["data"]["points"]}
        return points if points.get("vehicle_present") is True else {}

    points = await wait_for(recorded)
    assert points["position_open"] is False
    assert driver.vehicle_present is True


async def test_a_barrier_is_never_closed_over_a_vehicle(
    sim: ModbusSimulator, make_runtime: Any, wait_for: Any
) -> None:
    rt = await start(sim, make_runtime, "tcp")
    await wait_for(lambda: rt.devices.status("barrier-1").available)
    board = sim.relay(7)
    driver = rt.services["device.barrier-1"]
    board.vehicle.add(1)
    with pytest.raises(GateError, match="vehicle"):
        await driver.close_gate(reason="guard", actor="user:li")
    assert board.pulses(2) == 0
    board.vehicle.clear()
    assert (await driver.close_gate(reason="guard", actor="user:li"))["closed"] is True
    assert board.pulses(2) == 1


async def test_fire_mode_holds_the_contact_until_released(
    sim: ModbusSimulator, make_runtime: Any, wait_for: Any
) -> None:
    rt = await start(sim, make_runtime, "tcp")
    await wait_for(lambda: rt.devices.status("barrier-1").available)
    board = sim.relay(7)
    driver = rt.services["device.barrier-1"]
    await driver.hold_open(True, reason="fire", actor="system")
    await driver.open_gate(reason="resident", actor="rule")  # an open during fire mode
    assert board.coils[1] is True and board.position_open(1)
    await driver.hold_open(False, reason="fire cleared", actor="user:li")
    assert board.coils[1] is False


async def test_a_silent_or_refusing_board_is_a_gate_error(
    sim: ModbusSimulator, make_runtime: Any, wait_for: Any
) -> None:
    rt = await start(sim, make_runtime, "tcp")
    await wait_for(lambda: rt.devices.status("barrier-1").available)
    driver = rt.services["device.barrier-1"]
    sim.set_fault(7, FaultKind.SILENT)
    with pytest.raises(GateError, match="relay board unit 7"):
        await driver.open_gate(reason="resident", actor="rule")
    assert rt.devices.status("barrier-1").available is False
    sim.set_fault(7, FaultKind.ERROR_REPLY)
    with pytest.raises(GateError, match="exception 04"):
        await driver.open_gate(reason="resident", actor="rule")


async def test_a_stuck_barrier_is_a_failed_opening(
    sim: ModbusSimulator, make_runtime: Any, wait_for: Any
) -> None:
    rt = await start(sim, make_runtime, "tcp", open_confirm_s=0.4)
    await wait_for(lambda: rt.devices.status("barrier-1").available)
    board = sim.relay(7)
    driver = rt.services["device.barrier-1"]
    await driver.open_gate(reason="resident", actor="rule")
    assert driver.position_open is True
    board.stuck.add(1)
    with pytest.raises(GateError, match="stuck"):
        await driver.open_gate(reason="resident", actor="rule")
    assert board.pulses(1) == 2  # commanded, released, but the arm never rose


def test_write_requests_use_the_single_forms_for_one_value() -> None:
    assert write_request("coils", 3, [True], 1).function_code == 5
    assert write_request("coils", 3, [True, False], 1).function_code == 15
    assert write_request("holding_registers", 3, [7], 1).function_code == 6
    assert write_request("holding_registers", 3, [7, 8], 1).function_code == 16
    with pytest.raises(ValueError):
        write_request("holding_registers", 0, [70000], 1)
    with pytest.raises(ValueError):
        write_request("coils", 0, [], 1)
