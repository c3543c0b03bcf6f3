#!/usr/bin/env python3
"""Bench: polls per second on one simulated 9600-baud line with 32 DL/T 645 meters.

Phase 1 saturates the line (every meter polls again as soon as its poll ends)
and compares polls/s with the wire limit: request + reply bytes at 11 bits per
byte (8E1) plus the meter's turnaround and our inter-frame gap. Phase 2 makes
one meter silent and measures what it costs everyone else, against the target
of at most one timeout per backoff period of that meter. Phase 3 has a babbling line
(64 KiB of 0x68, each a plausible frame start, in 1 KiB chunks) before the reply and
prints the CPU the receive costs: it must grow with the bytes, not with their square.

    .venv/bin/python scripts/bench/bus.py [--seconds 8] [--babble-only]
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


BABBLE_BYTES = 64 * 1024
BABBLE_CHUNK = 1024
BABBLE_CEILING_CPU_S = 0.5  # 3.2 s before the receive scanned incrementally


async def babble() -> float:
    """CPU seconds of one read whose reply follows 64 KiB of 0x68 in 1 KiB chunks."""
    address = "000000000161"
    reply = dlt645.build_data_reply(address, DI, b"\x00\x00\x00\x00", preamble=4)

    async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(64)
        for _ in range(BABBLE_BYTES // BABBLE_CHUNK):
            writer.write(b"\x68" * BABBLE_CHUNK)
            await writer.drain()
            await asyncio.sleep(0.001)  # the peer paces its chunks so they arrive apart
        writer.write(reply)
        await writer.drain()
        await reader.read(64)
        writer.close()

    server = await asyncio.start_server(peer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    bus = SerialBus(
        SerialBusConfig(
            id="babble", type="serial", port=f"socket://127.0.0.1:{port}", timeout_s=30.0
        )
    )
    try:
        cpu = time.process_time()
        await read_dlt645_values(bus, address, DI, attempts=1)
        return time.process_time() - cpu
    finally:
        await bus.close()
        server.close()


async def main(seconds: float, babble_only: bool) -> int:
    cpu = await babble()
    print(
        f"babbling line: {cpu:.2f} s CPU to receive {BABBLE_BYTES // 1024} KiB of 0x68 in "
        f"{BABBLE_CHUNK} B chunks before the reply (ceiling {BABBLE_CEILING_CPU_S} s)"
    )
    if babble_only:
        return 0 if cpu <= BABBLE_CEILING_CPU_S else 1
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
    ok = share >= 0.9 and per_period <= TIMEOUT_S + per_poll_s and cpu <= BABBLE_CEILING_CPU_S
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--babble-only", action="store_true", help="only phase 3")
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.seconds, args.babble_only)))
