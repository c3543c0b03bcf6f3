"""The simulated half-duplex bus: who answers a request and how, and one link's byte stream.

A meter answers only frames addressed to it, in its own protocol; a wildcard request that
matches several meters makes them all talk at once (the bitwise AND of their replies, as a
collision on a real line); with `baud` set every transaction takes its bytes' wire time.
Knows nothing of transports: `meters.MeterSimulator` puts links behind TCP or a pty."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from edge.codecs import cjt188, dlt645
from edge.codecs.errors import ProtocolError
from edge.sim.meter_models import SimMeter
from edge.sim.meter_specs import Fault, FaultKind, Protocol, SimConfig

log = logging.getLogger(__name__)

BITS_PER_BYTE = 11  # start + 8 data + even parity + stop
MAX_RX_BUFFER = 4096  # per link; oldest bytes dropped beyond this (counted in stats)
MAX_LATE_REPLIES = 64  # per link; further late replies are dropped (counted in stats)


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


class BusLink:
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
