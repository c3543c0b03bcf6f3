"""How a command reaches a gate: any device service with an `open_gate` coroutine.

Gate drivers (UHPPOTE, Modbus relays) come in a later wave; they register as
`runtime.services["device.<id>"]` like every driver and implement
`GateOpener`. Until then a `gate_open` for an unknown gate is refused clearly.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


class GateError(Exception):
    """The gate did not do what it was told (no answer, refused, not verified): the message
    says why, for the decision event and the guard."""


@runtime_checkable
class GateOpener(Protocol):
    async def open_gate(self, *, reason: str, actor: str) -> dict[str, Any]:
        """Pulse the gate open; return what happened (e.g. {"opened": true})."""
        ...


def find_gate(services: dict[str, Any], gate_id: str) -> GateOpener:
    """The service for `gate_id`; LookupError with a message a hub operator can act on."""
    service = services.get(f"device.{gate_id}") or services.get(f"gate.{gate_id}")
    if service is None:
        raise LookupError(f"no gate {gate_id!r} on this gateway")
    if not isinstance(service, GateOpener):
        raise LookupError(f"device {gate_id!r} is not a gate (it cannot open)")
    return service
