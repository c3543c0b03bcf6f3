"""`edge bus scan` on simulated lines: colliding meters split, both DL/T 645 editions and CJ/T 188 by default, Modbus units."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from edge.cli.main import main
from edge.sim.meters import MeterSimulator, MeterSpec, Protocol, SimConfig
from edge.sim.modbus import ModbusSimulator, SensorSpec


async def run(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


@pytest.mark.slow
async def test_scan_splits_colliding_meters_and_finds_both_editions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # 161 and 1161 share their low byte: the probe AA..AA61 makes both answer at once.
    meters = [
        MeterSpec("000000000161"),
        MeterSpec("000000001161"),
        MeterSpec("000000000162"),
        MeterSpec("000000060507", Protocol.DLT645_1997),
        MeterSpec("00201809230001", Protocol.CJT188),
    ]
    async with MeterSimulator(SimConfig(meters=meters)) as sim:
        host, port = await sim.start_tcp()
        rc = await run("bus", "scan", "--port", f"socket://{host}:{port}", "--timeout", "0.05")
        assert sim.stats.collisions >= 2  # read-address, then the shared low byte
    out, err = capsys.readouterr()
    assert rc == 0
    assert out.splitlines() == [
        "dlt645-2007 000000000161",
        "dlt645-2007 000000000162",
        "dlt645-2007 000000001161",
        "dlt645-1997 000000060507",
        "cjt188 00201809230001",
    ]
    assert "read-address: several meters answered at once; probing" in err


@pytest.fixture
async def rtu_line() -> AsyncIterator[str]:
    sensors = [SensorSpec(1, "smoke_detector"), SensorSpec(2, "water_level")]
    async with ModbusSimulator(sensors) as sim:
        host, port = await sim.start_tcp(rtu=True)
        yield f"socket://{host}:{port}"


async def test_scan_lists_the_modbus_units_that_answer(
    rtu_line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = await run("bus", "scan", "--port", rtu_line, "--no-meters", "--modbus", "--units", "1-4",
                   "--timeout", "0.2", "--parity", "N")  # fmt: skip
    out, err = capsys.readouterr()
    assert rc == 0
    assert [line.split()[:3] for line in out.splitlines()] == [
        ["modbus", "unit", "1"],
        ["modbus", "unit", "2"],
    ]
    assert "4/4" in err


async def test_scan_says_when_nothing_answers(
    rtu_line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = await run("bus", "scan", "--port", rtu_line, "--no-meters", "--modbus", "--units", "7",
                   "--timeout", "0.1")  # fmt: skip
    assert rc == 1 and "nothing answered" in capsys.readouterr().err


@pytest.mark.parametrize("units", ["0-300", "9-3", "x"])
async def test_scan_refuses_a_bad_unit_range(
    units: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = await run("bus", "scan", "--port", "socket://127.0.0.1:1", "--modbus", "--units", units)
    assert rc == 2 and "--units" in capsys.readouterr().err


async def test_scan_of_a_missing_port_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert await run("bus", "scan", "--port", "/dev/ttyNOPE7") == 2
    assert "does not exist" in capsys.readouterr().err
