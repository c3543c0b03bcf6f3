"""Finding a gate for a command: refusals a hub operator can act on."""

from __future__ import annotations

from typing import Any

import pytest

from edge.access.gates import GateOpener, find_gate


class Relay:
    """A gate opener as a driver would register it (`device.<id>`)."""

    def __init__(self) -> None:
        self.opened: list[tuple[str, str]] = []

    async def open_gate(self, *, reason: str, actor: str) -> dict[str, Any]:
        self.opened.append((reason, actor))
        return {"opened": True}


class Meter:
    """A device that is not a gate (it has no open_gate)."""

    async def poll(self) -> None:
        return None


async def test_a_registered_gate_is_found_under_either_prefix_and_opens() -> None:
    relay, other = Relay(), Relay()
    services: dict[str, Any] = {"device.gate1": relay, "gate.east": other}
    gate = find_gate(services, "gate1")
    assert gate is relay and isinstance(gate, GateOpener)
    assert await gate.open_gate(reason="visitor", actor="hub:ops") == {"opened": True}
    assert relay.opened == [("visitor", "hub:ops")]
    assert find_gate(services, "east") is other


def test_an_unknown_gate_is_refused_by_name() -> None:
    services: dict[str, Any] = {"device.gate1": Relay()}
    with pytest.raises(LookupError, match=r"no gate 'gate2' on this gateway"):
        find_gate(services, "gate2")
    with pytest.raises(LookupError, match="no gate"):
        find_gate({}, "")


def test_a_device_that_cannot_open_is_not_a_gate() -> None:
    services: dict[str, Any] = {"device.meter1": Meter(), "device.relay": Relay()}
    with pytest.raises(LookupError, match=r"device 'meter1' is not a gate \(it cannot open\)"):
        find_gate(services, "meter1")
