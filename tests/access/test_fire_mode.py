"""Fire mode in a running daemon, on a barrier behind pymodbus's own server (the relay
board simulator): turned on by the CLI or the fire-alarm input, held, shown in health,
cleared, and the barrier never lowered over a vehicle."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from access_helpers import access_for, api, plate_pass

from edge.cli.main import main as cli
from edge.events import Reading, utcnow
from edge.sim.modbus import ModbusSimulator, RelaySpec


@pytest.fixture
async def board() -> AsyncIterator[ModbusSimulator]:
    async with ModbusSimulator([], relays=[RelaySpec(7)]) as s:
        yield s


async def barrier_daemon(make_daemon: Any, sim: ModbusSimulator, **fire: Any) -> Any:
    host, port = await sim.start_tcp()
    bus = {"id": "b", "type": "modbus_tcp", "host": host, "port": port, "timeout_s": 0.3}
    barrier = {
        "id": "barrier-1",
        "type": "modbus_relay",
        "bus": "b",
        "unit": 7,
        "coil": 1,
        "close_coil": 2,
        "pulse_s": 0.05,
        "loop_input": 5,
        "poll_interval_s": 0.1,
    }
    access = {
        "gates": [
            {"id": "west-in", "device": "barrier-1", "cameras": ["cam-west"], "mode": "manual"}
        ],
        "fire": {"hold_s": 0.2, **fire},
    }
    return await make_daemon(access, [barrier], [bus])


async def run_cli(d: Any, *argv: str) -> int:
    url = f"http://127.0.0.1:{d.web.port}"
    token = ["--token-file", str(d.web.token_file)]  # as root or the service user on the box
    return await asyncio.to_thread(cli, ["access", *argv, "--url", url, "--by", "li", *token])


async def test_fire_mode_from_the_cli_holds_the_barrier_open_until_cleared(
    make_daemon: Any, board: ModbusSimulator, wait_for: Any
) -> None:
    d = await barrier_daemon(make_daemon, board)
    relay = board.relay(7)
    assert await run_cli(d, "fire", "on", "--reason", "drill") == 0
    assert relay.coils[1] is True
    _, health = await api(d, "GET", "/api/health")
    assert health["access"]["fire_mode"]["on"] is True
    assert any("FIRE MODE" in p for p in health["problems"])
    [alarm] = await d.rt.store.alarms(state="raised")
    assert alarm["severity"] == "critical" and "FIRE MODE" in alarm["message"]
    # A pass at a manual gate opens it while fire mode is on (the rule says so).
    ev = await plate_pass(d, "cam-west", "苏A00001")
    [rec] = await access_for(d, ev.id)
    assert rec["rule"] == "fire_mode" and rec["opened"] is True
    await asyncio.sleep(0.5)  # several hold_s periods: still held, never released
    assert relay.coils[1] is True
    assert not any(r == 1 and not on for _t, r, on in relay.writes)

    assert await run_cli(d, "fire", "off", "--reason", "drill over") == 0
    assert relay.coils[1] is False
    assert relay.pulses(2) == 1  # lowered through its close contact
    assert await d.rt.store.alarms(state="raised") == []
    audits = await d.rt.store.audit_entries(action="access.fire_mode")
    assert [(a["target"], a["actor"]) for a in audits] == [("off", "cli:li"), ("on", "cli:li")]


async def test_fire_mode_follows_the_fire_alarm_input(
    make_daemon: Any, board: ModbusSimulator, wait_for: Any
) -> None:
    d = await barrier_daemon(make_daemon, board, input_device="panel", input_point="fire")
    relay = board.relay(7)

    async def panel(on: bool) -> None:
        await d.rt.flow.emit_readings("panel", [Reading("panel", "fire", on, "", utcnow())])

    await panel(False)
    await panel(True)
    await wait_for(lambda: relay.coils[1] is True)
    keeper = d.rt.services["access"]
    assert keeper.fire.on and keeper.fire.by == "system:input.panel"
    await panel(True)  # the same value again changes nothing
    await panel(False)
    await wait_for(lambda: relay.coils[1] is False)
    assert not keeper.fire.on

    async def audits() -> list[str]:
        return [a["target"] for a in await d.rt.store.audit_entries(action="access.fire_mode")]

    await wait_for(lambda: audits())
    assert await wait_for(lambda: _len_is(audits(), 2)) and await audits() == ["off", "on"]


async def test_a_cleared_barrier_is_not_lowered_over_a_vehicle_on_its_loop(
    make_daemon: Any, board: ModbusSimulator, wait_for: Any
) -> None:
    d = await barrier_daemon(make_daemon, board)
    relay = board.relay(7)
    status, _ = await api(d, "POST", "/api/access/fire", {"by": "li", "on": True, "reason": "x"})
    assert status == 200
    relay.vehicle.add(1)
    status, _ = await api(d, "POST", "/api/access/fire", {"by": "li", "on": False, "reason": "x"})
    assert status == 200
    keeper = d.rt.services["access"]
    assert keeper.fire.closing == {"west-in"}
    await asyncio.sleep(0.5)  # several retries while the car is there
    assert relay.pulses(2) == 0
    relay.vehicle.clear()
    await wait_for(lambda: relay.pulses(2) == 1)
    assert keeper.fire.closing == set()


async def _len_is(coro: Any, n: int) -> bool:
    return len(await coro) == n
