"""A babbling line: the receive looks at each byte a bounded number of times and keeps little.

64 KiB of 0x68 (each byte a plausible DL/T 645 frame start) arrive before the reply. The peer is
a real socket or a pty writing those bytes; the reply after them must still be read, and the
matcher must neither rescan what it already rejected nor hold it. Speed lives in
scripts/bench/bus.py (phase 3); here the work is counted in bytes scanned, not seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from pymodbus.framer.rtu import FramerRTU
from pymodbus.pdu import DecodePDU
from pymodbus.pdu.register_message import ReadHoldingRegistersResponse

from edge.codecs import dlt645, framing
from edge.config.buses import SerialBusConfig
from edge.fieldbus.meters import ReplyMatcher, read_dlt645
from edge.fieldbus.modbus import MAX_ADU, RtuMatcher
from edge.fieldbus.serial_bus import SerialBus
from edge.fieldbus.serial_port import KEEP_RECEIVED

ADDRESS = "000000000161"
ENERGY = 0x00010000
BABBLE = b"\x68" * 1024
CHUNKS = 64
REPLY = dlt645.build_data_reply(ADDRESS, ENERGY, bytes([0x56, 0x34, 0x12, 0x00]), preamble=4)


@dataclass(frozen=True, slots=True)
class CountingLayout(framing.Layout[dlt645.Frame]):
    """DL/T 645's layout, counting the bytes every scan is handed."""

    scanned: list[int] = field(default_factory=lambda: [0])

    def scan_span(self, buf: bytes) -> tuple[dlt645.Frame | None, int, int, list[Any]]:
        self.scanned[0] += len(buf)
        return framing.Layout.scan_span(self, buf)


def counting_matcher() -> tuple[ReplyMatcher[dlt645.Frame, dlt645.Reply], list[int]]:
    base = dlt645.LAYOUT
    layout = CountingLayout(
        header_len=base.header_len,
        address_at=base.address_at,
        address_len=base.address_len,
        build=base.build,
        second_start=base.second_start,
    )
    matcher = ReplyMatcher(ADDRESS, layout, dlt645.address_matches, dlt645.decode_reply)
    return matcher, layout.scanned


def test_dlt645_matcher_scans_each_babbled_byte_a_bounded_number_of_times() -> None:
    matcher, scanned = counting_matcher()
    matcher.reset()
    held: list[int] = []
    for _ in range(CHUNKS):
        assert matcher.feed(BABBLE) is None
        held.append(len(matcher._buf))
    reply = matcher.feed(REPLY)
    assert isinstance(reply, dlt645.DataReply) and reply.di == ENERGY
    # Quadratic rescanning would hand the scanner ~2 MiB; incremental scanning hands it each
    # chunk once plus the short tail that may still become a frame (< one max frame).
    received = CHUNKS * len(BABBLE) + len(REPLY)
    assert scanned[0] < received + CHUNKS * 300
    assert max(held) <= dlt645.LAYOUT.min_len + 255


def test_dlt645_matcher_bounds_a_run_of_preamble_bytes() -> None:
    """FE before a 68 is kept as that frame's preamble, but not without end."""
    matcher, _ = counting_matcher()
    matcher.reset()
    for _ in range(CHUNKS):
        matcher.feed(b"\xfe" * 1023 + b"\x68")
        assert len(matcher._buf) <= dlt645.LAYOUT.min_len + 255 + 64
    assert isinstance(matcher.feed(REPLY), dlt645.DataReply)


def test_rtu_matcher_keeps_at_most_one_adu_while_babbled_at() -> None:
    # Unit 42 is no function code, so the last babbled byte and the unit cannot pass for a
    # frame header (RTU has no start byte; a plausible header in noise is decided by its CRC).
    framer = FramerRTU(DecodePDU(True))
    reply = framer.buildFrame(ReadHoldingRegistersResponse(dev_id=42, registers=[1, 2, 0xBEEF]))
    matcher = RtuMatcher(42)
    matcher.reset()
    for _ in range(CHUNKS):
        assert matcher.feed(BABBLE) is None
        assert len(matcher._buf) <= MAX_ADU
    assert matcher.noisy
    pdu = matcher.feed(reply)
    assert pdu is not None and list(pdu.registers) == [1, 2, 0xBEEF]


def test_rtu_matcher_skips_another_units_frame_before_its_own() -> None:
    framer = FramerRTU(DecodePDU(True))
    other = framer.buildFrame(ReadHoldingRegistersResponse(dev_id=3, registers=[9]))
    ours = framer.buildFrame(ReadHoldingRegistersResponse(dev_id=7, registers=[42]))
    matcher = RtuMatcher(7)
    matcher.reset()
    assert matcher.feed(other) is None
    pdu = matcher.feed(ours)
    assert pdu is not None and list(pdu.registers) == [42]


# --- the whole exchange against a babbling peer ---------------------------------------------


Babbler = Callable[[], contextlib.AbstractAsyncContextManager[str]]


@contextlib.asynccontextmanager
async def socket_babbler() -> AsyncIterator[str]:
    async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(64)  # the request
        for _ in range(CHUNKS):
            writer.write(BABBLE)
            await writer.drain()
            await asyncio.sleep(0)  # separate writes, so chunks arrive apart
        writer.write(REPLY)
        await writer.drain()
        with contextlib.suppress(ConnectionError):
            await reader.read(64)
        writer.close()

    server = await asyncio.start_server(peer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"socket://127.0.0.1:{port}"
    finally:
        server.close()


@contextlib.asynccontextmanager
async def pty_babbler() -> AsyncIterator[str]:
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    loop = asyncio.get_running_loop()

    async def write_all(data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(master, view) :]
            except BlockingIOError:
                ready = loop.create_future()
                loop.add_writer(master, ready.set_result, None)
                try:
                    await ready
                finally:
                    loop.remove_writer(master)

    async def peer() -> None:
        ready: asyncio.Future[None] = loop.create_future()

        def readable() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(master, readable)
        try:
            await ready
        finally:
            loop.remove_reader(master)
        os.read(master, 64)
        for _ in range(CHUNKS):
            await write_all(BABBLE)
        await write_all(REPLY)

    task = asyncio.create_task(peer())
    try:
        yield os.ttyname(slave)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        os.close(master)
        os.close(slave)


@pytest.mark.parametrize("babbler", [socket_babbler, pty_babbler], ids=["socket", "pty"])
async def test_a_reply_after_64_kib_of_babble_is_read(babbler: Babbler) -> None:
    async with babbler() as url:
        bus = SerialBus(SerialBusConfig(id="b", type="serial", port=url, timeout_s=20.0, retries=0))
        try:
            frame, payload = await read_dlt645(bus, ADDRESS, ENERGY, attempts=1)
            assert payload == bytes([0x56, 0x34, 0x12, 0x00])
            assert frame.address == ADDRESS
        finally:
            await bus.close()


async def test_the_trace_shows_the_tail_of_what_arrived() -> None:
    seen: list[tuple[str, bytes]] = []
    async with socket_babbler() as url:
        bus = SerialBus(SerialBusConfig(id="b", type="serial", port=url, timeout_s=20.0))
        try:
            await read_dlt645(
                bus, ADDRESS, ENERGY, attempts=1, trace=lambda d, b: seen.append((d, b))
            )
        finally:
            await bus.close()
    (tx, sent), (rx, received) = seen
    assert (tx, rx) == ("tx", "rx") and sent == dlt645.build_read(ADDRESS, ENERGY)
    assert received.endswith(REPLY) and len(received) == KEEP_RECEIVED
