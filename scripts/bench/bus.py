#!/usr/bin/env python3
"""Bench: polls per second on one simulated 9600-baud line with 32 DL/T 645 meters.

Phase 1 saturates the line (every meter polls again as soon as its poll ends)
and compares polls/s with the wire limit: request + reply bytes at 11 bits per
byte (8E1) plus the meter's turnaround and our inter-frame gap. Phase 2 makes
one meter silent and measures what it costs everyone else, against the target
of at most one timeout per backoff period of that meter.

    .venv/bin/python scripts/bench/bus.py [--seconds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from edge.codecs import dlt645
from edge.config.buses import SerialBusConfig
from edge.fieldbus.backoff import Backoff
from edge.fieldbus.errors import BusError
from edge.fieldbus.meters import read_dlt645_values
from edge.fieldbus.serial_bus import SerialBus
from edge.sim.meters import BITS_PER_BYTE, MeterSimulator, MeterSpec, SimConfig

BAUD = 9600
METERS = 32
TURNAROUND_S = 0.010
GAP_S = 0.005
TIMEOUT_S = 0.3
BACKOFF_S = 2.0
DI = 0x00010000


def wire_limit() -> tuple[float, int]:
    request = len(dlt645.build_read("000000000001", DI))
    reply = len(dlt645.build_data_reply("000000000001", DI, b"\x00" * 4, preamble=4))
    per_poll = (request + reply) * BITS_PER_BYTE / BAUD + TURNAROUND_S + GAP_S
    return 1 / per_poll, request + reply


async def phase(seconds: float, dead: str | None) -> dict[str, float]:
    addresses = [f"{k:012d}" for k in range(1, METERS + 1)]
    config = SimConfig([MeterSpec(a) for a in addresses], baud=BAUD, turnaround_s=TURNAROUND_S)
    async with MeterSimulator(config) as sim:
        if dead:
            sim.set_fault(dead, "silent")
        host, port = await sim.start_tcp()
        bus = SerialBus(
            SerialBusConfig(
                id="bench",
                type="serial",
                port=f"socket://{host}:{port}",
                baudrate=BAUD,
                timeout_s=TIMEOUT_S,
                retries=1,
                inter_frame_gap_s=GAP_S,
            )
        )
        polls = dict.fromkeys(addresses, 0)
        attempts_dead = 0
        stop = time.monotonic() + seconds

        async def loop(address: str) -> None:
            nonlocal attempts_dead
            backoff = Backoff(BACKOFF_S, BACKOFF_S)
            while time.monotonic() < stop:
                try:
                    if address == dead:
                        attempts_dead += 1
                    await read_dlt645_values(bus, address, DI, attempts=1 if backoff.down else None)
                    polls[address] += 1
                    backoff.succeeded()
                except BusError:
                    backoff.failed()
                await asyncio.sleep(backoff.delay(0))

        began = time.monotonic()
        await asyncio.gather(*(loop(a) for a in addresses))
        elapsed = time.monotonic() - began
        await bus.close()
        healthy = [n for a, n in polls.items() if a != dead]
        return {
            "elapsed": elapsed,
            "rate": sum(healthy) / elapsed,
            "period": elapsed / (sum(healthy) / len(healthy)),
            "dead_attempts": attempts_dead,
            "timeouts": bus.stats.timeouts,
        }


async def main(seconds: float) -> int:
    limit, nbytes = wire_limit()
    print(f"line: {BAUD} baud 8E1, {METERS} meters, {nbytes} bytes per poll (request + reply),")
    print(f"      turnaround {TURNAROUND_S * 1000:.0f} ms + gap {GAP_S * 1000:.0f} ms")
    print(f"wire limit: {limit:.2f} polls/s")
    healthy = await phase(seconds, None)
    share = healthy["rate"] / limit
    print(
        f"all answer:    {healthy['rate']:.2f} polls/s = {share:.1%} of the wire limit "
        f"(target >= 90%), each meter every {healthy['period']:.2f} s"
    )
    dead = await phase(seconds, f"{METERS:012d}")
    lost_s = (healthy["rate"] - dead["rate"]) / healthy["rate"] * seconds
    periods = seconds / BACKOFF_S
    per_period = lost_s / periods
    per_poll_s = 1 / healthy["rate"]
    # The dead meter's own slot (it no longer takes a healthy poll's time) is given back.
    print(
        f"one silent:    {dead['rate']:.2f} polls/s for the other {METERS - 1}, each every "
        f"{dead['period']:.2f} s; {dead['dead_attempts']} attempts on the dead meter "
        f"in {seconds:.0f} s (backoff {BACKOFF_S:.0f} s)"
    )
    print(
        f"cost of the dead meter: {per_period:.3f} s of line time per backoff period "
        f"(one timeout = {TIMEOUT_S:.3f} s; a healthy poll = {per_poll_s:.3f} s) -> "
        f"{'OK' if per_period <= TIMEOUT_S + per_poll_s else 'OVER'}"
    )
    ok = share >= 0.9 and per_period <= TIMEOUT_S + per_poll_s
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    raise SystemExit(asyncio.run(main(parser.parse_args().seconds)))
