"""The maintainer commands against simulators in their own processes (the daemon stopped)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from edge.cli.main import main


def _serve(args: list[str], scheme: str) -> Iterator[str]:
    """Run a simulator module until the module's tests are done; yields its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert proc.stdout is not None
    endpoint = proc.stdout.readline().split()[-1]
    yield f"{scheme}://{endpoint}"
    proc.terminate()
    proc.wait(5)


@pytest.fixture(scope="module")
def meters() -> Iterator[str]:
    yield from _serve(["edge.sim.meters", "--tcp", "127.0.0.1:0"], "socket")


@pytest.fixture(scope="module")
def sensors() -> Iterator[str]:
    yield from _serve(["edge.sim.modbus", "--port", "0"], "tcp")


def test_meter_read_prints_the_decoded_value_and_frames(
    meters: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["meter", "read", "--port", meters, "--addr", "000000000161", "-v"])
    out, err = capsys.readouterr()
    assert rc == 0
    assert "energy_active_forward_total" in out and "kWh" in out
    assert "→ FE FE FE FE 68 61 01 00 00 00 00 68 11 04 33 33 34 33" in err
    assert "← " in err
    rc = main(
        ["meter", "read", "--port", meters, "--addr", "00201809230001", "--protocol", "cjt188"]
    )
    assert rc == 0 and "flow_total" in capsys.readouterr().out


def test_meter_read_says_when_nobody_answers_or_the_port_is_missing(
    meters: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["meter", "read", "--port", meters, "--addr", "000000000999", "--timeout", "0.2"]
    assert main(args) == 1
    assert "no answer within 0.20s (check the address" in capsys.readouterr().err
    assert main(["meter", "read", "--port", "/dev/ttyNOPE3", "--addr", "1"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_a_port_held_by_someone_else_is_reported_busy(capsys: pytest.CaptureFixture[str]) -> None:
    import serial

    master, slave = os.openpty()
    holder = serial.Serial(os.ttyname(slave), exclusive=True)
    try:
        assert main(["meter", "read", "--port", os.ttyname(slave), "--addr", "1"]) == 1
        assert "busy" in capsys.readouterr().err
    finally:
        holder.close()
        os.close(master)
        os.close(slave)


def test_modbus_read_decodes_a_float(sensors: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(
        ["modbus", "read", "--url", sensors, "--unit", "4", "--register", "0", "--count", "2",
         "--function", "input_registers", "--type", "int16", "--scale", "0.1"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0 and out.startswith("    0:")
    humidity, temperature = (float(x) for x in out.splitlines()[-1].split(":")[1].split(","))
    assert 30 < humidity < 80 and 15 < temperature < 35


@pytest.fixture(scope="module")
def rtu_sensors() -> Iterator[str]:
    yield from _serve(["edge.sim.modbus", "--port", "0", "--rtu"], "socket")


def _frames(err: str) -> tuple[bytes, bytes]:
    """The one request and one reply `-v` printed, as bytes."""
    sent = [bytes.fromhex(line[2:]) for line in err.splitlines() if line.startswith("→ ")]
    got = [bytes.fromhex(line[2:]) for line in err.splitlines() if line.startswith("← ")]
    assert len(sent) == 1 and len(got) == 1, err
    return sent[0], got[0]


def _registers(out: str) -> list[int]:
    return [int(line.split()[1]) for line in out.splitlines() if line.split()[0].endswith(":")]


def test_modbus_read_v_shows_the_real_tcp_adus(
    sensors: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(
        ["modbus", "read", "--url", sensors, "--unit", "4", "--register", "0", "--count", "2",
         "--function", "input_registers", "-v"]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert rc == 0
    sent, got = _frames(err)
    # MBAP: transaction id, protocol 0, length, unit; then the PDU (04 = read input registers).
    assert sent[2:] == bytes.fromhex("0000 0006 04 04 0000 0002")
    assert got[:2] == sent[:2] and got[2:4] == b"\0\0" and got[6:9] == bytes.fromhex("04 04 04")
    assert int.from_bytes(got[4:6], "big") == len(got) - 6
    shown = _registers(out)
    assert shown == [int.from_bytes(got[9 + 2 * k : 11 + 2 * k], "big") for k in range(2)]


def _crc16(data: bytes) -> bytes:
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc.to_bytes(2, "little")


def test_modbus_read_v_shows_the_real_rtu_frames(
    rtu_sensors: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(
        ["modbus", "read", "--url", rtu_sensors, "--unit", "4", "--register", "0", "--count", "2",
         "--function", "input_registers", "-v"]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert rc == 0
    sent, got = _frames(err)
    assert sent[:-2] == bytes.fromhex("04 04 0000 0002") and sent[-2:] == _crc16(sent[:-2])
    assert got[:3] == bytes.fromhex("04 04 04") and len(got) == 9
    assert got[-2:] == _crc16(got[:-2])
    assert _registers(out) == [int.from_bytes(got[3 + 2 * k : 5 + 2 * k], "big") for k in range(2)]


@pytest.fixture
def rtu_pty(rtu_sensors: str) -> Iterator[str]:
    """A pty whose other end is relayed to pymodbus's RTU server: a serial port for the CLI."""
    import select
    import socket
    import threading
    import tty

    host, _, port = rtu_sensors.removeprefix("socket://").rpartition(":")
    master, slave = os.openpty()
    tty.setraw(slave)
    sock = socket.create_connection((host, int(port)))
    stop = threading.Event()

    def relay() -> None:
        while not stop.is_set():
            ready, _, _ = select.select([master, sock], [], [], 0.05)
            if master in ready:
                sock.sendall(os.read(master, 4096))
            if sock in ready:
                data = sock.recv(4096)
                if not data:
                    return
                os.write(master, data)

    thread = threading.Thread(target=relay, daemon=True)
    thread.start()
    yield os.ttyname(slave)
    stop.set()
    thread.join(5)
    sock.close()
    os.close(master)
    os.close(slave)


def test_modbus_read_v_over_a_serial_port_shows_the_rtu_frames(
    rtu_pty: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(
        ["modbus", "read", "--url", rtu_pty, "--unit", "4", "--register", "0", "--count", "2",
         "--function", "input_registers", "--baud", "9600", "-v"]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert rc == 0, err
    sent, got = _frames(err)
    assert sent == bytes.fromhex("04 04 0000 0002") + _crc16(bytes.fromhex("04 04 0000 0002"))
    assert got[:3] == bytes.fromhex("04 04 04") and got[-2:] == _crc16(got[:-2])
    assert _registers(out) == [int.from_bytes(got[3 + 2 * k : 5 + 2 * k], "big") for k in range(2)]


def test_modbus_read_without_v_prints_no_frames(
    sensors: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["modbus", "read", "--url", sensors, "--unit", "4", "--register", "0"])
    out, err = capsys.readouterr()
    assert rc == 0 and len(_registers(out)) == 1
    assert "→" not in err and "←" not in err


def test_bus_scan_finds_the_meter(meters: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["bus", "scan", "--port", meters, "--timeout", "0.05"])
    out, err = capsys.readouterr()
    assert rc == 0
    assert "dlt645-2007 000000000161" in out
    assert "100/100" in err
