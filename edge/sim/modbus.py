"""Simulated Modbus sensors on pymodbus's own server, for the tests, the demo and the bench.

Each unit follows a profile from edge/fieldbus/builtin_profiles/ and serves its register map
with values that move: a slow swing plus noise, and now and then an excursion
(water rising in a garage, smoke, a gas leak) that crosses the profile's
threshold and falls back, so the demo shows alarms raised and cleared.

Faults are injected per unit at run time, at the point a real device would
produce them: `silent` and `garbled`/`bad_checksum` act on the bytes leaving the
server (pymodbus's `trace_packet` hook), `late` and `error_reply` in the
register access hook (`SimDevice.action`), so the server's own framing and
transaction handling stay real.

The server speaks Modbus TCP, or RTU framing over TCP (what a transparent
RS-485 converter gives a `socket://` client).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import math
import random
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerType
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from edge.fieldbus.profiles import Profile, load_profile
from edge.fieldbus.registers import BIT_FUNCTIONS, FUNCTION_CODES, RegisterPoint, encode_point

log = logging.getLogger(__name__)
logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

BLOCK_INDEX = {"coils": 0, "discrete_inputs": 1, "holding_registers": 2, "input_registers": 3}
CODE_TO_FUNCTION = {code: name for name, code in FUNCTION_CODES.items()}


class FaultKind(StrEnum):
    NONE = "none"
    SILENT = "silent"
    LATE = "late"
    GARBLED = "garbled"
    BAD_CHECKSUM = "bad_checksum"
    ERROR_REPLY = "error_reply"


@dataclass
class Fault:
    kind: FaultKind = FaultKind.NONE
    delay_s: float = 1.0
    exception_code: int = int(ExcCodes.DEVICE_FAILURE)


@dataclass
class SensorSpec:
    unit: int
    profile: str
    simulate: dict[str, dict[str, Any]] = field(default_factory=dict)  # per-point overrides
    fault: Fault = field(default_factory=Fault)


class PointModel:
    """base + amplitude·sin(2πt/period) + noise, with periodic excursions to `peak`.

    An excursion every `every_s` seconds ramps up over a fifth of `duration_s`,
    holds, and ramps down over the last fifth, like a real event rather than a step.
    """

    def __init__(self, params: dict[str, Any], rng: random.Random, phase: float) -> None:
        self.p = params
        self.rng = rng
        self.phase = phase

    def value(self, t: float) -> float:
        p = self.p
        v = float(p.get("base", 0.0))
        period = float(p.get("period_s", 0) or 0)
        if period:
            v += float(p.get("amplitude", 0.0)) * math.sin(2 * math.pi * (t + self.phase) / period)
        noise = float(p.get("noise", 0.0))
        if noise:
            v += self.rng.uniform(-noise, noise)
        exc = p.get("excursion")
        if exc:
            every = float(exc["every_s"])
            dur = float(exc["duration_s"])
            into = (t + self.phase) % every
            if into < dur:
                ramp = max(dur / 5, 1e-6)
                level = min(into / ramp, (dur - into) / ramp, 1.0)
                v += (float(exc["peak"]) - v) * level
        return v


class SimSensor:
    def __init__(self, spec: SensorSpec, profile: Profile, seed: int) -> None:
        self.spec = spec
        self.profile = profile
        rng = random.Random(seed)
        params = {**profile.simulate}
        for name, over in spec.simulate.items():
            params[name] = {**params.get(name, {}), **over}
        self.params = params
        self.models = {
            name: PointModel(p, random.Random(rng.random()), rng.uniform(0, 5))
            for name, p in params.items()
            if "mirror" not in p
        }
        self.forced: dict[str, float | bool] = {}
        self.reads = 0

    def values(self, t: float) -> dict[str, float | bool]:
        out: dict[str, float | bool] = {}
        for point in self.profile.registers:
            if point.name in self.forced:
                out[point.name] = self.forced[point.name]
                continue
            p = self.params.get(point.name, {})
            if "mirror" in p:
                continue
            model = self.models.get(point.name)
            v = model.value(t) if model else 0.0
            out[point.name] = v > 0.5 if point.type == "bool" else v
        for point in self.profile.registers:
            p = self.params.get(point.name, {})
            if "mirror" in p and point.name not in out:
                src = out.get(str(p["mirror"]), 0.0)
                out[point.name] = float(src) * float(p.get("factor", 1.0))
        return out

    def blocks(self) -> tuple[list[SimData], list[SimData], list[SimData], list[SimData]]:
        sizes = [16, 16, 1, 1]
        for point in self.profile.registers:
            i = BLOCK_INDEX[point.function]
            sizes[i] = max(sizes[i], point.address + point.width)
        bits = [math.ceil(s / 16) * 16 for s in sizes[:2]]
        return (
            [SimData(0, count=bits[0], values=False, datatype=DataType.BITS)],
            [SimData(0, count=bits[1], values=False, datatype=DataType.BITS)],
            [SimData(0, count=sizes[2], values=0, datatype=DataType.REGISTERS)],
            [SimData(0, count=sizes[3], values=0, datatype=DataType.REGISTERS)],
        )

    def serve(
        self,
        function_code: int,
        start: int,
        address: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
        t: float,
    ) -> None:
        """A read refreshes the registers from the model; writes are pymodbus's to keep."""
        function = CODE_TO_FUNCTION.get(function_code)
        if function and set_values is None:
            self.fill(function, start, registers, t)

    def fill(self, function: str, start: int, registers: list[int], t: float) -> None:
        """Write current values of `function`'s points into pymodbus's register list."""
        values = self.values(t)
        for point in self.profile.registers:
            if point.function != function or point.name not in values:
                continue
            encoded = encode_point(point, values[point.name])
            if function in BIT_FUNCTIONS:
                _set_bit(registers, point.address - start * 16, bool(encoded[0]))
            else:
                at = point.address - start
                registers[at : at + len(encoded)] = [int(w) for w in encoded]


