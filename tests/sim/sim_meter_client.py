"""A master on the simulated meter bus, over TCP or a pty, and the bus the tests run.

Shared by the meter simulator's tests (answers, faults, transports): four meters, one of
each protocol, and a client that waits on frames with a deadline instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import serial

from edge.codecs import dlt645
from edge.codecs.dlt645 import Version
from edge.sim.meters import MeterSimulator, MeterSpec, Protocol, SimConfig

REPO = Path(__file__).resolve().parents[2]
E07 = "000000000161"
E97 = "000000060507"
WATER = "00201809230001"
HEAT = "11110012345678"
ENERGY = 0x00010000


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Client:
    """A master on the simulated bus: bytes out, frames in, with a deadline on every wait."""

    def __init__(
        self,
        send: Callable[[bytes], Awaitable[None]],
        read_some: Callable[[], Awaitable[bytes]],
    ) -> None:
        self._send = send
        self._read_some = read_some
        self.buf = bytearray()

    async def send(self, data: bytes) -> None:
        await self._send(data)

    async def frame(self, codec: ModuleType, within: float = 3.0) -> Any:
        async with asyncio.timeout(within):
            while True:
                frame, used, _ = codec.scan(bytes(self.buf))
                if frame is not None:
                    del self.buf[:used]
                    return frame
                self.buf += await self._read_some()

    async def raw(self, n: int, within: float = 3.0) -> bytes:
        async with asyncio.timeout(within):
            while len(self.buf) < n:
                self.buf += await self._read_some()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    async def read_dlt(self, address: str, di: int, version: Version = Version.V2007) -> Any:
        await self.send(dlt645.build_read(address, di, version))
        return dlt645.decode_reply(await self.frame(dlt645))


def floats(values: list[dlt645.Value]) -> list[float]:
    out = [v.value for v in values]
    assert all(isinstance(v, float) for v in out), out
    return [float(v) for v in out if isinstance(v, float)]


def default_config(**kw: Any) -> SimConfig:
    meters = [
        MeterSpec(E07, Protocol.DLT645_2007, energy_kwh=1234.56, power_kw=2.0),
        MeterSpec(E97, Protocol.DLT645_1997, energy_kwh=93.64),
        MeterSpec(WATER, Protocol.CJT188, flow_total_m3=12.5, flow_rate_m3h=0.4),
        MeterSpec(HEAT, Protocol.CJT188, meter_type=0x20),
    ]
    return SimConfig(meters=kw.pop("meters", meters), **kw)


@contextlib.asynccontextmanager
async def tcp_client(sim: MeterSimulator) -> AsyncIterator[Client]:
    host, port = await sim.start_tcp()
    reader, writer = await asyncio.open_connection(host, port)

    async def send(data: bytes) -> None:
        writer.write(data)
        await writer.drain()

    async def read_some() -> bytes:
        data = await reader.read(256)
        if not data:
            raise ConnectionError("simulator closed the connection")
        return data

    try:
        yield Client(send, read_some)
    finally:
        writer.close()
        await writer.wait_closed()


@contextlib.asynccontextmanager
async def pty_client(sim: MeterSimulator) -> AsyncIterator[Client]:
    path = await sim.start_pty()
    port = serial.Serial(path, 9600, parity=serial.PARITY_EVEN, timeout=0.1)

    async def send(data: bytes) -> None:
        await asyncio.to_thread(port.write, data)

    async def read_some() -> bytes:
        return await asyncio.to_thread(lambda: port.read(max(1, port.in_waiting)))

    try:
        yield Client(send, read_some)
    finally:
        port.close()


CLIENTS = {"tcp": tcp_client, "pty": pty_client}
