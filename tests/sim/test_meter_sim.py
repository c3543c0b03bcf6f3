"""The meter simulator as a real peer: over TCP sockets and over a pty opened with pyserial."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import serial

from edge.codecs import cjt188, dlt645
from edge.codecs.dlt645 import ErrorFlag, Version
from edge.codecs.errors import ChecksumError
from edge.sim.meters import (
    FaultKind,
    MeterSimulator,
    MeterSpec,
    Protocol,
    SimConfig,
)

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


@pytest.fixture(params=["tcp", "pty"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[tuple[MeterSimulator, Client]]:
    async with MeterSimulator(default_config()) as sim, CLIENTS[request.param](sim) as client:
        yield sim, client


@pytest.fixture
async def tcp_bus() -> AsyncIterator[tuple[MeterSimulator, Client]]:
    async with MeterSimulator(default_config()) as sim, tcp_client(sim) as client:
        yield sim, client


# ---------------------------------------------------------------------------------------------
# Normal answers


async def test_2007_meter_answers_with_plausible_values(bus: tuple[MeterSimulator, Client]) -> None:
    _, client = bus
    reply = await client.read_dlt(E07, ENERGY)
    assert isinstance(reply, dlt645.DataReply) and reply.address == E07
    (energy,) = dlt645.decode_data(reply.di, reply.payload)
    assert energy.unit == "kWh" and energy.value == pytest.approx(1234.56, abs=0.05)

    reply = await client.read_dlt(E07, 0x0201FF00)
    volt_values = dlt645.decode_data(reply.di, reply.payload)
    assert [v.point for v in volt_values] == ["voltage_a", "voltage_b", "voltage_c"]
    volts = floats(volt_values)
    assert all(215 < v < 225 for v in volts)

    reply = await client.read_dlt(E07, 0x0202FF00)
    amps = floats(dlt645.decode_data(reply.di, reply.payload))
    power = await client.read_dlt(E07, 0x02030000)
    (kw,) = floats(dlt645.decode_data(power.di, power.payload))
    assert 1.4 <= kw <= 2.6  # 2 kW ± 30 %
    # P = V·I·pf summed over the phases, within display rounding.
    watts = sum(a * v * 0.95 for a, v in zip(amps, volts, strict=True))
    assert watts / 1000 == pytest.approx(kw, rel=0.02)


async def test_1997_meter_answers(bus: tuple[MeterSimulator, Client]) -> None:
    _, client = bus
    reply = await client.read_dlt(E97, 0x9010, Version.V1997)
    assert isinstance(reply, dlt645.DataReply) and reply.version is Version.V1997
    (energy,) = dlt645.decode_data(reply.di, reply.payload, Version.V1997)
    assert energy.value == pytest.approx(93.64, abs=0.05)


async def test_water_and_heat_meters_answer(bus: tuple[MeterSimulator, Client]) -> None:
    _, client = bus
    await client.send(cjt188.build_read(WATER, 0x10, ser=0x42, di_order=cjt188.DiOrder.LOW_FIRST))
    reply = cjt188.decode_reply(await client.frame(cjt188))
    assert isinstance(reply, cjt188.DataReply)
    assert (reply.address, reply.ser, reply.di_order) == (WATER, 0x42, cjt188.DiOrder.LOW_FIRST)
    assert isinstance(reply.data, cjt188.WaterData)
    assert reply.data.current.unit == "m3"
    assert reply.data.current.value == pytest.approx(12.5, abs=0.05)
    assert reply.data.time is not None
    assert abs((reply.data.time - reply.data.time.now()).total_seconds()) < 5
    assert reply.data.status.valve is cjt188.Valve.OPEN

    await client.send(cjt188.build_read(HEAT, 0x20))
    heat = cjt188.decode_reply(await client.frame(cjt188))
    assert isinstance(heat, cjt188.DataReply) and isinstance(heat.data, cjt188.HeatData)
    assert heat.data.supply_temp is not None and heat.data.return_temp is not None
    assert heat.data.supply_temp > heat.data.return_temp


async def test_cjt188_read_address_with_one_meter_of_the_protocol(
    bus: tuple[MeterSimulator, Client],
) -> None:
    sim, client = bus
    sim.bus.meters.pop(HEAT)  # leave one CJ/T 188 meter (the DL/T 645 ones do not listen)
    await client.send(cjt188.build_read_address(ser=3))
    reply = cjt188.decode_reply(await client.frame(cjt188))
    assert reply == cjt188.AddressReply(0x10, WATER, 3)


async def test_meters_answer_only_requests_addressed_to_them(
    tcp_bus: tuple[MeterSimulator, Client],
) -> None:
    sim, client = tcp_bus
    # Nobody at this address; a 1997 frame to the 2007 meter; a gas-type frame to a water meter.
    await client.send(dlt645.build_read("000000000999", ENERGY))
    await client.send(dlt645.build_read(E07, 0x9010, Version.V1997))
    await client.send(cjt188.build_read(WATER, 0x30))
    await client.send(dlt645.build_read(E07, ENERGY, preamble=0)[:-2] + b"\x00\x16")  # bad CS
    await client.send(dlt645.encode(dlt645.Frame(dlt645.BROADCAST_ADDRESS, 0x08, bytes(6))))
    reply = await client.read_dlt(E07, ENERGY)  # the first thing that comes back
    assert isinstance(reply, dlt645.DataReply) and reply.address == E07
    assert sim.stats.unaddressed == 4  # the bad-CS frame never reached the meters
    assert sim.stats.requests == 5


async def test_unknown_di_gets_error_reply(tcp_bus: tuple[MeterSimulator, Client]) -> None:
    _, client = tcp_bus
    reply = await client.read_dlt(E07, 0x00440000)
    assert isinstance(reply, dlt645.ErrorReply)
    assert reply.errors == ErrorFlag.NO_DATA


async def test_energy_and_volume_drift_upward() -> None:
    clock = FakeClock()
    async with MeterSimulator(default_config(), clock=clock) as sim, tcp_client(sim) as client:
        readings: list[float] = []
        volumes: list[float | None] = []
        for _ in range(3):
            reply = await client.read_dlt(E07, ENERGY)
            readings += floats(dlt645.decode_data(reply.di, reply.payload))
            await client.send(cjt188.build_read(WATER, 0x10))
            water = cjt188.decode_reply(await client.frame(cjt188))
            assert isinstance(water, cjt188.DataReply)
            assert isinstance(water.data, cjt188.WaterData)
            volumes.append(water.data.current.value)
            clock.now += 3600
    # One simulated hour at a mean of 2 kW and 0.4 m³/h each time.
    assert readings[0] == pytest.approx(1234.56, abs=0.01)
    assert [b - a for a, b in itertools.pairwise(readings)] == pytest.approx([2.0, 2.0], abs=0.02)
    flows = [v for v in volumes if v is not None]
    assert [b - a for a, b in itertools.pairwise(flows)] == pytest.approx([0.4, 0.4], abs=0.02)


async def test_broadcast_read_address_with_one_meter() -> None:
    config = default_config(meters=[MeterSpec("181226034194")])
    async with MeterSimulator(config) as sim, tcp_client(sim) as client:
        await client.send(dlt645.build_read_address())
        reply = dlt645.decode_reply(await client.frame(dlt645))
        assert reply == dlt645.AddressReply("181226034194")
        # The wildcard also works for ordinary reads when one meter is on the bus.
        data = await client.read_dlt(dlt645.WILDCARD_ADDRESS, ENERGY)
        assert isinstance(data, dlt645.DataReply) and data.address == "181226034194"


async def test_broadcast_read_address_with_two_meters_collides() -> None:
    config = default_config(meters=[MeterSpec("181226034194"), MeterSpec("000000000001")])
    async with MeterSimulator(config) as sim, tcp_client(sim) as client:
        await client.send(dlt645.build_read_address())
        garbage = await client.raw(4 + 18)  # both replies overlapped, as long as one
        assert dlt645.find_frame(garbage)[0] is None
        assert sim.stats.collisions == 1


async def test_1997_wildcard_quirk_echoes_wildcard_address() -> None:
    config = default_config(meters=[MeterSpec(E97, Protocol.DLT645_1997, echo_wildcard=True)])
    async with MeterSimulator(config) as sim, tcp_client(sim) as client:
        reply = await client.read_dlt(dlt645.WILDCARD_ADDRESS, 0x9010, Version.V1997)
        assert isinstance(reply, dlt645.DataReply)
        assert reply.address == dlt645.WILDCARD_ADDRESS


async def test_long_block_comes_as_follow_on_frames() -> None:
    config = default_config(meters=[MeterSpec(E07, max_data_len=12)])
    async with MeterSimulator(config) as sim, tcp_client(sim) as client:
        di = 0x0001FF00
        first = await client.read_dlt(E07, di)
        assert isinstance(first, dlt645.DataReply) and first.more
        parts = [first.payload]
        seq = 1
        more = True
        while more:
            await client.send(dlt645.build_read_follow(E07, di, seq))
            reply = dlt645.decode_reply(await client.frame(dlt645))
            assert isinstance(reply, dlt645.DataReply) and reply.seq == seq
            parts.append(reply.payload)
            more = reply.more
            seq += 1
        values = dlt645.decode_data(di, b"".join(parts))
    assert seq > 2
    total, *rates = floats(values)
    assert len(rates) == 4
    assert sum(rates) == pytest.approx(total, abs=0.011)


# ---------------------------------------------------------------------------------------------
# Faults (each over TCP and over the pty)


async def test_fault_silent(bus: tuple[MeterSimulator, Client]) -> None:
    sim, client = bus
    sim.set_fault(E07, "silent")
    await client.send(dlt645.build_read(E07, ENERGY))
    await client.send(cjt188.build_read(WATER, 0x10))
    assert (await client.frame(cjt188)).address == WATER  # nothing came before it
    assert sim.stats.faults["silent"] == 1
    sim.set_fault(E07, "none")
    assert isinstance(await client.read_dlt(E07, ENERGY), dlt645.DataReply)


async def test_fault_late_does_not_hold_up_the_bus(bus: tuple[MeterSimulator, Client]) -> None:
    sim, client = bus
    sim.set_fault(E07, FaultKind.LATE, delay_s=0.4)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await client.send(dlt645.build_read(E07, ENERGY))
    await client.send(dlt645.build_read(E97, 0x9010, Version.V1997))
    first = await client.frame(dlt645)
    second = await client.frame(dlt645)
    elapsed = loop.time() - start
    assert (first.address, second.address) == (E97, E07)
    assert elapsed >= 0.4


async def test_fault_garbled(bus: tuple[MeterSimulator, Client]) -> None:
    sim, client = bus
    sim.set_fault(E07, "garbled")
    await client.send(dlt645.build_read(E07, ENERGY))
    noise = await client.raw(4 + 12 + 8)  # as long as the real reply
    assert dlt645.find_frame(noise)[0] is None
    sim.set_fault(E07, "none")
    client.buf.clear()
    assert isinstance(await client.read_dlt(E07, ENERGY), dlt645.DataReply)


async def test_fault_bad_checksum(bus: tuple[MeterSimulator, Client]) -> None:
    sim, client = bus
    sim.set_fault(E07, "bad_checksum")
    sim.set_fault(WATER, "bad_checksum")
    await client.send(dlt645.build_read(E07, ENERGY))
    with pytest.raises(ChecksumError):
        dlt645.parse(await client.raw(4 + 12 + 8))
    await client.send(cjt188.build_read(WATER, 0x10))
    with pytest.raises(ChecksumError):
        cjt188.parse(await client.raw(2 + 13 + 22))


async def test_fault_error_reply(bus: tuple[MeterSimulator, Client]) -> None:
    sim, client = bus
    sim.set_fault(E07, "error_reply", error_bits=int(ErrorFlag.UNAUTHORIZED))
    reply = await client.read_dlt(E07, ENERGY)
    assert isinstance(reply, dlt645.ErrorReply)
    assert reply.texts == ["密码错/未授权"]
    sim.set_fault(E97, "error_reply", error_bits=0x02)
    reply97 = await client.read_dlt(E97, 0x9010, Version.V1997)
    assert isinstance(reply97, dlt645.ErrorReply) and reply97.texts == ["数据标识错"]
    sim.set_fault(WATER, "error_reply", error_bits=0x0003)
    await client.send(cjt188.build_read(WATER, 0x10, ser=9))
    water = cjt188.decode_reply(await client.frame(cjt188))
    assert isinstance(water, cjt188.ErrorReply) and water.ser == 9
    assert water.status is not None and water.status.valve is cjt188.Valve.ABNORMAL


# ---------------------------------------------------------------------------------------------
# Wire timing, pyserial URL, config and CLI


async def test_wire_time_is_emulated_at_the_configured_baud() -> None:
    async with MeterSimulator(default_config(baud=2400)) as sim, tcp_client(sim) as client:
        request = dlt645.build_read(E07, ENERGY)  # 4 + 16 bytes
        loop = asyncio.get_running_loop()
        start = loop.time()
        await client.send(request)
        await client.frame(dlt645)
        elapsed = loop.time() - start
    expected = (len(request) + 4 + 20) * 11 / 2400
    assert expected <= elapsed < expected + 1.0


async def test_pyserial_socket_url_reaches_the_tcp_server() -> None:
    async with MeterSimulator(default_config()) as sim:
        host, port = await sim.start_tcp()

        def transact() -> bytes:
            with serial.serial_for_url(f"socket://{host}:{port}", timeout=2) as link:
                link.write(dlt645.build_read(E07, ENERGY))
                return bytes(link.read(24))

        raw = await asyncio.to_thread(transact)
    reply = dlt645.decode_reply(dlt645.parse(raw))
    assert isinstance(reply, dlt645.DataReply) and reply.address == E07


async def test_pty_survives_client_reopening() -> None:
    async with MeterSimulator(default_config()) as sim:
        path = await sim.start_pty()
        for _ in range(2):
            port = serial.Serial(path, 9600, parity=serial.PARITY_EVEN, timeout=2)
            try:
                await asyncio.to_thread(port.write, dlt645.build_read(E07, ENERGY))
                raw = await asyncio.to_thread(port.read, 24)
            finally:
                port.close()
            assert dlt645.parse(raw).address == E07


def test_config_from_dict_and_errors(tmp_path: Path) -> None:
    config = SimConfig.from_dict(
        {
            "baud": 9600,
            "meters": [
                {"address": "161", "protocol": "dlt645-2007", "fault": "silent"},
                {
                    "address": WATER,
                    "protocol": "cjt188",
                    "di_order": "low_first",
                    "fault": {"kind": "late", "delay_s": 2},
                },
            ],
        }
    )
    assert config.meters[0].address == E07
    assert config.meters[0].fault.kind is FaultKind.SILENT
    assert config.meters[1].fault.delay_s == 2.0
    assert config.meters[1].di_order is cjt188.DiOrder.LOW_FIRST
    for bad in (
        {"meters": [{"address": "161", "colour": "red"}]},
        {"meters": [{"address": "AAAAAAAA0161"}]},
        {"meters": [{"address": "161"}, {"address": "000000000161"}]},
        {"meters": [{"address": "161", "protocol": "modbus"}]},
        {"bauds": 1},
    ):
        with pytest.raises(ValueError):
            SimConfig.from_dict(bad)


SPEC = """
meters:
  - address: "000000000161"
    protocol: dlt645-2007
    energy_kwh: 42.5
  - address: "000000000162"
    protocol: dlt645-2007
    fault: error_reply
