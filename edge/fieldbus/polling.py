"""The poll loop every bus driver shares.

Home Assistant's coordinator, on a shared wire: the next poll is scheduled when
the current one ends (never a backlog), first polls are spread over the
interval, a device that stops answering is logged once and retried on its own
backoff, and what a poll yields is stored, published and checked against the
device's thresholds (a flow reactor, `edge.rules.reactors`). Drivers only say how
to attach to the bus and how to poll.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from typing import Any

from edge.codecs.errors import ProtocolError
from edge.events import Reading
from edge.fieldbus.backoff import Backoff, start_offset
from edge.fieldbus.config import BusDeviceConfig
from edge.fieldbus.errors import BusError
from edge.fieldbus.registry import BusRegistry, registry_for
from edge.fieldbus.serial_bus import SerialBus
from edge.rules.thresholds import ThresholdEngine

log = logging.getLogger(__name__)


class PolledDevice(ABC):
    def __init__(self, config: BusDeviceConfig, runtime: Any) -> None:
        self.config = config
        self.rt = runtime
        self.id = config.id
        bus_cfg = next((b for b in runtime.config.buses if b.id == config.bus), None)
        if bus_cfg is None:
            raise KeyError(f"device {config.id}: no bus {config.bus!r}")
        self.backoff = Backoff(bus_cfg.backoff_initial_s, bus_cfg.backoff_max_s)
        self.rules = ThresholdEngine(
            config.id, config.thresholds, runtime.store, label=config.name or config.id
        )
        runtime.thresholds.add(self.rules)
        self.polls = 0
        self.failures = 0

    @abstractmethod
    async def attach(self, registry: BusRegistry) -> None:
        """Take this device's transport from the registry."""

    @abstractmethod
    async def poll(self, attempts: int | None) -> list[Reading]:
        """One poll; `attempts` is 1 while the device is down (no retries), else None."""

    async def run(self) -> None:
        registry = registry_for(self.rt)
        await self.attach(registry)
        try:
            await asyncio.sleep(start_offset(self.id, self.config.poll_interval_s))
            while True:
                await self.poll_once()
                await asyncio.sleep(self.backoff.delay(self.config.poll_interval_s))
        finally:
            await registry.release(self.config.bus)

    async def poll_once(self) -> bool:
        self.polls += 1
        try:
            readings = await self.poll(1 if self.backoff.down else None)
        except (BusError, ProtocolError) as exc:
            self.failures += 1
            self.backoff.failed()
            await self.rt.devices.failure(self.id, f"{type(exc).__name__}: {exc}")
            return False
        self.backoff.succeeded()
        await self.rt.devices.success(self.id, bus=self.config.bus)
        await self.publish(readings)
        return True

    async def publish(self, readings: list[Reading]) -> None:
        """Hand the poll to the flow: committed, then the thresholds reactor evaluates it."""
        await self.rt.flow.emit_readings(self.id, readings)


class SerialDevice(PolledDevice):
    """A device on an RS-485 line, sharing the line's `SerialBus` with the others on it."""

    def __init__(self, config: BusDeviceConfig, runtime: Any) -> None:
        super().__init__(config, runtime)
        self.bus: SerialBus | None = None

    async def attach(self, registry: BusRegistry) -> None:
        self.bus = registry.serial(self.config.bus)
