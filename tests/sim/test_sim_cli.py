"""`edge sim field`: the demo's simulated field devices, read with the maintainer commands."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from edge.cli.main import main


@pytest.fixture
def field() -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    proc = subprocess.Popen(
        # --uhppote-port 0: not the demo's fixed UDP 15003, which another run may hold.
        [
            sys.executable,
            "-m",
            "edge",
            "sim",
            "field",
            "--meters-port",
            "0",
            "--modbus-port",
            "0",
            "--uhppote-port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert proc.stdout is not None
    lines: list[str] = []
    while not (lines and lines[-1].startswith("modbus tcp")):
        line = proc.stdout.readline()
        assert line, f"simulator exited: {proc.communicate(timeout=5)}"
        lines.append(line.rstrip("\n"))
    while True:  # the unit lines follow the modbus line
        line = proc.stdout.readline().rstrip("\n")
        lines.append(line)
        if line.startswith("  unit 4"):
            break
    yield proc, lines
    if proc.poll() is None:
        proc.kill()
        proc.wait(5)


def test_sim_field_serves_the_demos_meters_and_sensors_until_signalled(
    field: tuple[subprocess.Popen[str], list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    proc, lines = field
    meters = next(line for line in lines if line.startswith("meters tcp")).split()[-1]
    sensors = next(line for line in lines if line.startswith("modbus tcp")).split()[-1]
    assert "  meter 000000000161 dlt645-2007" in lines
    assert any(line.startswith("  unit 1 ") for line in lines)
    rc = main(["meter", "read", "--port", f"socket://{meters}", "--addr", "000000000161"])
    assert rc == 0 and "energy_active_forward_total" in capsys.readouterr().out
    rc = main(["modbus", "read", "--url", f"tcp://{sensors}", "--unit", "1", "--register", "0",
               "--function", "discrete_inputs", "--count", "2"])  # fmt: skip
    assert rc == 0 and capsys.readouterr().out.splitlines()[0].split()[1] in ("True", "False")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0


def test_sim_field_says_when_its_port_is_taken(
    field: tuple[subprocess.Popen[str], list[str]],
) -> None:
    _, lines = field
    taken = next(line for line in lines if line.startswith("meters tcp")).split()[-1]
    port = taken.rpartition(":")[2]
    second = subprocess.run(
        [
            sys.executable,
            "-m",
            "edge",
            "sim",
            "field",
            "--meters-port",
            port,
            "--modbus-port",
            "0",
            "--uhppote-port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert second.returncode == 1
    assert second.stderr.startswith("error: ") and "address already in use" in second.stderr
