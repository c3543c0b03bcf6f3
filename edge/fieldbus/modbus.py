"""Modbus reads behind one small interface, over TCP or RTU on a shared serial line.

pymodbus 3.x does the protocol work: its PDU classes and RTU framer for RTU,
its `AsyncModbusTcpClient` for TCP. RTU deliberately does not use pymodbus's
serial client: that client would own the port, and a line may carry DL/T 645
meters and Modbus sensors together. RTU frames go through our `SerialBus`, so
they share its lock, gap, retries and per-device backoff like every other frame.

pymodbus API notes for the installed 3.16: the unit keyword is `device_id=`
(it was `slave=` before 3.9), requests take `dev_id=`, and the TCP client
closes its connection after `retries + 3` unanswered requests unless told
otherwise, which would punish every sensor behind a gateway for one dead one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.framer.rtu import FramerRTU
from pymodbus.pdu import DecodePDU, ExceptionResponse, ModbusPDU
from pymodbus.pdu.bit_message import (
    ReadCoilsRequest,
    ReadDiscreteInputsRequest,
    WriteMultipleCoilsRequest,
    WriteSingleCoilRequest,
)
from pymodbus.pdu.register_message import (
    ReadHoldingRegistersRequest,
    ReadInputRegistersRequest,
    WriteMultipleRegistersRequest,
    WriteSingleRegisterRequest,
)

from edge.codecs.errors import FrameError
from edge.config.buses import ModbusTcpBusConfig
from edge.fieldbus.errors import BusError, BusTimeout, DeviceErrorReply, PortError
from edge.fieldbus.registers import BIT_FUNCTIONS, Function
from edge.fieldbus.serial_bus import SerialBus, Trace
from edge.fieldbus.serial_port import Matcher

log = logging.getLogger(__name__)

# pymodbus logs every unanswered request at ERROR; availability is logged once per
# device by the poller instead, so keep pymodbus to what it alone can tell.
logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

EXCEPTION_TEXT = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "device failure",
    5: "acknowledge",
    6: "device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target did not respond",
}

_REQUESTS: dict[str, type[ModbusPDU]] = {
    "coils": ReadCoilsRequest,
    "discrete_inputs": ReadDiscreteInputsRequest,
    "holding_registers": ReadHoldingRegistersRequest,
    "input_registers": ReadInputRegistersRequest,
}

Data = list[int] | list[bool]
WritableTable = Literal["coils", "holding_registers"]


class ModbusLink(Protocol):
    """What a Modbus driver needs: read a table range of one unit, write coils or registers."""

    id: str

    async def read(
        self,
        function: Function,
        address: int,
        count: int,
        unit: int,
        *,
        attempts: int | None = None,
        trace: Trace | None = None,
    ) -> Data: ...

    async def write(
        self,
        table: WritableTable,
        address: int,
        values: Sequence[int] | Sequence[bool],
        unit: int,
        *,
        attempts: int | None = None,
        trace: Trace | None = None,
    ) -> None: ...

    async def close(self) -> None: ...

    def health(self) -> dict[str, Any]: ...


def _request(function: Function, address: int, count: int, unit: int) -> ModbusPDU:
    return _REQUESTS[function](dev_id=unit, address=address, count=count)


def write_request(
    table: WritableTable, address: int, values: Sequence[int] | Sequence[bool], unit: int
) -> ModbusPDU:
    """Function 05/15 for coils, 06/16 for registers: the single forms where one value is
    written, since some relay boards implement only those."""
    if not values:
        raise ValueError("nothing to write")
    if table == "coils":
        bits = [bool(v) for v in values]
        if len(bits) == 1:
            return WriteSingleCoilRequest(dev_id=unit, address=address, bits=bits)
        return WriteMultipleCoilsRequest(dev_id=unit, address=address, bits=bits)
    regs = [int(v) for v in values]
    if any(not 0 <= r <= 0xFFFF for r in regs):
        raise ValueError("register values are 0..65535")
    if len(regs) == 1:
        return WriteSingleRegisterRequest(dev_id=unit, address=address, registers=regs)
    return WriteMultipleRegistersRequest(dev_id=unit, address=address, registers=regs)


def exception_error(unit: int, code: int) -> DeviceErrorReply:
    text = EXCEPTION_TEXT.get(code, "unknown exception")
    return DeviceErrorReply(f"unit {unit} answered exception {code:02X} ({text})")


def _values(function: str, pdu: ModbusPDU, count: int) -> Data:
    if function in BIT_FUNCTIONS:
        bits = [bool(b) for b in pdu.bits[:count]]
        if len(bits) < count:
            raise FrameError(f"reply carries {len(bits)} bits, asked {count}")
        return bits
    regs = [int(r) for r in pdu.registers]
    if len(regs) != count:
        raise FrameError(f"reply carries {len(regs)} registers, asked {count}")
    return regs


# --- RTU over a SerialBus ---------------------------------------------------------------


# The longest RTU ADU: unit, 253 bytes of PDU, CRC.
MAX_ADU = 256


class RtuMatcher(Matcher[ModbusPDU]):
    """The reply of ``unit``; other units' frames are skipped.

    pymodbus's decoder stops at the first plausible frame start; one that began more than
    `MAX_ADU` bytes ago would be complete and decided by now, so only that tail is kept
    (and rescanned) while waiting.
    """

    def __init__(self, unit: int) -> None:
        self.unit = unit
        self.framer = FramerRTU(DecodePDU(False))
        self._buf = bytearray()

    def reset(self) -> None:
        self._buf.clear()

    @property
    def noisy(self) -> bool:
        return bool(self._buf)

    def feed(self, chunk: bytes) -> ModbusPDU | None:
        self._buf += chunk
        while self._buf:
            buf = bytes(self._buf)
            used, dev_id, _tid, data = self.framer.decode(buf)
            if not data:
                if used and used == len(buf):  # pymodbus consumes everything on a bad CRC
                    raise FrameError(f"RTU reply fails its CRC: {buf[:32].hex(' ')}")
                del self._buf[:-MAX_ADU]
                return None
            start = buf.find(bytes([dev_id]) + data)
            del self._buf[: start + len(data) + 3]
            if dev_id != self.unit:
                continue
            pdu = self.framer.decoder.decode(data)
            if pdu is None:
                raise FrameError(f"undecodable RTU reply: {buf[:32].hex(' ')}")
            pdu.dev_id = dev_id
            return pdu
        return None


def build_rtu_request(function: Function, address: int, count: int, unit: int) -> bytes:
    return rtu_frame(_request(function, address, count, unit))


def rtu_frame(pdu: ModbusPDU) -> bytes:
    return FramerRTU(DecodePDU(False)).buildFrame(pdu)


class _Requests(ABC):
    """Reads and writes as PDUs; a transport only says how one request is carried."""

    async def read(
        self,
        function: Function,
        address: int,
        count: int,
        unit: int,
        *,
        attempts: int | None = None,
        trace: Trace | None = None,
    ) -> Data:
        pdu = await self._execute(_request(function, address, count, unit), unit, attempts, trace)
        return _values(function, pdu, count)

    async def write(
        self,
        table: WritableTable,
        address: int,
        values: Sequence[int] | Sequence[bool],
        unit: int,
        *,
        attempts: int | None = None,
        trace: Trace | None = None,
    ) -> None:
        await self._execute(write_request(table, address, values, unit), unit, attempts, trace)

    @abstractmethod
    async def _execute(
        self, request: ModbusPDU, unit: int, attempts: int | None, trace: Trace | None
    ) -> ModbusPDU:
        """Send one request to `unit` and return its (non-exception) reply."""


class ModbusRtuLink(_Requests):
    """Modbus RTU units on a serial line shared through its `SerialBus`."""

    def __init__(self, bus: SerialBus) -> None:
        self.bus = bus
        self.id = bus.id

    async def _execute(
        self, request: ModbusPDU, unit: int, attempts: int | None, trace: Trace | None
    ) -> ModbusPDU:
        frame = rtu_frame(request)
        ex = await self.bus.transact(frame, RtuMatcher(unit), attempts=attempts, trace=trace)
        pdu: ModbusPDU = ex.value
        if isinstance(pdu, ExceptionResponse) or pdu.isError():
            raise exception_error(unit, pdu.exception_code)
        return pdu

    async def close(self) -> None:
        await self.bus.close()

    def health(self) -> dict[str, Any]:
        return self.bus.health()


# --- TCP -------------------------------------------------------------------------------------


@dataclass
class TcpStats:
    transactions: int = 0
    answered: int = 0
    timeouts: int = 0
    exceptions: int = 0
    retries: int = 0
    port_errors: int = 0


class ModbusTcpLink(_Requests):
    """One Modbus TCP endpoint: a sensor, or a gateway to an RS-485 line of units.

    Requests are serialised (most gateways have one serial line behind them) and
    the connection is made on demand and kept across unanswered requests.
    """

    def __init__(self, config: ModbusTcpBusConfig) -> None:
        self.config = config
        self.id = config.id
        self.client = AsyncModbusTcpClient(
            config.host,
            port=config.port,
            timeout=config.timeout_s,
            retries=0,
            reconnect_delay=0,
            name=config.id,
            trace_packet=self._packet,
        )
        self.client.set_max_no_responses(1 << 30)
        self.lock = asyncio.Lock()
        self.stats = TcpStats()
        self._error: str | None = None
        self._failed_at = 0.0
        self._trace: Trace | None = None
        self._rx = b""

    def _packet(self, sending: bool, data: bytes) -> bytes:
        """pymodbus's hook on the real ADU bytes: what it sends, and its receive buffer.

        A request is traced as it is sent. The receive buffer is offered on every arrival
        (growing while a reply is incomplete), so only the last one is kept and traced, cut to
        the MBAP length, once the request is over.
        """
        if self._trace is not None:
            if sending:
                self._trace("tx", data)
            else:
                self._rx = data
        return data

    def _trace_reply(self) -> None:
        rx, self._rx = self._rx, b""
        if self._trace is not None and rx:
            if len(rx) >= 6:  # MBAP: tid, protocol, length (bytes after the length field)
                rx = rx[: 6 + int.from_bytes(rx[4:6], "big")]
            self._trace("rx", rx)

    async def _connect(self) -> None:
        if self.client.connected:
            return
        if self._error and time.monotonic() - self._failed_at < min(self.config.timeout_s, 2.0):
            raise PortError(self._error)
        ok = await self.client.connect()
        if not ok:
            self.stats.port_errors += 1
            self._error = f"cannot connect to {self.config.host}:{self.config.port}"
            self._failed_at = time.monotonic()
            raise PortError(self._error)
        if self._error:
            log.info(
                "bus %s: connected to %s:%d again", self.id, self.config.host, self.config.port
            )
        self._error = None

    async def _execute(
        self, request: ModbusPDU, unit: int, attempts: int | None, trace: Trace | None
    ) -> ModbusPDU:
        tries = max(attempts if attempts is not None else 1 + self.config.retries, 1)
        last: BusError | None = None
        for attempt in range(tries):
            if attempt:
                self.stats.retries += 1
            async with self.lock:  # per attempt, as on a serial line: retries queue behind
                await self._connect()
                self.stats.transactions += 1
                self._trace, self._rx = trace, b""
                try:
                    pdu = await self.client.execute(False, request)
                except ConnectionException as exc:
                    self.stats.port_errors += 1
                    raise PortError(f"{self.config.host}:{self.config.port}: {exc}") from None
                except ModbusIOException:
                    self.stats.timeouts += 1
                    last = BusTimeout(f"unit {unit}: no answer within {self.config.timeout_s}s")
                    continue
                except ModbusException as exc:
                    last = BusError(f"unit {unit}: {exc}")
                    continue
                finally:
                    self._trace_reply()
                    self._trace = None
            if pdu.isError():
                self.stats.exceptions += 1
                raise exception_error(unit, pdu.exception_code)
            self.stats.answered += 1
            return pdu
        assert last is not None
        raise last

    async def close(self) -> None:
        self.client.close()

    def health(self) -> dict[str, Any]:
        return {
            "type": "modbus_tcp",
            "endpoint": f"{self.config.host}:{self.config.port}",
            "connected": self.client.connected,
            "error": self._error,
            **asdict(self.stats),
        }
