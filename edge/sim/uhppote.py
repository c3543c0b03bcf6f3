"""A UHPPOTE/WG access controller on UDP, for the demo and the tests.

It answers the 64-byte requests the gateway sends (get controller, get/set time, get status,
open door, get/set listener, get event, get/set event index, get/set door control) and pushes
swipe and door events to the configured listener, like the real board. Its byte layout is
written here from the protocol digest (offsets, BCD dates, little-endian serials), not from the
`uhppoted` package the driver uses, so a mistake in one is not mirrored in the other; the tests
check both against the shared vectors.

Faults a real controller shows in the field: it stops answering (`silent`), it reboots and
its event index has moved on while the gateway was away (`reboot(events_meanwhile)`), a door
that does not open when told (`stuck`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import struct
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

log = logging.getLogger(__name__)

SOM = 0x17
PACKET = 64

GET_STATUS = 0x20
SET_TIME = 0x30
GET_TIME = 0x32
OPEN_DOOR = 0x40
SET_DOOR = 0x80
GET_DOOR = 0x82
SET_LISTENER = 0x90
GET_LISTENER = 0x92
GET_CONTROLLER = 0x94
GET_EVENT = 0xB0
SET_EVENT_INDEX = 0xB2
GET_EVENT_INDEX = 0xB4

MAGIC = b"\x55\xaa\xaa\x55"

EVENT_CARD = 1
EVENT_DOOR = 2
REASON_CARD_OK = 1
REASON_DENIED = 6
REASON_REMOTE_OPEN = 44


def bcd(digits: str) -> bytes:
    """'20220823' → 20 22 08 23: two decimal digits per byte, as the board stores dates."""
    return bytes(int(digits[i : i + 2], 16) for i in range(0, len(digits), 2))


def unbcd(raw: bytes) -> str:
    return "".join(f"{b:02x}" for b in raw)


def packet(function: int, serial: int) -> bytearray:
    buf = bytearray(PACKET)
    buf[0] = SOM
    buf[1] = function
    struct.pack_into("<I", buf, 4, serial)
    return buf


@dataclass
class SimEvent:
    index: int
    kind: int
    granted: bool
    door: int
    direction: int
    card: int
    timestamp: datetime
    reason: int


@dataclass
class UhppoteSimulator:
    """One controller. `await start()` binds 127.0.0.1 on an ephemeral port (or `port`)."""

    serial: int = 405419896
    host: str = "127.0.0.1"
    port: int = 0
    doors: int = 4
    open_delay_s: float = 3.0
    silent: bool = False
    stuck_doors: set[int] = field(default_factory=set)
    clock_offset: timedelta = field(default_factory=timedelta)
    listener: tuple[str, int] | None = None
    listener_interval_s: int = 0
    events: list[SimEvent] = field(default_factory=list)
    index_marker: int = 0
    door_mode: dict[int, tuple[int, int]] = field(default_factory=dict)
    requests: list[int] = field(default_factory=list)
    opened: list[int] = field(default_factory=list)
    _door_open_until: dict[int, float] = field(default_factory=dict)
    _transport: asyncio.DatagramTransport | None = None
    _seq: int = 0

    async def start(self) -> UhppoteSimulator:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self), local_addr=(self.host, self.port)
        )
        self._transport = transport
        self.port = transport.get_extra_info("sockname")[1]
        return self

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    async def __aenter__(self) -> UhppoteSimulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # What happens at the door -----------------------------------------------------------

    def now(self) -> datetime:
        return datetime.now().replace(microsecond=0) + self.clock_offset

    def record(
        self, kind: int, door: int, *, card: int = 0, granted: bool, reason: int, direction: int = 1
    ) -> SimEvent:
        event = SimEvent(
            index=len(self.events) + 1,
            kind=kind,
            granted=granted,
            door=door,
            direction=direction,
            card=card,
            timestamp=self.now(),
            reason=reason,
        )
        self.events.append(event)
        self._push(event)
        return event

    def swipe(self, card: int, door: int = 1, *, granted: bool = True) -> SimEvent:
        """A card at a reader: recorded, and pushed to the listener when one is set."""
        return self.record(
            EVENT_CARD,
            door,
            card=card,
            granted=granted,
            reason=REASON_CARD_OK if granted else REASON_DENIED,
        )

    def reboot(self, events_meanwhile: int = 0) -> None:
        """Events happened while the gateway could not hear them (no push): fetch by index."""
        saved, self.listener = self.listener, None
        for i in range(events_meanwhile):
            self.swipe(10000000 + i, 1)
        self.listener = saved

    def clear_log(self) -> None:
        """The event log starts again from index 1 (its memory cleared, or a new board set
        to the same serial number)."""
        self.events.clear()

    def door_open(self, door: int) -> bool:
        loop = asyncio.get_running_loop()
        return self._door_open_until.get(door, 0.0) > loop.time()

    # The wire ----------------------------------------------------------------------------

    def handle(self, request: bytes) -> bytes | None:
        if len(request) != PACKET or request[0] != SOM:
            return None
        function = request[1]
        serial = struct.unpack_from("<I", request, 4)[0]
        if serial not in (0, self.serial):
            return None
        self.requests.append(function)
        if self.silent:
            return None
        reply = packet(function, self.serial)
        if function == GET_CONTROLLER:
            reply[8:12] = bytes(int(x) for x in self.host.split("."))
            reply[12:16] = bytes((255, 255, 255, 0))
            reply[16:20] = bytes((127, 0, 0, 1))
            reply[20:26] = bytes.fromhex("001223344556")
            reply[26:28] = bcd("0892")
            reply[28:32] = bcd("20181105")
        elif function == GET_TIME:
            reply[8:15] = bcd(self.now().strftime("%Y%m%d%H%M%S"))
        elif function == SET_TIME:
            when = datetime.strptime(unbcd(request[8:15]), "%Y%m%d%H%M%S")
            self.clock_offset = when - datetime.now().replace(microsecond=0)
            reply[8:15] = request[8:15]
        elif function == GET_STATUS:
            self._status(reply, self.events[-1] if self.events else None)
        elif function == OPEN_DOOR:
            door = request[8]
            ok = 1 <= door <= self.doors and door not in self.stuck_doors
            reply[8] = 1 if ok else 0
            if ok:
                self.opened.append(door)
                loop = asyncio.get_running_loop()
                self._door_open_until[door] = loop.time() + self.open_delay_s
                self.record(EVENT_DOOR, door, granted=True, reason=REASON_REMOTE_OPEN)
        elif function == GET_LISTENER:
            host, port = self.listener or ("0.0.0.0", 0)
            reply[8:12] = bytes(int(x) for x in host.split("."))
            struct.pack_into("<H", reply, 12, port)
            reply[14] = self.listener_interval_s
        elif function == SET_LISTENER:
            host = ".".join(str(b) for b in request[8:12])
            port = struct.unpack_from("<H", request, 12)[0]
            self.listener = None if port == 0 else (host, port)
            self.listener_interval_s = request[14]
            reply[8] = 1
        elif function == GET_EVENT_INDEX:
            struct.pack_into("<I", reply, 8, self.index_marker)
        elif function == SET_EVENT_INDEX:
            if request[12:16] != MAGIC:
                return None
            self.index_marker = struct.unpack_from("<I", request, 8)[0]
            reply[8] = 1
        elif function == GET_EVENT:
            wanted = struct.unpack_from("<I", request, 8)[0]
            if wanted == 0xFFFFFFFF and self.events:
                wanted = len(self.events)
            if 1 <= wanted <= len(self.events):
                self._event_fields(reply, self.events[wanted - 1])
            else:
                struct.pack_into("<I", reply, 8, wanted)
                reply[12] = 0xFF  # no such event: the board answers with type 0xff
        elif function == GET_DOOR:
            door = request[8]
            mode, delay = self.door_mode.get(door, (3, 3))
            reply[8:11] = bytes((door, mode, delay))
        elif function == SET_DOOR:
            door, mode, delay = request[8], request[9], request[10]
            self.door_mode[door] = (mode, delay)
            reply[8:11] = bytes((door, mode, delay))
        else:
            return None
        return bytes(reply)

    def _event_fields(self, buf: bytearray, event: SimEvent) -> None:
        struct.pack_into("<I", buf, 8, event.index)
        buf[12] = event.kind
        buf[13] = 1 if event.granted else 0
        buf[14] = event.door
        buf[15] = event.direction
        struct.pack_into("<I", buf, 16, event.card)
        buf[20:27] = bcd(event.timestamp.strftime("%Y%m%d%H%M%S"))
        buf[27] = event.reason

    def _status(self, buf: bytearray, event: SimEvent | None) -> None:
        if event is not None:
            self._event_fields(buf, event)
        for door in range(1, 5):
            buf[27 + door] = 1 if self._door_open_or_none(door) else 0
        now = self.now()
        buf[37:40] = bcd(now.strftime("%H%M%S"))
        self._seq += 1
        struct.pack_into("<I", buf, 40, self._seq)
        relays = 0
        for door in range(1, 5):
            if self._door_open_or_none(door):
                relays |= 1 << (door - 1)
        buf[49] = relays
        buf[51:54] = bcd(now.strftime("%y%m%d"))

    def _door_open_or_none(self, door: int) -> bool:
        try:
            return self.door_open(door)
        except RuntimeError:
            return False

    def _push(self, event: SimEvent) -> None:
        if self.listener is None or self._transport is None or self.silent:
            return
        buf = packet(GET_STATUS, self.serial)
        self._status(buf, event)
        self._transport.sendto(bytes(buf), self.listener)


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, sim: UhppoteSimulator) -> None:
        self.sim = sim
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            reply = self.sim.handle(data)
        except Exception:  # a garbled request is dropped, like the board does
            log.exception("uhppote simulator: bad request %s", data.hex())
            return
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


async def _serve(args: argparse.Namespace) -> None:
    sim = UhppoteSimulator(serial=args.serial, host=args.host, port=args.port)
    await sim.start()
    print(f"UHPPOTE controller {sim.serial} on udp://{sim.address}", flush=True)
    card = 8165538
    with contextlib.suppress(asyncio.CancelledError):
        while True:
            await asyncio.sleep(args.swipe_every_s)
            if args.swipe_every_s > 0:
                sim.swipe(card, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Simulated UHPPOTE access controller (UDP).")
    parser.add_argument("--serial", type=int, default=405419896)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=60000)
    parser.add_argument("--swipe-every-s", type=float, default=30.0)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
