"""A simulated RS-485 meter bus: DL/T 645-2007/1997 and CJ/T 188 meters behind TCP or a pty.

Used by the tests, the demo and the benchmarks as a real peer for the field-bus code. It behaves
like a half-duplex bus, not like a server:

* a meter answers only frames addressed to it, in its own protocol (a 2007 meter ignores 1997
  frames); ``AA`` wildcard bytes match any address; ``99…99`` broadcasts are never answered;
* a wildcard request that matches several meters (e.g. read-address with two meters on the bus)
  makes them all talk at once: the simulator sends the bitwise AND of their replies, as a
  collision on a real line gives the master a frame whose checksum fails;
* faults are injected per meter at run time (``silent``, ``late``, ``garbled``, ``bad_checksum``,
  ``error_reply``);
* with ``baud`` set, every transaction takes the time its bytes need on the wire (11 bits per
  byte for 8E1) plus ``turnaround_s``, so benchmarks see realistic polling rates.

Values drift the way real meters do: energy and volume only ever increase (integrating a load
that swings ±30 % around its mean), voltages and frequency wobble around nominal, the meter
clock follows the gateway clock plus a configurable skew.

CLI: ``python -m edge.sim.meters --tcp 127.0.0.1:0 --pty --meters spec.yaml`` prints
``tcp HOST:PORT`` and ``pty /dev/pts/N`` lines once it is listening, then runs until signalled.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import math
import os
import random
import signal
import sys
import termios
import time
import tty
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from edge.codecs import cjt188, dlt645
from edge.codecs.cjt188 import DiOrder, Quantity, Status, Valve
from edge.codecs.dlt645 import ErrorFlag, Version
from edge.codecs.errors import ProtocolError

log = logging.getLogger(__name__)

BITS_PER_BYTE = 11  # start + 8 data + even parity + stop
MAX_RX_BUFFER = 4096  # per link; oldest bytes dropped beyond this (counted in stats)
MAX_LATE_REPLIES = 64  # per link; further late replies are dropped (counted in stats)


class Protocol(StrEnum):
    DLT645_2007 = "dlt645-2007"
    DLT645_1997 = "dlt645-1997"
    CJT188 = "cjt188"


class FaultKind(StrEnum):
    NONE = "none"
    SILENT = "silent"  # never answers
    LATE = "late"  # answers after delay_s (without holding up the rest of the bus)
    GARBLED = "garbled"  # random bytes, as long as the real reply
    BAD_CHECKSUM = "bad_checksum"  # the real reply with CS off by one
    ERROR_REPLY = "error_reply"  # abnormal reply: DL/T 645 error byte / CJ/T 188 ST = error_bits


@dataclass(frozen=True, slots=True)
class Fault:
    kind: FaultKind = FaultKind.NONE
    delay_s: float = 1.0
    error_bits: int = int(ErrorFlag.NO_DATA)

    @classmethod
    def from_value(cls, value: Fault | str | Mapping[str, Any] | None) -> Fault:
        if value is None:
            return cls()
        if isinstance(value, Fault):
            return value
        if isinstance(value, str):
            return cls(FaultKind(value))
        extra = set(value) - {"kind", "delay_s", "error_bits"}
        if extra:
            raise ValueError(f"unknown fault keys: {sorted(extra)}")
        return cls(
            FaultKind(value.get("kind", "none")),
            float(value.get("delay_s", 1.0)),
            int(value.get("error_bits", int(ErrorFlag.NO_DATA))),
        )


@dataclass(slots=True)
class MeterSpec:
    """One meter on the simulated bus; the defaults make a plausible household meter."""

    address: str
    protocol: Protocol = Protocol.DLT645_2007
    # Electricity (DL/T 645)
    energy_kwh: float = 1000.0  # forward active energy at start
    reverse_kwh: float = 0.0
    power_kw: float = 1.5  # mean load; swings ±30 % with a 10 min period
    voltage_v: float = 220.0
    frequency_hz: float = 50.0
    power_factor: float = 0.95
    max_data_len: int = dlt645.MAX_DATA_LEN  # longer answers go out as follow-on frames
    echo_wildcard: bool = False  # some 1997 meters answer a wildcard with the wildcard
    # CJ/T 188
    meter_type: int = cjt188.MeterType.COLD_WATER
    di_order: DiOrder | None = None  # None: answer in the order the request used
    flow_total_m3: float = 100.0
    flow_rate_m3h: float = 0.5
    heat_kwh: float = 5000.0  # heat meters
    heat_power_kw: float = 4.0
    supply_temp_c: float = 60.0
    return_temp_c: float = 45.0
    valve: Valve = Valve.OPEN
    battery_low: bool = False
    # Both
    clock_offset_s: float = 0.0  # meter clock minus gateway clock
    fault: Fault = field(default_factory=Fault)

    def __post_init__(self) -> None:
        self.protocol = Protocol(self.protocol)
        self.valve = Valve(self.valve)
        if self.di_order is not None:
            self.di_order = DiOrder(self.di_order)
        self.fault = Fault.from_value(self.fault)
        if self.protocol is Protocol.CJT188:
            self.address = cjt188.normalize_address(self.address)
        else:
            self.address = dlt645.normalize_address(self.address)
        if any(self.address[i : i + 2] == "AA" for i in range(0, len(self.address), 2)):
            raise ValueError(f"a meter's own address cannot contain wildcards: {self.address}")

    @property
    def version(self) -> Version | None:
        return {Protocol.DLT645_2007: Version.V2007, Protocol.DLT645_1997: Version.V1997}.get(
            self.protocol
        )


@dataclass(slots=True)
class SimConfig:
    meters: list[MeterSpec]
    baud: int | None = None  # emulate wire time at this rate; None = as fast as the transport
    turnaround_s: float = 0.0  # meter processing time before it answers
    time_scale: float = 1.0  # simulated seconds per real second, to see drift quickly
    seed: int = 0

    def __post_init__(self) -> None:
        addresses = [m.address for m in self.meters]
        if len(set(addresses)) != len(addresses):
            raise ValueError("meter addresses must be unique")
        if self.baud is not None and self.baud <= 0:
            raise ValueError("baud must be positive")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SimConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        extra = set(data) - known
        if extra:
            raise ValueError(f"unknown simulator keys: {sorted(extra)}")
        meter_keys = {f.name for f in dataclasses.fields(MeterSpec)}
        meters = []
        for k, item in enumerate(data.get("meters") or []):
            bad = set(item) - meter_keys
            if bad:
                raise ValueError(f"meters[{k}]: unknown keys {sorted(bad)}")
            meters.append(MeterSpec(**item))
        rest = {k: v for k, v in data.items() if k != "meters"}
        return cls(meters=meters, **rest)

    @classmethod
    def load(cls, path: str | Path) -> SimConfig:
        return cls.from_dict(yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {})


def demo_config() -> SimConfig:
    """One meter of each kind: what the demo and ``--meters`` omitted start with."""
    return SimConfig(
        meters=[
            MeterSpec("000000000161", Protocol.DLT645_2007, energy_kwh=1234.56),
            MeterSpec("000000060507", Protocol.DLT645_1997, energy_kwh=93.64, power_kw=0.8),
            MeterSpec("00201809230001", Protocol.CJT188, flow_total_m3=0.6),
            MeterSpec(
                "11110012345678",
                Protocol.CJT188,
                meter_type=cjt188.MeterType.HEAT,
                di_order=DiOrder.LOW_FIRST,
            ),
        ]
    )


# --------------------------------------------------------------------------------------------
# Meter models


_SWING = 0.3
_PERIOD_S = 600.0


def _integral(mean_per_h: float, t: float) -> float:
    """∫ mean·(1 + 0.3·sin(2πs/600)) ds over [0, t] seconds, in units·h: never decreasing."""
    w = 2 * math.pi / _PERIOD_S
    return mean_per_h * (t + _SWING / w * (1 - math.cos(w * t))) / 3600


def _swing(mean: float, t: float) -> float:
    return mean * (1 + _SWING * math.sin(2 * math.pi * t / _PERIOD_S))


class SimMeter:
    """One meter's state and answers; faults are applied by the bus."""

    def __init__(self, spec: MeterSpec, rng: random.Random) -> None:
        self.spec = spec
        self.rng = rng
        self.reads = 0
        self._follow: dict[int, tuple[list[bytes], int]] = {}  # di -> (chunks left, next seq)

    @property
    def address(self) -> str:
        return self.spec.address

    def meter_time(self) -> dt.datetime:
        """The meter's clock: the gateway's wall clock plus the configured skew."""
        wall = dt.datetime.now() + dt.timedelta(seconds=self.spec.clock_offset_s)
        return wall.replace(microsecond=0)

    # --- electricity -------------------------------------------------------------------------

    def electric_points(self, t: float) -> dict[str, float | str | None]:
        s = self.spec
        forward = (s.energy_kwh + _integral(s.power_kw, t)) % 1_000_000
        reverse = s.reverse_kwh % 1_000_000
        points: dict[str, float | str | None] = {}
        for name, total in (
            ("energy_active_forward", forward),
            ("energy_active_reverse", reverse),
            ("energy_active_combined", (forward + reverse) % 800_000),
        ):
            rates = [round(total * f, 2) for f in (0.1, 0.4, 0.3)]
            rates.append(round(total - sum(rates), 2))
            points[f"{name}_total"] = round(total, 2)
            for k, value in enumerate(rates, start=1):
                points[f"{name}_rate{k}"] = max(value, 0.0)
        power = _swing(s.power_kw, t)
        pf = max(min(s.power_factor, 1.0), 0.001)
        share = {"a": 0.4, "b": 0.35, "c": 0.25}
        points["power_active_total"] = power
        points["power_reactive_total"] = power * math.tan(math.acos(pf))
        points["power_apparent_total"] = power / pf
        points["power_factor_total"] = pf
        points["frequency"] = s.frequency_hz + 0.02 * math.sin(t / 37.0)
        for k, (phase, part) in enumerate(share.items()):
            volts = s.voltage_v * (1 + 0.01 * math.sin(t / 53.0 + k)) + self.rng.uniform(-0.2, 0.2)
            points[f"voltage_{phase}"] = volts
            points[f"current_{phase}"] = power * part * 1000 / (volts * pf)
            points[f"power_active_{phase}"] = power * part
            points[f"power_reactive_{phase}"] = power * part * math.tan(math.acos(pf))
            points[f"power_apparent_{phase}"] = power * part / pf
            points[f"power_factor_{phase}"] = pf
        when = self.meter_time()
        points["date"] = when.date().isoformat()
        points["time"] = when.strftime("%H:%M:%S")
        points["comm_address"] = s.address
        points["meter_number"] = s.address
        return points

    def dlt_payload(self, entry: dlt645.DataId, t: float) -> bytes:
        points = self.electric_points(t)
        count = len(entry.points) if entry.points else (5 if entry.rates else 1)
        values = [points.get(p) for p in entry.element_points(count)]
        return dlt645.encode_data(entry.di, values, entry.version)

    def answer_dlt(self, frame: dlt645.Frame, t: float) -> bytes | None:
        version = self.spec.version
        assert version is not None
        request = dlt645.decode_request(frame)
        reply_addr = self.address
        if self.spec.echo_wildcard and frame.address != self.address:
            reply_addr = frame.address
        fn = request.function
        if fn == dlt645.READ_ADDRESS_2007:
            return dlt645.build_address_reply(self.address, preamble=4)
        if fn == version.read_function and request.di is not None:
            self.reads += 1
            entry = dlt645.lookup(request.di, version)
            if entry is None:
                return dlt645.build_error_reply(reply_addr, ErrorFlag.NO_DATA, version, preamble=4)
            data = dlt645.DataReply(reply_addr, version, request.di, self.dlt_payload(entry, t))
            return self._maybe_split(data)
        if fn == version.follow_function and request.di is not None:
            return self._follow_on(reply_addr, version, request.di)
        return dlt645.build_error_reply(
            reply_addr, ErrorFlag.OTHER, version, function=fn, preamble=4
        )

    def _maybe_split(self, reply: dlt645.DataReply) -> bytes:
        room = max(self.spec.max_data_len - reply.version.di_len - 1, 1)
        payload = reply.payload
        if len(payload) + reply.version.di_len <= self.spec.max_data_len:
            self._follow.pop(reply.di, None)
            return dlt645.build_data_reply(
                reply.address, reply.di, payload, reply.version, preamble=4
            )
        chunks = [payload[k : k + room] for k in range(0, len(payload), room)]
        self._follow[reply.di] = (chunks[1:], 1)
        return dlt645.build_data_reply(
            reply.address, reply.di, chunks[0], reply.version, more=True, preamble=4
        )

    def _follow_on(self, address: str, version: Version, di: int) -> bytes:
        left, seq = self._follow.get(di, ([], 0))
        if not left:
            return dlt645.build_error_reply(
                address, ErrorFlag.NO_DATA, version, function=version.follow_function, preamble=4
            )
        chunk, rest = left[0], left[1:]
        if rest:
            self._follow[di] = (rest, seq + 1)
        else:
            self._follow.pop(di, None)
        return dlt645.build_data_reply(
            address, di, chunk, version, follow=True, more=bool(rest), seq=seq, preamble=4
        )

    def dlt_error(self, frame: dlt645.Frame, bits: int) -> bytes:
        version = self.spec.version or Version.V2007
        return dlt645.build_error_reply(
            self.address, bits, version, function=frame.function, preamble=4
        )

    # --- water / heat / gas --------------------------------------------------------------------

    def metering(self, t: float) -> cjt188.MeteringData:
        s = self.spec
        status = Status.make(s.valve, s.battery_low)
        when = self.meter_time()
        total = round((s.flow_total_m3 + _integral(s.flow_rate_m3h, t)) % 1_000_000, 2)
        if cjt188.meter_family(s.meter_type) != "heat":
            return cjt188.WaterData(
                current=Quantity(total, cjt188.UNIT_CODES["m3"]),
                settlement=Quantity(round(s.flow_total_m3, 2), cjt188.UNIT_CODES["m3"]),
                time=when,
                status=status,
            )
        heat = round((s.heat_kwh + _integral(s.heat_power_kw, t)) % 1_000_000, 2)
        return cjt188.HeatData(
            settlement_heat=Quantity(round(s.heat_kwh, 2), cjt188.UNIT_CODES["kWh"]),
            current_heat=Quantity(heat, cjt188.UNIT_CODES["kWh"]),
            heat_power=Quantity(round(_swing(s.heat_power_kw, t), 2), cjt188.UNIT_CODES["kW"]),
            flow_rate=Quantity(round(_swing(s.flow_rate_m3h, t), 4), cjt188.UNIT_CODES["m3/h"]),
            total_flow=Quantity(total, cjt188.UNIT_CODES["m3"]),
            supply_temp=round(s.supply_temp_c + 0.5 * math.sin(t / 41.0), 2),
            return_temp=round(s.return_temp_c + 0.5 * math.sin(t / 43.0), 2),
            working_hours=int(t // 3600),
            time=when,
            status=status,
        )

    def answer_cjt(self, frame: cjt188.Frame, t: float) -> bytes | None:
        request = cjt188.decode_request(frame)
        order = self.spec.di_order or request.di_order
        s = self.spec
        if request.function == cjt188.READ_ADDRESS and request.di == cjt188.DI_ADDRESS:
            return cjt188.build_address_reply(
                s.meter_type, s.address, request.ser, di_order=order, preamble=2
            )
        if request.function == cjt188.READ_DATA and request.di == cjt188.DI_METERING:
            self.reads += 1
            return cjt188.build_metering_reply(
                s.meter_type, s.address, self.metering(t), request.ser, di_order=order, preamble=2
            )
        return self.cjt_error(frame, Status.make(s.valve, s.battery_low).raw | 0x0100)

    def cjt_error(self, frame: cjt188.Frame, status: int) -> bytes:
        ser = frame.data[2] if len(frame.data) >= 3 else 0
        s = self.spec
        return cjt188.build_error_reply(
            s.meter_type, s.address, ser, status, function=frame.function, preamble=2
        )


# --------------------------------------------------------------------------------------------
# The bus


@dataclass(frozen=True, slots=True)
class Transmission:
    data: bytes
    delay_s: float = 0.0  # extra delay before sending (the ``late`` fault)


@dataclass(slots=True)
class BusStats:
    requests: int = 0
    answered: int = 0
    unaddressed: int = 0  # requests no meter answered (wrong address, silent, broadcast)
    collisions: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    dropped_rx_bytes: int = 0
    dropped_late_replies: int = 0


Frame = dlt645.Frame | cjt188.Frame


class MeterBus:
    """Decides who answers a request and how; knows nothing of transports."""

    def __init__(self, config: SimConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.clock = clock
        self._t0 = clock()
        rng = random.Random(config.seed)
        self.meters: dict[str, SimMeter] = {
            m.address: SimMeter(m, random.Random(rng.random())) for m in config.meters
        }
        self._rng = random.Random(config.seed + 1)
        self.stats = BusStats()

    def sim_time(self) -> float:
        return (self.clock() - self._t0) * self.config.time_scale

    def set_fault(
        self,
        address: str,
        kind: FaultKind | str = FaultKind.NONE,
        *,
        delay_s: float | None = None,
        error_bits: int | None = None,
    ) -> None:
        meter = self.meters[address]
        current = meter.spec.fault
        meter.spec.fault = Fault(
            FaultKind(kind),
            current.delay_s if delay_s is None else delay_s,
            current.error_bits if error_bits is None else error_bits,
        )

    def _addressed(self, frame: Frame) -> list[SimMeter]:
        if isinstance(frame, dlt645.Frame):
            if frame.address == dlt645.BROADCAST_ADDRESS or frame.is_reply:
                return []
            return [
                m
                for m in self.meters.values()
                if m.spec.version is not None
                and (frame.version is m.spec.version)
                and dlt645.address_matches(frame.address, m.address)
            ]
        if frame.is_reply:
            return []
        return [
            m
            for m in self.meters.values()
            if m.spec.protocol is Protocol.CJT188
            and frame.meter_type in (m.spec.meter_type, cjt188.MeterType.WILDCARD)
            and cjt188.address_matches(frame.address, m.address)
        ]

    def respond(self, frame: Frame) -> list[Transmission]:
        """What goes back on the wire for one request (nothing, one reply, or a collision)."""
        self.stats.requests += 1
        t = self.sim_time()
        replies: list[Transmission] = []
        for meter in self._addressed(frame):
            try:
                tx = self._answer(meter, frame, t)
            except (ProtocolError, ValueError) as exc:  # malformed request: meters ignore
                log.debug("meter %s ignores %r: %s", meter.address, frame, exc)
                tx = None
            if tx is not None:
                replies.append(tx)
        if not replies:
            self.stats.unaddressed += 1
            return []
        self.stats.answered += 1
        if len(replies) == 1:
            return replies
        self.stats.collisions += 1
        return [_collide(replies)]

    def _answer(self, meter: SimMeter, frame: Frame, t: float) -> Transmission | None:
        fault = meter.spec.fault
        if fault.kind is not FaultKind.NONE:
            self.stats.faults[fault.kind.value] += 1
        if fault.kind is FaultKind.SILENT:
            return None
        if fault.kind is FaultKind.ERROR_REPLY:
            if isinstance(frame, dlt645.Frame):
                return Transmission(meter.dlt_error(frame, fault.error_bits))
            return Transmission(meter.cjt_error(frame, fault.error_bits))
        if isinstance(frame, dlt645.Frame):
            reply = meter.answer_dlt(frame, t)
        else:
            reply = meter.answer_cjt(frame, t)
        if reply is None:
            return None
        if fault.kind is FaultKind.GARBLED:
            reply = bytes(self._rng.randrange(256) for _ in reply)
        elif fault.kind is FaultKind.BAD_CHECKSUM:
            reply = reply[:-2] + bytes([(reply[-2] + 1) & 0xFF]) + reply[-1:]
        delay = fault.delay_s if fault.kind is FaultKind.LATE else 0.0
        return Transmission(reply, delay)

    def wire_time(self, nbytes: int) -> float:
        baud = self.config.baud
        return nbytes * BITS_PER_BYTE / baud if baud else 0.0


def _collide(replies: Iterable[Transmission]) -> Transmission:
    """Several drivers on one pair: model the garbage as the bitwise AND of what they sent."""
    items = list(replies)
    size = max(len(t.data) for t in items)
    out = bytearray(b"\xff" * size)
    for tx in items:
        for k, b in enumerate(tx.data):
            out[k] &= b
    return Transmission(bytes(out), max(t.delay_s for t in items))


def next_request(buf: bytes) -> tuple[Frame | None, int, int]:
    """(frame, consumed, wire length) of the first DL/T 645 or CJ/T 188 frame in ``buf``."""
    d_frame, d_start, d_used, _ = dlt645.LAYOUT.scan_span(buf)
    c_frame, c_start, c_used, _ = cjt188.LAYOUT.scan_span(buf)
    if d_frame is not None and (c_frame is None or d_used <= c_used):
        return d_frame, d_used, d_used - d_start
    if c_frame is not None:
        return c_frame, c_used, c_used - c_start
    return None, min(d_used, c_used), 0


class _Link:
    """One connection to the bus (a TCP client or the pty): frames in, replies out."""

    def __init__(self, bus: MeterBus, send: Callable[[bytes], Awaitable[None]]) -> None:
        self.bus = bus
        self._send = send
        self._buf = bytearray()
        self._lock = asyncio.Lock()
        self._late: set[asyncio.Task[None]] = set()

    async def received(self, data: bytes) -> None:
        self._buf += data
        if len(self._buf) > MAX_RX_BUFFER:
            drop = len(self._buf) - MAX_RX_BUFFER
            del self._buf[:drop]
            self.bus.stats.dropped_rx_bytes += drop
        while self._buf:
            frame, consumed, wire_len = next_request(bytes(self._buf))
            del self._buf[:consumed]
            if frame is None:
                return
            for tx in self.bus.respond(frame):
                delay = self.bus.wire_time(wire_len + len(tx.data)) + self.bus.config.turnaround_s
                if tx.delay_s > 0 and len(self._late) >= MAX_LATE_REPLIES:
                    self.bus.stats.dropped_late_replies += 1
                elif tx.delay_s > 0:
                    task = asyncio.create_task(self._send_later(tx.data, delay + tx.delay_s))
                    self._late.add(task)
                    task.add_done_callback(self._late.discard)
                else:
                    await self._transmit(tx.data, delay)

    async def _send_later(self, data: bytes, delay: float) -> None:
        await self._transmit(data, delay)

    async def _transmit(self, data: bytes, delay: float) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        async with self._lock:
            await self._send(data)

    async def close(self) -> None:
        for task in list(self._late):
            task.cancel()
        for task in list(self._late):
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await task


# --------------------------------------------------------------------------------------------
# Transports


async def _wait_fd(register: Callable[..., None], remove: Callable[[int], bool], fd: int) -> None:
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    register(fd, wake)
    try:
        await ready
    finally:
        remove(fd)


def _unlatch_pty_speed(fd: int) -> None:
    """Park the pty at 50 Bd so the next client's open is a change the kernel accepts.

    Linux ptys drop PARENB, and (on recent kernels) a tcsetattr that asks for parity at the
    speed already set fails with EINVAL. pyserial opening "9600 8E1" a second time on the same
    pty would then fail; real serial ports do not behave like this.
    """
    with contextlib.suppress(termios.error):
        attrs = termios.tcgetattr(fd)
        if attrs[4] != termios.B50 or attrs[5] != termios.B50:
            attrs[4] = attrs[5] = termios.B50
            termios.tcsetattr(fd, termios.TCSANOW, attrs)


class MeterSimulator:
    """The bus behind its transports. Use as ``async with MeterSimulator(config) as sim``."""

    def __init__(self, config: SimConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.bus = MeterBus(config, clock)
        self._servers: list[asyncio.Server] = []
        self._links: set[_Link] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._fds: list[int] = []
        self._writers: set[asyncio.StreamWriter] = set()
        self.pty_path: str | None = None

    @property
    def stats(self) -> BusStats:
        return self.bus.stats

    def set_fault(
        self,
        address: str,
        kind: FaultKind | str = FaultKind.NONE,
        *,
        delay_s: float | None = None,
        error_bits: int | None = None,
    ) -> None:
        """Change a meter's fault while running (``kind="none"`` heals it)."""
        self.bus.set_fault(address, kind, delay_s=delay_s, error_bits=error_bits)

    async def __aenter__(self) -> MeterSimulator:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start_tcp(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        server = await asyncio.start_server(self._serve_tcp, host, port)
        self._servers.append(server)
        sockname = server.sockets[0].getsockname()
        return str(sockname[0]), int(sockname[1])

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def send(data: bytes) -> None:
            writer.write(data)
            await writer.drain()

        link = _Link(self.bus, send)
        self._links.add(link)
        self._writers.add(writer)
        try:
            while data := await reader.read(512):
                await link.received(data)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._links.discard(link)
            self._writers.discard(writer)
            await link.close()
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    async def start_pty(self) -> str:
        """Open a pty pair and serve the bus on it; returns the slave path for pyserial.

        The simulator keeps its own handle on the slave so clients may open and close it
        repeatedly without the master side seeing EIO.
        """
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no CR/LF mangling: a pty is a terminal by default
        os.set_blocking(master, False)
        self._fds += [master, slave]
        self.pty_path = os.ttyname(slave)
        loop = asyncio.get_running_loop()

        async def send(data: bytes) -> None:
            view = memoryview(data)
            while view:
                try:
                    view = view[os.write(master, view) :]
                except BlockingIOError:
                    await _wait_fd(loop.add_writer, loop.remove_writer, master)

        link = _Link(self.bus, send)
        self._links.add(link)
        task = asyncio.create_task(self._serve_pty(master, slave, link))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return self.pty_path

    async def _serve_pty(self, master: int, slave: int, link: _Link) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                await _wait_fd(loop.add_reader, loop.remove_reader, master)
                try:
                    data = os.read(master, 4096)
                except BlockingIOError:
                    continue
                if data:
                    _unlatch_pty_speed(slave)
                    await link.received(data)
        finally:
            await link.close()

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for writer in list(self._writers):
            writer.close()  # the handler sees EOF and finishes
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for link in list(self._links):
            await link.close()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1.0)
        self._servers.clear()
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds.clear()


# --------------------------------------------------------------------------------------------
# CLI


def _parse_endpoint(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


async def _run(args: argparse.Namespace) -> int:
    config = SimConfig.load(args.meters) if args.meters else demo_config()
    if args.baud is not None:
        config.baud = args.baud
    if args.time_scale is not None:
        config.time_scale = args.time_scale
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with MeterSimulator(config) as sim:
        if args.tcp:
            host, port = await sim.start_tcp(*args.tcp)
            print(f"tcp {host}:{port}", flush=True)
        if args.pty:
            print(f"pty {await sim.start_pty()}", flush=True)
        for meter in config.meters:
            print(f"meter {meter.address} {meter.protocol.value}", flush=True)
        await stop.wait()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m edge.sim.meters", description="Simulated DL/T 645 / CJ/T 188 meter bus"
    )
    parser.add_argument("--tcp", type=_parse_endpoint, help="listen on HOST:PORT (port 0: any)")
    parser.add_argument("--pty", action="store_true", help="also serve on a new pty")
    parser.add_argument("--meters", type=Path, help="YAML spec (default: one meter of each kind)")
    parser.add_argument("--baud", type=int, help="emulate wire time at this baud rate (8E1)")
    parser.add_argument("--time-scale", type=float, help="simulated seconds per real second")
    args = parser.parse_args(argv)
    if not args.tcp and not args.pty:
        parser.error("give --tcp HOST:PORT and/or --pty")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    try:
        return asyncio.run(_run(args))
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
