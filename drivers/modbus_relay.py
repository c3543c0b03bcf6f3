"""Barriers and doors behind a Modbus relay board: pulse a coil, check it took, watch inputs.

A relay board says nothing when a write is lost on a noisy line, so an opening counts only
when the coil reads back as set; the pulse is ended by a second write, retried, because a
barrier left with its open contact held keeps its arm up. Optional inputs tell where the
arm is (its open limit switch) and whether a vehicle is over the loop: a barrier is never
commanded closed while a vehicle is under it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

from pydantic import Field, model_validator

from edge.access.gates import GateError
from edge.config.types import PositiveSeconds
from edge.events import Reading, utcnow
from edge.fieldbus.config import BusDeviceConfig
from edge.fieldbus.errors import BusError
from edge.fieldbus.modbus import ModbusLink
from edge.fieldbus.polling import PolledDevice
from edge.fieldbus.registry import BusRegistry

log = logging.getLogger(__name__)


class ModbusRelayConfig(BusDeviceConfig):
    """A gate driven by one coil of a Modbus relay board."""

    type: Literal["modbus_relay"] = Field(
        title="Type", description="A barrier or door behind a Modbus relay board."
    )
    unit: int = Field(default=1, ge=0, le=247, title="Unit ID", description="The board's address.")
    coil: int = Field(ge=0, le=65535, title="Open coil", description="Coil that opens the gate.")
    close_coil: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        title="Close coil",
        description="Coil that lowers a barrier, when the barrier has a separate close input.",
    )
    pulse_s: PositiveSeconds = Field(
        default=1.0, title="Pulse length", description="How long the open contact is held."
    )
    position_input: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        title="Open-position input",
        description="Discrete input that is on while the arm or door is open.",
    )
    loop_input: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        title="Vehicle-loop input",
        description="Discrete input that is on while a vehicle is over the barrier's loop.",
    )
    open_confirm_s: PositiveSeconds = Field(
        default=5,
        title="Open confirmation time",
        description="With a position input: the arm must read open within this time of the "
        "command, or the opening is reported as failed (a stuck barrier).",
    )
    poll_interval_s: PositiveSeconds = Field(
        default=2, title="Poll interval", description="How often the inputs are read."
    )

    @model_validator(mode="after")
    def _distinct(self) -> ModbusRelayConfig:
        if self.close_coil is not None and self.close_coil == self.coil:
            raise ValueError("close_coil must differ from coil")
        return self


class ModbusRelayGate(PolledDevice):
    """Polls the board's inputs as readings and opens (or holds open) on request."""

    config: ModbusRelayConfig

    def __init__(self, config: ModbusRelayConfig, runtime: Any) -> None:
        super().__init__(config, runtime)
        self.link: ModbusLink | None = None
        self.lock = asyncio.Lock()
        self.held = False
        self.position_open: bool | None = None
        self.vehicle_present: bool | None = None

    async def attach(self, registry: BusRegistry) -> None:
        self.link = registry.modbus(self.config.bus)

    async def poll(self, attempts: int | None) -> list[Reading]:
        ts = utcnow()
        coil = await self._read_coil(attempts)
        out = [Reading(self.id, "relay_on", coil, "", ts)]
        if self.config.position_input is not None:
            self.position_open = await self._read_input(self.config.position_input, attempts)
            out.append(Reading(self.id, "position_open", self.position_open, "", ts))
        if self.config.loop_input is not None:
            self.vehicle_present = await self._read_input(self.config.loop_input, attempts)
            out.append(Reading(self.id, "vehicle_present", self.vehicle_present, "", ts))
        return out

    # --- gate -------------------------------------------------------------------------

    async def open_gate(self, *, reason: str, actor: str) -> dict[str, Any]:
        """Pulse the open coil; GateError when the board does not answer or not take it."""
        loop = asyncio.get_running_loop()
        async with self.lock:
            began = loop.time()
            try:
                await self._set(self.config.coil, True)
                verified = await self._read_coil(None)
                if not verified:
                    raise GateError(f"relay coil {self.config.coil} did not switch on")
                if not self.held:
                    await asyncio.sleep(self.config.pulse_s)
                    await self._release()
                if self.config.position_input is not None:
                    await self._confirm_open(began + self.config.open_confirm_s)
            except BusError as exc:
                await self.rt.devices.failure(self.id, f"{type(exc).__name__}: {exc}")
                raise GateError(f"relay board unit {self.config.unit}: {exc}") from exc
        log.info("gate %s opened by %s: %s", self.id, actor, reason)
        return {"opened": True, "verified": True, "coil": self.config.coil}

    async def hold_open(self, on: bool, *, reason: str, actor: str) -> dict[str, Any]:
        """Fire mode: keep the open contact closed until released."""
        async with self.lock:
            self.held = on
            try:
                if on:
                    await self._set(self.config.coil, True)
                else:
                    await self._release()
            except BusError as exc:
                raise GateError(f"relay board unit {self.config.unit}: {exc}") from exc
        log.warning(
            "gate %s %s by %s: %s", self.id, "held open" if on else "released", actor, reason
        )
        return {"held": on}

    async def close_gate(self, *, reason: str, actor: str) -> dict[str, Any]:
        """Lower a barrier, unless its loop says a vehicle is under it."""
        if self.config.close_coil is None:
            raise GateError("this gate closes by itself (no close coil configured)")
        async with self.lock:
            try:
                if self.config.loop_input is not None:
                    self.vehicle_present = await self._read_input(self.config.loop_input, None)
                    if self.vehicle_present:
                        raise GateError("a vehicle is over the loop: the barrier stays up")
                await self._set(self.config.close_coil, True)
                await asyncio.sleep(self.config.pulse_s)
                await self._set(self.config.close_coil, False)
            except BusError as exc:
                raise GateError(f"relay board unit {self.config.unit}: {exc}") from exc
        log.info("gate %s closed by %s: %s", self.id, actor, reason)
        return {"closed": True}

    def health(self) -> dict[str, Any]:
        return {
            "held_open": self.held,
            "position_open": self.position_open,
            "vehicle_present": self.vehicle_present,
        }

    async def _confirm_open(self, deadline: float) -> None:
        assert self.config.position_input is not None
        loop = asyncio.get_running_loop()
        while True:
            self.position_open = await self._read_input(self.config.position_input, None)
            if self.position_open:
                return
            if loop.time() >= deadline:
                raise GateError(
                    f"the gate did not open: its position input stayed off for "
                    f"{self.config.open_confirm_s:g}s (stuck?)"
                )
            await asyncio.sleep(0.1)

    # --- bus ---------------------------------------------------------------------------

    async def _release(self) -> None:
        """End the pulse; retried, because a contact left closed keeps the gate open."""
        last: BusError | None = None
        for _ in range(3):
            try:
                await self._set(self.config.coil, False)
                return
            except BusError as exc:
                last = exc
        assert last is not None
        log.error("gate %s: could not release coil %d: %s", self.id, self.config.coil, last)
        raise last

    async def _set(self, coil: int, on: bool) -> None:
        assert self.link is not None
        await self.link.write("coils", coil, [on], self.config.unit)

    async def _read_coil(self, attempts: int | None) -> bool:
        assert self.link is not None
        bits = await self.link.read(
            "coils", self.config.coil, 1, self.config.unit, attempts=attempts
        )
        return bool(bits[0])

    async def _read_input(self, address: int, attempts: int | None) -> bool:
        assert self.link is not None
        bits = await self.link.read(
            "discrete_inputs", address, 1, self.config.unit, attempts=attempts
        )
        return bool(bits[0])


CONFIG = ModbusRelayConfig
DRIVER = ModbusRelayGate