@dataclass
class RelaySpec:
    """A Modbus relay board driving barriers or doors: coil i pulses relay i; discrete input i
    says barrier i is open (it follows its relay unless stuck), input `relays + i` is the
    vehicle loop under barrier i."""

    unit: int
    relays: int = 4
    auto_close_s: float = 2.0
    """A barrier arm stays up this long after its open contact is released."""
    fault: Fault = field(default_factory=Fault)


class SimRelayBoard:
    def __init__(self, spec: RelaySpec, clock: Callable[[], float]) -> None:
        self.spec = spec
        self.clock = clock
        self.coils = [False] * spec.relays
        self.stuck: set[int] = set()
        self.vehicle: set[int] = set()
        self.writes: list[tuple[float, int, bool]] = []
        self.released_at: dict[int, float] = {}
        self.reads = 0

    def position_open(self, relay: int) -> bool:
        if relay in self.stuck:
            return False
        released = self.released_at.get(relay)
        recent = released is not None and self.clock() - released < self.spec.auto_close_s
        return self.coils[relay] or recent

    def pulses(self, relay: int) -> int:
        """Completed on-then-off cycles of a relay."""
        states = [on for _t, r, on in self.writes if r == relay]
        return sum(1 for a, b in itertools.pairwise(states) if a and not b)

    def blocks(self) -> tuple[list[SimData], list[SimData], list[SimData], list[SimData]]:
        bits = math.ceil(2 * self.spec.relays / 16) * 16
        return (
            [SimData(0, count=bits, values=False, datatype=DataType.BITS)],
            [SimData(0, count=bits, values=False, datatype=DataType.BITS)],
            [SimData(0, count=1, values=0, datatype=DataType.REGISTERS)],
            [SimData(0, count=1, values=0, datatype=DataType.REGISTERS)],
        )

    def serve(
        self,
        function_code: int,
        start: int,
        address: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
        t: float,
    ) -> None:
        """Coil writes move the relays; discrete-input reads report arm and loop."""
        if set_values is not None and function_code in (5, 15):
            self.written(address, [bool(v) for v in set_values])
        elif function_code == 2:
            self.fill_inputs(start, registers)

    def written(self, address: int, values: list[bool]) -> None:
        for i, on in enumerate(values):
            relay = address + i
            if relay < self.spec.relays:
                if self.coils[relay] and not on:
                    self.released_at[relay] = self.clock()
                self.coils[relay] = bool(on)
                self.writes.append((self.clock(), relay, bool(on)))

    def fill_inputs(self, start: int, registers: list[int]) -> None:
        n = self.spec.relays
        for relay in range(n):
            _set_bit(registers, relay - start * 16, self.position_open(relay))
            _set_bit(registers, n + relay - start * 16, relay in self.vehicle)


def _set_bit(registers: list[int], bit: int, on: bool) -> None:
    word, pos = divmod(bit, 16)
    if on:
        registers[word] |= 1 << pos
    else:
        registers[word] &= ~(1 << pos) & 0xFFFF


