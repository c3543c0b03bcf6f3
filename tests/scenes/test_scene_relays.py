"""The scene rules' relays in a running daemon with a real relay board (pymodbus's server):
shared by two cameras, released only when neither holds it; left alone for a fire door in
fire mode; a hold the board refused is retried while wanted; and a board that stops
answering does not hold the daemon's stop for long."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from daemons import Daemons

from edge.app import Daemon
from edge.config import config_model
from edge.scene.relays import SceneRelays
from edge.sim.modbus import FaultKind, ModbusSimulator, RelaySpec

SITE = {"name": "测试小区", "site_id": "32010600002160000001", "gateway_id": "32010600001180000001"}


@pytest.fixture
async def board_sim() -> AsyncIterator[ModbusSimulator]:
    async with ModbusSimulator([], relays=[RelaySpec(7)]) as sim:
        yield sim


@pytest.fixture
def daemon(
    tmp_path: Path, board_sim: ModbusSimulator, daemons: Daemons
) -> Callable[..., Awaitable[Daemon]]:
    async def make(**access: Any) -> Daemon:
        host, port = await board_sim.start_tcp()
        config = config_model().model_validate(
            {
                "config_version": 1,
                "site": SITE,
                "storage": {"data_dir": str(tmp_path / "data")},
                "web": {"listen": "127.0.0.1:0"},
                "buses": [
                    {"id": "b", "type": "modbus_tcp", "host": host, "port": port, "timeout_s": 0.3}
                ],
                "devices": [
                    {
                        "id": "lift1",
                        "type": "modbus_relay",
                        "bus": "b",
                        "unit": 7,
                        "coil": 1,
                        "poll_interval_s": 0.2,
                    }
                ],
                "access": access,
            }
        )
        return await daemons.start(config)

    return make


async def _attached(d: Daemon) -> None:
    """The board answered a poll: the relay's bus is up."""
    async with asyncio.timeout(10):
        while True:
            if d.rt.devices.status("lift1").available:
                return
            await asyncio.sleep(0.02)


async def test_a_relay_two_cameras_hold_is_released_when_neither_does(
    daemon: Any, board_sim: ModbusSimulator
) -> None:
    d = await daemon()
    await _attached(d)
    relays = SceneRelays(d.rt, {"lift1"})
    board = board_sim.relay(7)
    await relays.hold("lift1", "lift-a", "e-bike in the car")
    await relays.hold("lift1", "lift-b", "e-bike in the car")
    assert board.coils[1]
    await relays.release("lift1", "lift-a", "cleared on lift-a")
    assert board.coils[1], "released while lift-b's rule still held it"
    await relays.release("lift1", "lift-b", "cleared on lift-b")
    assert not board.coils[1]


async def test_a_fire_door_is_not_released_by_a_scene_rule_in_fire_mode(
    daemon: Any, board_sim: ModbusSimulator
) -> None:
    gate = {"id": "lift-door", "device": "lift1", "fire_open": True}
    d = await daemon(gates=[gate])
    await _attached(d)
    relays = SceneRelays(d.rt, {"lift1"})
    board = board_sim.relay(7)
    await relays.hold("lift1", "lift-a", "e-bike in the car")
    from edge import actions

    await actions.set_fire_mode(d.rt, True, actor=actions.Actor("user", "li"), reason="drill")
    await relays.release("lift1", "lift-a", "cleared on lift-a")
    assert board.coils[1], "a scene rule closed an escape route in fire mode"


async def test_a_board_that_stops_answering_does_not_hold_the_stop(
    daemon: Any, board_sim: ModbusSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    d = await daemon()
    await _attached(d)
    relays = SceneRelays(d.rt, set())  # nothing to release at start
    task = asyncio.create_task(relays.run())
    await relays.hold("lift1", "lift-a", "e-bike in the car")
    board_sim.set_fault(7, FaultKind.LATE, delay_s=60)  # takes nothing in time any more
    task.cancel()
    async with asyncio.timeout(10):  # far less than the board's minute: the stop is bounded
        await asyncio.gather(task, return_exceptions=True)
    assert relays.released_at_stop == set()
    assert any("may stay on" in r.getMessage() for r in caplog.records), caplog.text
    board_sim.set_fault(7, FaultKind.NONE)


async def test_a_hold_the_board_refused_is_retried_while_the_rule_still_wants_it(
    daemon: Any, board_sim: ModbusSimulator
) -> None:
    """The board did not answer when the e-bike came in: the lift doors must be held as
    soon as it answers again, while the e-bike is still there (not never); a release in
    between ends the retries."""
    d = await daemon()
    await _attached(d)
    relays = SceneRelays(d.rt, set())
    task = asyncio.create_task(relays.run())
    board = board_sim.relay(7)
    try:
        board_sim.set_fault(7, FaultKind.ERROR_REPLY)
        with pytest.raises(Exception):  # noqa: B017 - the action's own refusal, whatever it is
            await relays.hold("lift1", "lift-a", "e-bike in the car")
        assert not board.coils[1]
        board_sim.set_fault(7, FaultKind.NONE)
        async with asyncio.timeout(10):  # the backoff's first steps, not its 30 s
            while True:
                if board.coils[1]:
                    break
                await asyncio.sleep(0.05)
        await relays.release("lift1", "lift-a", "cleared on lift-a")
        assert not board.coils[1]
        board_sim.set_fault(7, FaultKind.ERROR_REPLY)  # refused again, then released:
        with pytest.raises(Exception):  # noqa: B017
            await relays.hold("lift1", "lift-a", "another e-bike")
        board_sim.set_fault(7, FaultKind.NONE)
        await relays.release("lift1", "lift-a", "it left")
        assert relays.health()["retrying"] == []
        assert not board.coils[1]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
