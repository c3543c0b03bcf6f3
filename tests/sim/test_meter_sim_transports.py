"""The meter simulator's transports and front: wire time, pyserial URLs, the pty, config, CLI."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
import serial
from sim_meter_client import E07, ENERGY, REPO, WATER, default_config, tcp_client

from edge.codecs import cjt188, dlt645
from edge.sim.meters import FaultKind, MeterSimulator, MeterSpec, SimConfig


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