class ModbusSimulator:
    """Sensors behind one pymodbus server. Use as ``async with ModbusSimulator(specs)``."""

    def __init__(
        self,
        sensors: list[SensorSpec],
        *,
        relays: list[RelaySpec] | None = None,
        seed: int = 0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        relays = relays or []
        units = [s.unit for s in sensors] + [r.unit for r in relays]
        if len(set(units)) != len(units):
            raise ValueError("unit IDs must be unique")
        self.sensors = {
            s.unit: SimSensor(s, load_profile(s.profile), seed + s.unit) for s in sensors
        }
        self.clock = clock or time.monotonic
        self.relays = {r.unit: SimRelayBoard(r, self.clock) for r in relays}
        self._t0 = self.clock()
        self._rng = random.Random(seed)
        self._servers: list[ModbusTcpServer] = []
        self.faults_applied = 0

    async def __aenter__(self) -> ModbusSimulator:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def sim_time(self) -> float:
        return self.clock() - self._t0

    def set_fault(
        self, unit: int, kind: FaultKind | str = FaultKind.NONE, *, delay_s: float | None = None
    ) -> None:
        fault = self._unit(unit).spec.fault
        fault.kind = FaultKind(kind)
        if delay_s is not None:
            fault.delay_s = delay_s

    def force(self, unit: int, point: str, value: float | bool | None) -> None:
        """Pin a point to a value (None: back to the model), e.g. to cross a threshold."""
        sensor = self.sensors[unit]
        if value is None:
            sensor.forced.pop(point, None)
        else:
            sensor.forced[point] = value

    def reads(self, unit: int) -> int:
        return self._unit(unit).reads

    def relay(self, unit: int) -> SimRelayBoard:
        return self.relays[unit]

    def _unit(self, unit: int) -> SimSensor | SimRelayBoard:
        return self.sensors.get(unit) or self.relays[unit]

    def _device(self, unit: SimSensor | SimRelayBoard) -> SimDevice:
        """pymodbus's register hook: faults first (as a real device fails), then the unit."""

        async def action(
            function_code: int,
            start_address: int,
            address: int,
            count: int,
            registers: list[int],
            set_values: list[int] | list[bool] | None,
        ) -> ExcCodes | None:
            unit.reads += 1
            fault = unit.spec.fault
            if fault.kind is FaultKind.ERROR_REPLY:
                return ExcCodes(fault.exception_code)
            if fault.kind is FaultKind.LATE:
                await asyncio.sleep(fault.delay_s)
            unit.serve(
                function_code, start_address, address, registers, set_values, self.sim_time()
            )
            return None

        return SimDevice(id=unit.spec.unit, simdata=unit.blocks(), action=action)

    def _outgoing(self, framer: FramerType) -> Callable[[bool, bytes], bytes]:
        def trace(sending: bool, data: bytes) -> bytes:
            if not sending or not data:
                return data
            unit = data[0] if framer is FramerType.RTU else (data[6] if len(data) > 6 else -1)
            sensor = self.sensors.get(unit) or self.relays.get(unit)
            if sensor is None:
                # Nobody at that address: silence on a line; a TCP gateway says so (0x0B).
                if framer is FramerType.RTU:
                    return b""
                if len(data) >= 9 and data[7] & 0x80:
                    return data[:8] + bytes([ExcCodes.GATEWAY_NO_RESPONSE])
                return data
            kind = sensor.spec.fault.kind
            if kind is FaultKind.SILENT:
                self.faults_applied += 1
                return b""
            if kind is FaultKind.GARBLED:
                self.faults_applied += 1
                return bytes(self._rng.randrange(256) for _ in data)
            if kind is FaultKind.BAD_CHECKSUM:
                self.faults_applied += 1
                if framer is FramerType.RTU:
                    return data[:-1] + bytes([data[-1] ^ 0x5A])
                return data[:4] + b"\xff\xff" + data[6:]  # MBAP length no longer adds up
            return data

        return trace

    async def start_tcp(
        self, host: str = "127.0.0.1", port: int = 0, *, rtu: bool = False
    ) -> tuple[str, int]:
        """Listen for Modbus TCP (or RTU frames over TCP with `rtu=True`)."""
        framer = FramerType.RTU if rtu else FramerType.SOCKET
        devices = [self._device(s) for s in self.sensors.values()]
        devices += [self._device(r) for r in self.relays.values()]
        server = ModbusTcpServer(
            devices,
            address=(host, port),
            framer=framer,
            ignore_missing_devices=True,
            trace_packet=self._outgoing(framer),
        )
        await server.serve_forever(background=True)
        self._servers.append(server)
        transport: Any = server.transport  # an asyncio.Server once listening
        name = transport.sockets[0].getsockname()
        return str(name[0]), int(name[1])

    async def close(self) -> None:
        for server in self._servers:
            with contextlib.suppress(Exception):
                await server.shutdown()
        self._servers.clear()


def demo_sensors() -> list[SensorSpec]:
    """The sensors `config/demo.yaml` polls: one of each profile; the water level floods."""
    return [
        SensorSpec(1, "smoke_detector"),
        SensorSpec(
            2,
            "water_level",
            {"level": {"excursion": {"every_s": 60, "peak": 0.45, "duration_s": 25}}},
        ),
        SensorSpec(3, "combustible_gas"),
        SensorSpec(4, "temp_humidity"),
    ]


async def _run(args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with ModbusSimulator(demo_sensors()) as sim:
        host, port = await sim.start_tcp(args.host, args.port, rtu=args.rtu)
        print(f"{'rtu-over-tcp' if args.rtu else 'tcp'} {host}:{port}", flush=True)
        for unit, sensor in sim.sensors.items():
            print(f"unit {unit} {sensor.spec.profile}", flush=True)
        await stop.wait()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m edge.sim.modbus", description="Simulated Modbus sensors (demo set)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--rtu", action="store_true", help="RTU framing over TCP")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    return asyncio.run(_run(args))


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = [
    "Fault",
    "FaultKind",
    "ModbusSimulator",
    "RegisterPoint",
    "RelaySpec",
    "SensorSpec",
    "demo_sensors",
]
