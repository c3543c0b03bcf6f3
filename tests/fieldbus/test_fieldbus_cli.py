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
    assert "BusTimeout" in capsys.readouterr().err
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


def test_bus_scan_finds_the_meter(meters: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["bus", "scan", "--port", meters, "--timeout", "0.05"])
    out, err = capsys.readouterr()
    assert rc == 0
    assert "dlt645-2007 000000000161" in out
    assert "100/100" in err
