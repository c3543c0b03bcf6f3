"""One transport per configured bus, shared by every device on it.

Created lazily by the first driver that asks, kept in `runtime.services["buses"]`,
and closed when the last device on a bus lets go of it (a restarting driver
takes it again), so devices on one line always contend for one lock.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from edge.config.buses import BusConfig, ModbusTcpBusConfig, SerialBusConfig
from edge.fieldbus.modbus import ModbusLink, ModbusRtuLink, ModbusTcpLink
from edge.fieldbus.serial_bus import SerialBus

log = logging.getLogger(__name__)

SERVICE_KEY = "buses"


class BusRegistry:
    def __init__(self, configs: list[BusConfig]) -> None:
        self.configs: dict[str, BusConfig] = {c.id: c for c in configs}
        self._serial: dict[str, SerialBus] = {}
        self._tcp: dict[str, ModbusTcpLink] = {}
        self._users: Counter[str] = Counter()

    def config(self, bus_id: str) -> BusConfig:
        try:
            return self.configs[bus_id]
        except KeyError:
            raise KeyError(f"no bus with id {bus_id!r} (known: {sorted(self.configs)})") from None

    def serial(self, bus_id: str) -> SerialBus:
        cfg = self.config(bus_id)
        if not isinstance(cfg, SerialBusConfig):
            raise TypeError(f"bus {bus_id!r} is {cfg.type}, not a serial line")
        if bus_id not in self._serial:
            self._serial[bus_id] = SerialBus(cfg)
        self._users[bus_id] += 1
        return self._serial[bus_id]

    def modbus(self, bus_id: str) -> ModbusLink:
        cfg = self.config(bus_id)
        if isinstance(cfg, ModbusTcpBusConfig):
            if bus_id not in self._tcp:
                self._tcp[bus_id] = ModbusTcpLink(cfg)
            self._users[bus_id] += 1
            return self._tcp[bus_id]
        return ModbusRtuLink(self.serial(bus_id))

    async def release(self, bus_id: str) -> None:
        """A device stopped using the bus; the last one out closes it."""
        self._users[bus_id] -= 1
        if self._users[bus_id] > 0:
            return
        del self._users[bus_id]
        if (bus := self._serial.pop(bus_id, None)) is not None:
            await bus.close()
        if (link := self._tcp.pop(bus_id, None)) is not None:
            await link.close()

    async def close(self) -> None:
        for bus in self._serial.values():
            await bus.close()
        for link in self._tcp.values():
            await link.close()
        self._serial.clear()
        self._tcp.clear()
        self._users.clear()

    def health(self) -> dict[str, Any]:
        out: dict[str, Any] = {bid: bus.health() for bid, bus in self._serial.items()}
        out.update({bid: link.health() for bid, link in self._tcp.items()})
        return out


def registry_for(runtime: Any) -> BusRegistry:
    """The runtime's bus registry, made (and its health section added) on first use."""
    reg = runtime.services.get(SERVICE_KEY)
    if reg is None:
        reg = BusRegistry(list(runtime.config.buses))
        runtime.services[SERVICE_KEY] = reg
        runtime.add_health("buses", reg.health)
    assert isinstance(reg, BusRegistry)
    return reg
