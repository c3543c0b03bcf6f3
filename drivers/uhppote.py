"""UHPPOTE/WG access controllers (64-byte UDP, port 60000) through the `uhppoted` package.

The controller keeps its own numbered event log; the listener only *pushes* events, on UDP,
with no retransmission. So the push is a hint and the log is the truth: every event is
taken by index, a gap in the pushed indices (a lost datagram, a gateway restart, a
controller reboot) is filled by `get_event` for each missing index, and the last index
taken is kept in the store so a restart resumes where it stopped, never replaying the whole
log and never skipping a swipe. The index is committed in the same transaction as the event
it took, so even a kill -9 between the two leaves either both or neither: no swipe is
recorded, or sent to the hub, twice.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from ipaddress import IPv4Address
from typing import Any, Literal

from pydantic import Field, field_validator
from uhppoted import decode
from uhppoted.uhppote_async import UhppoteAsync

from edge.access.gates import GateError
from edge.backoff import Backoff
from edge.config.devices import DeviceBase
from edge.config.types import HostPort, PositiveSeconds
from edge.events import Event
from edge.timefmt import site_tz

log = logging.getLogger(__name__)

PUSH_QUEUE = 256
MAX_CATCH_UP = 10_000
EVENT_TYPES = {1: "card", 2: "door", 3: "alarm", 4: "system"}


class UhppoteConfig(DeviceBase):
    """One door of a UHPPOTE/WG controller, used as a gate."""

    type: Literal["uhppote"] = Field(
        title="Type", description="A UHPPOTE/WG TCP/IP access controller (UDP, port 60000)."
    )
    controller: int = Field(
        ge=1,
        le=0xFFFFFFFF,
        title="Controller serial number",
        description="Printed on the board and answered to discovery, e.g. 405419896.",
    )
    address: HostPort = Field(
        title="Controller address",
        description="host:port the controller answers on, normally <its IP>:60000.",
    )
    door: int = Field(ge=1, le=4, title="Door", description="Door (relay) 1-4 this gate uses.")
    listener: HostPort | None = Field(
        default=None,
        title="Event listener",
        description="host:port on this gateway where the controller pushes swipe and door "
        "events (port 0 picks a free one). Without it events are fetched by polling.",
    )
    timeout_s: PositiveSeconds = Field(
        default=2.5, title="Reply timeout", description="How long to wait for each reply."
    )
    poll_interval_s: PositiveSeconds = Field(
        default=5,
        title="Status poll interval",
        description="Door and relay state is read this often; missed events are fetched too.",
    )
    set_time: bool = Field(
        default=True,
        title="Set the controller's clock",
        description="Set the controller's time from the gateway on every connect.",
    )

    @field_validator("listener")
    @classmethod
    def _listener(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host = value.rsplit(":", 1)[0]
        try:
            IPv4Address(host)
        except ValueError:
            raise ValueError(
                f"{host!r}: the controller is told an IPv4 address, not a name"
            ) from None
        return value


class _PushProtocol(asyncio.DatagramProtocol):
    def __init__(self, gate: UhppoteGate) -> None:
        self.gate = gate

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.gate.pushed(data)


class UhppoteGate:
    """Opens its door on request and turns the controller's event log into `access` events."""

    def __init__(self, config: UhppoteConfig, runtime: Any) -> None:
        self.config = config
        self.rt = runtime
        self.api = UhppoteAsync(bind="0.0.0.0", broadcast="255.255.255.255:60000")
        self.target = (config.controller, config.address, "udp")
        self.tz = site_tz(runtime.config.site.utc_offset)
        self.last_index: int | None = None
        self.listen_port: int | None = None
        self.pushes: asyncio.Queue[bytes] = asyncio.Queue(PUSH_QUEUE)
        self.pushes_dropped = 0
        self.garbled = 0
        self.door_open: bool | None = None
        self.relay_on: bool | None = None
        self._listener: asyncio.DatagramTransport | None = None
        self._cursor = f"uhppote.{config.id}.event_index"
        self._lock = asyncio.Lock()

    # --- supervised task ---------------------------------------------------------------

    async def run(self) -> None:
        backoff = Backoff(1.0, 30.0)
        try:
            while True:
                try:
                    await self._session()
                except (TimeoutError, OSError, ValueError, ConnectionError) as exc:
                    await self.rt.devices.failure(self.config.id, _describe(exc))
                    await asyncio.sleep(backoff.next_delay())
                else:  # pragma: no cover - _session only returns by raising
                    backoff.reset()
        finally:
            if self._listener is not None:
                self._listener.close()
                self._listener = None

    async def _session(self) -> None:
        cfg = self.config
        info = await self.api.get_controller(self.target, timeout=cfg.timeout_s)
        if info is None or info.controller != cfg.controller:
            raise ValueError(f"no controller {cfg.controller} at {cfg.address}")
        if cfg.set_time:
            now = datetime.now(self.tz).replace(tzinfo=None, microsecond=0)
            await self.api.set_time(self.target, now, timeout=cfg.timeout_s)
        if cfg.listener is not None:
            host, port = await self._listen(cfg.listener)
            reply = await self.api.set_listener(
                self.target, IPv4Address(host), port, timeout=cfg.timeout_s
            )
            if reply is None or not reply.ok:
                raise ValueError("controller refused the event listener address")
        await self._load_cursor()
        await self._catch_up()
        await self.rt.devices.success(
            cfg.id, firmware=info.version, door_open=self.door_open, relay_on=self.relay_on
        )
        while True:
            try:
                data = await asyncio.wait_for(self.pushes.get(), cfg.poll_interval_s)
            except TimeoutError:
                await self._poll_status()
                continue
            await self._on_push(data)

    # --- gate ------------------------------------------------------------------------

    async def open_gate(self, *, reason: str, actor: str) -> dict[str, Any]:
        """Pulse the door's relay; GateError when the controller is silent or refuses."""
        try:
            reply = await self.api.open_door(
                self.target, self.config.door, timeout=self.config.timeout_s
            )
        except (TimeoutError, OSError, ConnectionError) as exc:
            await self.rt.devices.failure(self.config.id, _describe(exc))
            raise GateError(f"controller {self.config.controller} did not answer") from exc
        if reply is None or not reply.opened:
            raise GateError(f"controller {self.config.controller} refused to open door")
        log.info("gate %s opened by %s: %s", self.config.id, actor, reason)
        return {"opened": True, "door": self.config.door, "controller": self.config.controller}

    def health(self) -> dict[str, Any]:
        return {
            "last_event_index": self.last_index,
            "listener_port": self.listen_port,
            "pushes_dropped": self.pushes_dropped,
            "garbled": self.garbled,
            "door_open": self.door_open,
            "relay_on": self.relay_on,
        }

    # --- events ------------------------------------------------------------------------

    def pushed(self, data: bytes) -> None:
        """From the listener socket: queue it; when full, the log still has it (index gap)."""
        try:
            self.pushes.put_nowait(data)
        except asyncio.QueueFull:
            self.pushes_dropped += 1

    async def _listen(self, spec: str) -> tuple[str, int]:
        host, port = spec.rsplit(":", 1)
        if self._listener is None:
            loop = asyncio.get_running_loop()
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _PushProtocol(self), local_addr=(host, int(port))
            )
            self._listener = transport
            self.listen_port = transport.get_extra_info("sockname")[1]
        assert self.listen_port is not None
        return host, self.listen_port

    async def _on_push(self, data: bytes) -> None:
        try:
            pushed = decode.event(data)
        except ValueError:
            self.garbled += 1
            return
        if pushed.controller != self.config.controller:
            return
        self._door_state(pushed)
        if self.last_index is None or pushed.event_index > self.last_index:
            await self._catch_up(upto=pushed.event_index)
        elif pushed.event_index < self.last_index:
            # A late datagram, or a log that started again (a cleared or replaced board):
            # the controller's own newest index tells which.
            await self._catch_up()

    async def _poll_status(self) -> None:
        status = await self.api.get_status(self.target, timeout=self.config.timeout_s)
        if status is None:
            raise TimeoutError("no status reply")
        self._door_state(status)
        await self.rt.devices.success(
            self.config.id, door_open=self.door_open, relay_on=self.relay_on
        )
        if self.last_index is None or status.event_index != self.last_index:
            await self._catch_up(upto=status.event_index)  # lower: the log started again

    def _door_state(self, status: Any) -> None:
        """The door's contact (open or shut) and its lock relay (released or not), from a
        status reply or a pushed event (both carry them). They differ when it matters: a
        released lock nobody pushed, a door held open after the lock re-engaged."""
        door = self.config.door
        self.door_open = bool(getattr(status, f"door_{door}_open"))
        self.relay_on = bool(int(status.relays) & (1 << (door - 1)))

    async def _load_cursor(self) -> None:
        if self.last_index is None:
            counters = await self.rt.store.counters()
            if self._cursor in counters:
                self.last_index = counters[self._cursor]

    async def _catch_up(self, upto: int | None = None) -> None:
        """Take every event after the last one taken, by index, up to `upto` (or the newest)."""
        async with self._lock:
            cfg = self.config
            if upto is None:
                status = await self.api.get_status(self.target, timeout=cfg.timeout_s)
                if status is None:
                    raise TimeoutError("no status reply")
                upto = int(status.event_index)
                self._door_state(status)
            if self.last_index is None:
                # First contact: the controller's old log is not this gateway's business.
                await self._save_cursor(upto)
                return
            if upto < self.last_index:
                log.warning(
                    "controller %s event log restarted (index %d < %d): taking it from 1",
                    cfg.controller,
                    upto,
                    self.last_index,
                )
                # Kept before any event is taken: a restart meanwhile must not resume
                # from the old log's position and skip the new log's first events.
                await self.rt.store.set_counter(self._cursor, 0)
                self.last_index = 0
            first = max(self.last_index + 1, upto - MAX_CATCH_UP + 1)
            if first > self.last_index + 1:
                log.error(
                    "controller %s: %d events older than the newest %d are skipped",
                    cfg.controller,
                    first - self.last_index - 1,
                    MAX_CATCH_UP,
                )
            for index in range(first, upto + 1):
                record = await self.api.get_event(self.target, index, timeout=cfg.timeout_s)
                if record is not None and record.index == index and record.event_type != 0xFF:
                    await self._emit(record)  # commits the cursor with the event
                else:
                    await self._save_cursor(index)

    async def _save_cursor(self, index: int) -> None:
        """Moved in memory only once the store has it: a failed write is retried by the
        next session from the same index, never skipped."""
        if index != self.last_index:
            await self.rt.store.set_counter(self._cursor, index)
            self.last_index = index

    async def _emit(self, record: Any) -> None:
        kind = EVENT_TYPES.get(record.event_type, f"type-{record.event_type}")
        data = {
            "device": self.config.id,
            "origin": "controller",
            "controller": self.config.controller,
            "controller_index": record.index,
            "event_type": kind,
            "door": record.door,
            "direction": "in" if record.direction == 1 else "out",
            "card": record.card,
            "granted": bool(record.access_granted),
            "reason_code": record.reason,
        }
        ts = record.timestamp.replace(tzinfo=self.tz) if record.timestamp else None
        event = Event("access", self.config.id, data, ts=ts) if ts else None
        # The event and the log position in one transaction: a crash between two separate
        # writes would leave the event recorded but the index not, and the next run would
        # fetch and record (and send the hub) the same swipe again.
        await self.rt.flow.emit(
            event or Event("access", self.config.id, data), counter=(self._cursor, record.index)
        )
        self.last_index = record.index


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


CONFIG = UhppoteConfig
DRIVER = UhppoteGate