"""


async def test_cli_prints_port_and_serves(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "edge.sim.meters",
        "--tcp",
        "127.0.0.1:0",
        "--meters",
        str(spec),
        stdout=asyncio.subprocess.PIPE,
        cwd=REPO,
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(20):
            line = (await proc.stdout.readline()).decode()
        kind, endpoint = line.split()
        assert kind == "tcp"
        host, port = endpoint.rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        buf = dlt645.FrameReader()
        frames: list[dlt645.Frame] = []
        writer.write(dlt645.build_read(E07, ENERGY) + dlt645.build_read("162", ENERGY))
        async with asyncio.timeout(5):
            while len(frames) < 2:
                frames += buf.feed(await reader.read(256))
        writer.close()
        ok, err = (dlt645.decode_reply(f) for f in frames)
        assert isinstance(ok, dlt645.DataReply)
        assert dlt645.decode_data(ok.di, ok.payload)[0].value == pytest.approx(42.5, abs=0.05)
        assert isinstance(err, dlt645.ErrorReply)
    finally:
        proc.terminate()
        async with asyncio.timeout(10):
            assert await proc.wait() == 0


def test_cli_rejects_bad_spec(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("meters:\n  - {address: '161', colour: red}\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "edge.sim.meters", "--tcp", "127.0.0.1:0", "--meters", str(spec)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 2
    assert "colour" in done.stderr


async def test_meter_clock_skew_is_visible_to_the_master() -> None:
    """Drivers measure each meter's skew; the simulator must be able to have one."""
    config = default_config(meters=[MeterSpec(E07, clock_offset_s=-600)])
    async with MeterSimulator(config) as sim, tcp_client(sim) as client:
        date_reply = await client.read_dlt(E07, 0x04000101)
        time_reply = await client.read_dlt(E07, 0x04000102)
    (date,) = dlt645.decode_data(date_reply.di, date_reply.payload)
    (clock,) = dlt645.decode_data(time_reply.di, time_reply.payload)
    meter_now = dt.datetime.fromisoformat(f"{date.value}T{clock.value}")
    skew = (meter_now - dt.datetime.now()).total_seconds()
    assert -605 < skew < -595 or -605 < skew + 86400 < -595  # a midnight between the two reads
