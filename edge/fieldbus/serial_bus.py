"""One RS-485 line: one transaction at a time, a gap between them, retries per request.

Waiting devices are served in arrival order (asyncio.Lock is FIFO).

The bus never closes because a device is dead: a timeout is that device's
problem. Only a port error (unplugged adapter, converter gone) closes the port,
and it is reopened on the next request, at most once per `REOPEN_EVERY_S`, so a
missing port fails fast for every device instead of each waiting a timeout.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from edge.codecs.errors import ProtocolError
from edge.config.buses import SerialBusConfig
from edge.fieldbus.errors import BusError, BusTimeout, GarbledReply, PortError
from edge.fieldbus.serial_port import Exchange, Matcher, SerialPort, SerialSettings

log = logging.getLogger(__name__)

T = TypeVar("T")
REOPEN_EVERY_S = 2.0

Trace = Callable[[str, bytes], None]


@dataclass
class BusStats:
    transactions: int = 0
    answered: int = 0
    timeouts: int = 0
    garbled: int = 0
    protocol_errors: int = 0
    retries: int = 0
    port_errors: int = 0
    busy_s: float = 0.0


class SerialBus:
    def __init__(
        self,
        config: SerialBusConfig,
        port: SerialPort | None = None,
    ) -> None:
        self.config = config
        self.id = config.id
        self.port = port or SerialPort(
            SerialSettings(
                config.port, config.baudrate, config.parity, config.bytesize, config.stopbits
            )
        )
        self.lock = asyncio.Lock()
        self.stats = BusStats()
        self._port_failed_at: float | None = None
        self._port_error: PortError | None = None
        self._port_down_logged = False

    async def transact(
        self,
        request: bytes,
        matcher: Matcher[T],
        *,
        attempts: int | None = None,
        timeout_s: float | None = None,
        trace: Trace | None = None,
    ) -> Exchange[T]:
        """Send one request and return its matched reply, retrying per the bus config.

        `attempts` overrides 1 + retries: a device already known to be down gets one.
        """
        tries = attempts if attempts is not None else 1 + self.config.retries
        timeout = timeout_s if timeout_s is not None else self.config.timeout_s
        last: Exception | None = None
        for attempt in range(max(tries, 1)):
            if attempt:
                self.stats.retries += 1
            # The lock is taken per attempt: a retry queues behind whoever is waiting,
            # so a dead device delays any other by one timeout at most, never by all
            # of its retries in a row.
            async with self.lock:
                await self._ensure_open()
                self.stats.transactions += 1
                if trace:
                    trace("tx", request)
                began = time.monotonic()
                try:
                    ex = await self.port.exchange(
                        request, matcher, timeout, self.config.inter_frame_gap_s
                    )
                except PortError as exc:
                    self.stats.port_errors += 1
                    self._port_broke(exc)
                    raise
                except BusError as exc:
                    self._count(exc)
                    last = exc
                    continue
                except ProtocolError as exc:
                    self.stats.protocol_errors += 1
                    last = exc
                    continue
                finally:
                    self.stats.busy_s += time.monotonic() - began
            self.stats.answered += 1
            if trace:
                trace("rx", ex.received)
            return ex
        assert last is not None
        raise last

    def _count(self, exc: BusError) -> None:
        if isinstance(exc, BusTimeout):
            self.stats.timeouts += 1
        elif isinstance(exc, GarbledReply):
            self.stats.garbled += 1

    async def _ensure_open(self) -> None:
        if self.port.is_open:
            return
        if (
            self._port_failed_at is not None
            and self._port_error is not None
            and time.monotonic() - self._port_failed_at < REOPEN_EVERY_S
        ):
            raise self._port_error
        try:
            await self.port.open()
        except PortError as exc:
            self.stats.port_errors += 1
            self._port_broke(exc)
            raise
        if self._port_down_logged:
            log.info("bus %s: port %s is open again", self.id, self.config.port)
        self._port_failed_at, self._port_error, self._port_down_logged = None, None, False

    def _port_broke(self, exc: PortError) -> None:
        self._port_failed_at, self._port_error = time.monotonic(), exc
        if not self._port_down_logged:
            log.warning("bus %s: %s", self.id, exc)
            self._port_down_logged = True

    async def close(self) -> None:
        await self.port.close()
        self.port.shutdown()

    def health(self) -> dict[str, Any]:
        return {
            "type": "serial",
            "port": self.config.port,
            "open": self.port.is_open,
            "error": str(self._port_error) if self._port_error else None,
            **asdict(self.stats),
        }
