"""A serial line driven from one worker thread, so the event loop never blocks on it.

pyserial is blocking. Each port gets its own single-thread executor and a whole
exchange (gap, write, read until the frame is complete or the deadline passes)
runs there as one job: one executor round trip per transaction, and the single
thread is itself a guarantee that two exchanges never overlap on the wire even
if a caller was cancelled mid-way (its job still finishes, bounded by its timeout).

`serial_for_url` gives local ports, `socket://host:port` (transparent RS-485 to
Ethernet converters) and `rfc2217://host:port` alike. Local ports are opened
exclusively, so the CLI cannot talk over the daemon (it is told the port is busy).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import serial

from edge.codecs.errors import ProtocolError
from edge.fieldbus.errors import BusTimeout, GarbledReply, PortBusy, PortError, PortMissing

T = TypeVar("T")

# Granularity of the read loop's deadline checks; a byte arriving wakes the read at once.
READ_SLICE_S = 0.01
# After some bytes, this much silence with no frame in them means the reply was noise.
QUIET_S = 0.08
# At most this much is read per wake-up, and the tail this long is kept for the trace and
# errors: a babbling device cannot grow the gateway's memory.
MAX_CHUNK = 4096
KEEP_RECEIVED = 4096


class Matcher(Generic[T]):
    """Turns the bytes of one exchange into an answer, fed chunk by chunk as they arrive.

    A matcher sees each received byte once and keeps only what may still become its frame
    (bounded), so a babbling line costs time in proportion to its bytes, not their square.
    `feed` may raise `ProtocolError` for a complete but invalid frame (bad checksum, error
    reply) so the exchange ends early instead of waiting out the timeout. `noisy` says whether
    bytes that cannot be ours arrived, so a quiet line after them means a garbled reply rather
    than a slow one. `reset` starts the next exchange (a retry reuses its matcher).
    """

    def reset(self) -> None:
        raise NotImplementedError

    def feed(self, chunk: bytes) -> T | None:
        raise NotImplementedError

    @property
    def noisy(self) -> bool:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Exchange(Generic[T]):
    value: T
    sent: bytes
    received: bytes
    elapsed_s: float


@dataclass(frozen=True, slots=True)
class SerialSettings:
    url: str
    baudrate: int = 9600
    parity: str = "E"
    bytesize: int = 8
    stopbits: int = 1


def is_url(port: str) -> bool:
    return "://" in port


class SerialPort:
    def __init__(self, settings: SerialSettings) -> None:
        self.settings = settings
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"serial:{settings.url[-24:]}"
        )
        self._ser: Any = None
        self._last_end = 0.0
        # socket:// answers `in_waiting` with 0 or 1 (a select), not a byte count.
        self._counts_waiting = not settings.url.startswith("socket://")

    @property
    def is_open(self) -> bool:
        return self._ser is not None

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)

    async def open(self) -> None:
        await self._run(self._open)

    async def close(self) -> None:
        await self._run(self._close)

    def shutdown(self) -> None:
        """Stop the worker thread after closing (for process exit)."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def exchange(
        self, request: bytes, matcher: Matcher[T], timeout_s: float, gap_s: float = 0.0
    ) -> Exchange[T]:
        """Send `request` and read until `matcher` accepts the reply.

        Raises BusTimeout, GarbledReply, ProtocolError (from the matcher) or PortError.
        The worker thread is told how long to wait; the loop only awaits the job.
        """
        return await self._run(self._exchange, request, matcher, timeout_s, gap_s)

    async def listen(self, matcher: Matcher[T], timeout_s: float) -> Exchange[T]:
        """Read without sending (e.g. a collision's tail after a broadcast)."""
        return await self._run(self._exchange, b"", matcher, timeout_s, 0.0)

    # --- worker thread ----------------------------------------------------------------

    def _open(self) -> None:
        if self._ser is not None:
            return
        s = self.settings
        kwargs: dict[str, Any] = {
            "baudrate": s.baudrate,
            "parity": s.parity,
            "bytesize": s.bytesize,
            "stopbits": s.stopbits,
            "timeout": READ_SLICE_S,
            "write_timeout": 5.0,
            "do_not_open": True,
        }
        if not is_url(s.url):
            if not os.path.exists(s.url):
                raise PortMissing(f"port {s.url} does not exist")
            kwargs["exclusive"] = True
        try:
            ser = serial.serial_for_url(s.url, **kwargs)
            ser.open()
        except serial.SerialException as exc:
            raise _port_error(s.url, exc) from None
        except (OSError, ValueError) as exc:
            raise PortError(f"cannot open {s.url}: {exc}") from None
        self._ser = ser

    def _close(self) -> None:
        ser, self._ser = self._ser, None
        if ser is not None:
            with contextlib.suppress(OSError, serial.SerialException):
                ser.close()

    def _exchange(
        self, request: bytes, matcher: Matcher[T], timeout_s: float, gap_s: float
    ) -> Exchange[T]:
        self._open()
        ser = self._ser
        wait = self._last_end + gap_s - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        began = time.monotonic()
        matcher.reset()
        kept = bytearray()  # the tail of what arrived, for the trace and errors
        total = 0
        try:
            if request:
                ser.reset_input_buffer()  # stray late replies belong to nobody now
                ser.write(request)
                ser.flush()
            deadline = time.monotonic() + timeout_s
            last_rx = 0.0
            while True:
                chunk = self._read_available(ser)
                now = time.monotonic()
                if chunk:
                    total += len(chunk)
                    kept += chunk
                    del kept[:-KEEP_RECEIVED]
                    last_rx = now
                    value = matcher.feed(chunk)
                    if value is not None:
                        return Exchange(value, request, bytes(kept), now - began)
                elif total and now - last_rx >= QUIET_S and matcher.noisy:
                    raise GarbledReply(f"{total} bytes of noise: {bytes(kept[:32]).hex(' ')}")
                if now >= deadline:
                    if total and matcher.noisy:
                        raise GarbledReply(f"no valid frame in {total} bytes before timeout")
                    raise BusTimeout(f"no answer within {timeout_s:.2f}s")
        except ProtocolError:
            raise
        except (serial.SerialException, OSError) as exc:
            self._close()
            raise PortError(f"{self.settings.url}: {exc}") from None
        finally:
            self._last_end = time.monotonic()

    def _read_available(self, ser: Any) -> bytes:
        """Wait one read slice for a byte, then take whatever else has arrived, without waiting."""
        chunk = ser.read(1)
        if not chunk:
            return chunk
        if self._counts_waiting:
            waiting = ser.in_waiting
            return chunk + ser.read(min(waiting, MAX_CHUNK)) if waiting else chunk
        ser.timeout = 0  # a socket's read(n) would otherwise wait out the slice for n bytes
        try:
            return chunk + ser.read(MAX_CHUNK)
        finally:
            ser.timeout = READ_SLICE_S


def _port_error(url: str, exc: serial.SerialException) -> PortError:
    text = str(exc)
    code = getattr(exc, "errno", None)
    if "exclusively lock" in text or code in (errno.EBUSY, errno.EAGAIN):
        return PortBusy(
            f"port {url} is busy: another program (the daemon?) has it open; "
            "stop it first (systemctl stop edge)"
        )
    if code == errno.ENOENT:
        return PortMissing(f"port {url} does not exist")
    if code in (errno.EACCES, errno.EPERM):
        return PortError(f"no permission to open {url} (add the user to the dialout group)")
    if "Connection refused" in text:
        return PortError(
            f"nothing accepts connections at {url}: is the network converter on, and is that "
            "its TCP server port?"
        )
    reason = re.search(r"\[Errno -?\d+\] (.+)$", text)  # pyserial wraps the OS error's text
    return PortError(f"cannot open {url}: {reason[1] if reason else text}")
