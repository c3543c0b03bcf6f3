"""DL/T 645 and CJ/T 188 requests over a `SerialBus`: the codecs' frames with I/O and checks.

Shared by the drivers and the maintainer CLI. A reply counts only if it comes
from the address we asked (wildcards allowed): a late answer to an earlier
request from another meter is dropped, not mistaken for ours.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from edge.codecs import cjt188, dlt645, framing
from edge.codecs.errors import ProtocolError
from edge.codecs.values import Value
from edge.events import Reading
from edge.fieldbus.errors import DeviceErrorReply, GarbledReply
from edge.fieldbus.serial_bus import SerialBus, Trace
from edge.fieldbus.serial_port import Matcher

PREAMBLE = 0xFE


def _noise(data: bytes) -> bool:
    return any(b != PREAMBLE for b in data)


class _Frame(Protocol):
    @property
    def is_reply(self) -> bool: ...

    @property
    def address(self) -> str: ...


F = TypeVar("F", bound=_Frame)
R = TypeVar("R")


class ReplyMatcher(Matcher[R], Generic[F, R]):
    """The first reply frame from ``address`` (wildcards allowed), decoded with ``decode``.

    Frames from other meters or other requests are skipped; a well-shaped frame that fails its
    checks ends the exchange (raised) only when nothing after it may still be ours. Bytes that
    cannot start a frame are dropped as they are scanned, so each byte is looked at a bounded
    number of times.
    """

    def __init__(
        self,
        address: str,
        layout: framing.Layout[F],
        matches: Callable[[str, str], bool],
        decode: Callable[[F], R],
    ) -> None:
        self.address = address
        self._layout = layout
        self._matches = matches
        self._decode = decode
        # Room for the longest frame (L = 255) and a preamble; only a run of FE longer than
        # that can reach the bound, and its oldest bytes are dropped.
        self._max_pending = layout.min_len + 255 + 64
        self._buf = bytearray()
        self._error: ProtocolError | None = None
        self._noisy = False

    def reset(self) -> None:
        self._buf.clear()
        self._error = None
        self._noisy = False

    @property
    def noisy(self) -> bool:
        return self._noisy

    def feed(self, chunk: bytes) -> R | None:
        self._buf += chunk
        while self._buf:
            data = bytes(self._buf)
            frame, start, end, rejected = self._layout.scan_span(data)
            if _noise(data[:start]):
                self._noisy = True
            if rejected:
                self._error = rejected[-1]
            del self._buf[:end]
            if frame is None:
                if len(self._buf) > self._max_pending:
                    del self._buf[: -self._max_pending]
                if self._error is not None and not self._buf:
                    raise self._error
                return None
            if frame.is_reply and self._matches(self.address, frame.address):
                return self._decode(frame)
            # Another meter's frame: what came before it was that exchange's, not noise.
            self._error, self._noisy = None, False
        return None


class DltMatcher(ReplyMatcher[dlt645.Frame, dlt645.Reply]):
    def __init__(self, address: str) -> None:
        super().__init__(address, dlt645.LAYOUT, dlt645.address_matches, dlt645.decode_reply)


class CjtMatcher(ReplyMatcher[cjt188.Frame, cjt188.Reply]):
    def __init__(self, address: str) -> None:
        super().__init__(address, cjt188.LAYOUT, cjt188.address_matches, cjt188.decode_reply)


MAX_FOLLOW_ON = 8


async def read_dlt645(
    bus: SerialBus,
    address: str,
    di: int,
    version: dlt645.Version = dlt645.Version.V2007,
    *,
    attempts: int | None = None,
    trace: Trace | None = None,
) -> tuple[dlt645.DataReply, bytes]:
    """One DI from one meter: the reply and its whole payload (follow-on frames joined)."""
    ex = await bus.transact(
        dlt645.build_read(address, di, version), DltMatcher(address), attempts=attempts, trace=trace
    )
    reply = _data_reply(ex.value, address, di)
    payload = reply.payload
    seq = 1
    while reply.more and seq <= MAX_FOLLOW_ON:
        ex = await bus.transact(
            dlt645.build_read_follow(address, di, seq, version),
            DltMatcher(address),
            attempts=attempts,
            trace=trace,
        )
        reply = _data_reply(ex.value, address, di)
        payload += reply.payload
        seq += 1
    return reply, payload


def _data_reply(reply: dlt645.Reply, address: str, di: int) -> dlt645.DataReply:
    if isinstance(reply, dlt645.ErrorReply):
        raise DeviceErrorReply(
            f"meter {address} refused DI {di:X}: {', '.join(reply.texts) or 'error'}"
            f" (error byte {int(reply.errors):02X})"
        )
    if not isinstance(reply, dlt645.DataReply):
        raise GarbledReply(f"meter {address} sent {type(reply).__name__} to a read")
    if reply.di != di:
        raise GarbledReply(f"meter {address} answered DI {reply.di:X}, asked {di:X}")
    return reply


async def read_dlt645_values(
    bus: SerialBus,
    address: str,
    di: int,
    version: dlt645.Version = dlt645.Version.V2007,
    *,
    attempts: int | None = None,
    trace: Trace | None = None,
) -> list[dlt645.Value]:
    _, payload = await read_dlt645(bus, address, di, version, attempts=attempts, trace=trace)
    return dlt645.decode_data(di, payload, version)


async def read_dlt645_address(
    bus: SerialBus, *, timeout_s: float | None = None, trace: Trace | None = None
) -> str:
    """Read-address (13H) to the wildcard; with several meters the replies collide."""
    ex = await bus.transact(
        dlt645.build_read_address(),
        DltMatcher(dlt645.WILDCARD_ADDRESS),
        attempts=1,
        timeout_s=timeout_s,
        trace=trace,
    )
    if not isinstance(ex.value, dlt645.AddressReply):
        raise GarbledReply(f"read-address answered with {type(ex.value).__name__}")
    return ex.value.address


def value_reading(device: str, value: Value, ts: datetime) -> Reading:
    """A meter's value as a reading; an FF-filled field is kept, as quality ``unsupported``."""
    quality = "good" if value.value is not None else "unsupported"
    return Reading(device, value.point, value.value, value.unit, ts, quality)


@dataclass(frozen=True, slots=True)
class CjtReading:
    meter_type: int
    address: str
    values: list[Value]
    status: cjt188.Status | None


async def read_cjt188(
    bus: SerialBus,
    address: str,
    meter_type: int = cjt188.MeterType.COLD_WATER,
    *,
    di_order: cjt188.DiOrder = cjt188.DiOrder.HIGH_FIRST,
    attempts: int | None = None,
    trace: Trace | None = None,
) -> CjtReading:
    """The 901F metering block of a water, heat or gas meter."""
    ex = await bus.transact(
        cjt188.build_read(address, meter_type, di_order=di_order),
        CjtMatcher(address),
        attempts=attempts,
        trace=trace,
    )
    reply = ex.value
    if isinstance(reply, cjt188.ErrorReply):
        st = f" (ST {reply.status.raw:04X})" if reply.status else ""
        raise DeviceErrorReply(f"meter {address} answered with an error{st}")
    if not isinstance(reply, cjt188.DataReply) or reply.data is None:
        raise GarbledReply(f"meter {address} sent no metering data")
    return CjtReading(reply.meter_type, reply.address, reply.data.values(), reply.data.status)
